// A user's program: include the public header, plug in a factory, lend and return a connection.
#include <connpool/pool.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

namespace {

struct connection {
    std::string name;
};

struct factory {
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken,
                                           void(boost::system::error_code, connection)>(
            [](auto handler) {
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(boost::system::error_code{}, connection{"consumer"});
                });
            },
            token);
    }
};

}  // namespace

int main()
{
    boost::asio::io_context ctx;
    connpool::pool<connection, factory> pool(ctx.get_executor(), factory{},
                                             connpool::pool_options{.max_size = 1});
    bool ok = false;
    pool.async_acquire([&](boost::system::error_code ec, auto handle) {
        ok = !ec && handle && handle->name == "consumer";
        handle.release();
        pool.close();
    });
    ctx.run_for(std::chrono::seconds(10));  // this tests packaging, not shutdown: never hang
    std::puts(ok ? "consumer: ok" : "consumer: FAILED");
    return ok ? 0 : 1;
}
