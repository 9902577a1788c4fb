// connpool quick start: two pooled TCP connections shared by twelve coroutines.
// connpool-test: run
//
// README.md's quick start is this program without the echo server and the statistics: the
// docs_readme test checks that every line of it appears here, in the same order.
#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <iostream>
#include <optional>
#include <stdexcept>
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

struct echo_connection {  // make_coro_factory wants it default-constructible
    std::optional<tcp::socket> socket;
};

asio::awaitable<void> client(auto& pool, std::string msg)
{
    auto conn = co_await pool.async_acquire(asio::use_awaitable);  // a pooled<echo_connection>
    if (conn->socket->get_executor() != pool.get_executor())       // (a check, not in the README)
        throw std::logic_error("the socket lives on the pool's strand, not on ctx's executor");
    co_await asio::async_write(*conn->socket, asio::buffer(msg), asio::use_awaitable);
    std::string reply(msg.size(), ' ');
    co_await asio::async_read(*conn->socket, asio::buffer(reply), asio::use_awaitable);
    std::cout << "echo: " << reply;
}  // the lease gives the connection back to the pool here

int main()
{
    asio::io_context ctx;
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(ctx, echo_server(acceptor), asio::detached);
    tcp::endpoint server = acceptor.local_endpoint();  // the echo server

    // The socket lives on ctx's executor, as the pool does, not on the executor the lambda runs
    // on: that one (this_coro::executor) is the pool's internal strand, and a socket bound to it
    // would run the completions of all the connections' I/O one at a time.
    auto factory = connpool::make_coro_factory(
        [ex = ctx.get_executor(), server]() -> asio::awaitable<echo_connection> {
            tcp::socket socket(ex);  // not co_await this_coro::executor: see above
            co_await socket.async_connect(server, asio::use_awaitable);
            co_return echo_connection{std::move(socket)};
        });
    connpool::pool<echo_connection, decltype(factory)> pool(ctx.get_executor(), factory,
                                                            {.max_size = 2});

    int running = 12;  // 12 clients share 2 connections
    for (int id = 0; id < 12; ++id) {
        std::string msg = "hello from client " + std::to_string(id) + "\n";
        asio::co_spawn(ctx, client(pool, std::move(msg)), [&](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
            if (--running == 0) {  // all clients done: print stats, stop the pool and the server
                auto s = pool.stats();
                std::cout << "connections opened: " << s.created << ", leases: " << s.acquired
                          << "\n";
                pool.close();  // an open pool keeps ctx.run() from returning
                acceptor.close();
            }
        });
    }
    ctx.run();
}
