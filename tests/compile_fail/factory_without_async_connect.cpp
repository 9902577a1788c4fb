// EXPECT: async_connect
// A factory with no async_connect is not a connection_factory: pool<int, bad_factory> must be
// rejected by the concept, and the diagnostic must name the missing member.
#include <connpool/pool.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <utility>

struct bad_factory {
#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    // The control: the same program with the member present compiles.
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
#endif
};

int main()
{
    boost::asio::io_context ctx;
    connpool::pool<int, bad_factory> pool(ctx.get_executor(), bad_factory{});
    (void)pool;
}
