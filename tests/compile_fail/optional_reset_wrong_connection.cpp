// EXPECT: member named async_reset.*async_reset\(Connection&, CompletionToken&&\)
// A factory whose async_reset takes another connection type would silently never reset
// returned connections: the pool must reject it and name the signature it expects.
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
    template <class CompletionToken>
    auto async_reset(int&, CompletionToken&& token)
#else
    template <class CompletionToken>
    auto async_reset(long&, CompletionToken&& token)
#endif
    {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
            [](auto handler) {
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(boost::system::error_code{});
                });
            },
            token);
    }
};

int main()
{
    boost::asio::io_context ctx;
    connpool::pool<int, bad_factory> pool(ctx.get_executor(), bad_factory{});
    (void)pool;
}
