// EXPECT: member named is_healthy.*bool is_healthy\(const Connection&\)
// is_healthy taking a non-const connection cannot be called on the const connection the pool
// passes, so health checks would silently be off: the pool must reject it.
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
    bool is_healthy(const int& c) const { return c != 0; }
#else
    bool is_healthy(int& c) const { return c != 0; }
#endif
};

int main()
{
    boost::asio::io_context ctx;
    connpool::pool<int, bad_factory> pool(ctx.get_executor(), bad_factory{});
    (void)pool;
}
