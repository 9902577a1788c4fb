// connpool quick start: two pooled TCP connections shared by four coroutines.
// connpool-test: run
#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

// The toy echo server the pool connects to.
asio::awaitable<void> echo_server(tcp::acceptor& acceptor)
{
    auto session = [](tcp::socket s) -> asio::awaitable<void> {
        for (char data[512];;) {
            auto n = co_await s.async_read_some(asio::buffer(data), asio::use_awaitable);
            co_await asio::async_write(s, asio::buffer(data, n), asio::use_awaitable);
        }
    };
    for (;;)
        asio::co_spawn(acceptor.get_executor(),
                       session(co_await acceptor.async_accept(asio::use_awaitable)),
                       asio::detached);
}

// A connection. make_coro_factory wants it default-constructible, hence the optional.
struct echo_connection {
    std::optional<tcp::socket> socket;
};

asio::awaitable<void> client(auto& pool, int id)
{
    for (int i = 0; i < 3; ++i) {
        auto conn = co_await pool.async_acquire(asio::use_awaitable);  // a pooled<echo_connection>
        std::string msg = "hello from client " + std::to_string(id) + "\n", reply(msg.size(), ' ');
        co_await asio::async_write(*conn->socket, asio::buffer(msg), asio::use_awaitable);
        co_await asio::async_read(*conn->socket, asio::buffer(reply), asio::use_awaitable);
        std::cout << "echo: " << reply;
    }  // each lease gives its connection back to the pool when it goes out of scope
}

int main()
{
    asio::io_context ctx;
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(ctx, echo_server(acceptor), asio::detached);

    auto factory = connpool::make_coro_factory(  // how to open one connection
        [ep = acceptor.local_endpoint()]() -> asio::awaitable<echo_connection> {
            tcp::socket socket(co_await asio::this_coro::executor);
            co_await socket.async_connect(ep, asio::use_awaitable);
            co_return echo_connection{std::move(socket)};
        });
    connpool::pool<echo_connection, decltype(factory)> pool(ctx.get_executor(), factory,
                                                            {.max_size = 2});

    int running = 4;
    for (int id = 0; id < 4; ++id) {
        asio::co_spawn(ctx, client(pool, id), [&](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
            if (--running == 0) {  // all clients done: print stats, stop the pool and the server
                auto s = pool.stats();
                std::cout << "connections opened: " << s.created << ", leases: " << s.acquired
                          << "\n";
                pool.close();
                acceptor.close();
            }
        });
    }
    ctx.run();
}
