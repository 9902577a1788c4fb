// EXPECT: member named is_permanent_error.*is_permanent_error\(const error_code&\) const
// is_permanent_error must be callable on a const factory; a non-const one would silently never
// classify a connect error as permanent: the pool must reject it.
#include <connpool/pool.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <utility>

struct bad_factory {
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, int)>(
            [](auto handler) {
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(boost::system::error_code{}, 42);
                });
            },
            token);
    }

#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    bool is_permanent_error(const boost::system::error_code& ec) const { return ec.value() == 1; }
#else
    bool is_permanent_error(const boost::system::error_code& ec) { return ec.value() == 1; }
#endif
};

int main()
{
    boost::asio::io_context ctx;
    connpool::pool<int, bad_factory> pool(ctx.get_executor(), bad_factory{});
    (void)pool;
}
