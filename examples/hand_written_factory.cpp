// A hand-written factory: async_connect as one async_initiate call, the socket on the pool's
// executor, the completion through the handler's associated executor and cancellation slot.
// connpool-test: run
//
// README.md ("The factory") shows tcp_factory; the docs_readme test checks that it is this one.
#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;

struct tcp_factory {
    asio::any_io_executor ex;  // the executor the pool was constructed with: sockets live here
    tcp::endpoint server;

    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)  // completes with void(error_code, tcp::socket)
    {
        using signature = void(boost::system::error_code, tcp::socket);
        return asio::async_initiate<CompletionToken, signature>(
            [this](auto handler) {
                auto socket = std::make_shared<tcp::socket>(ex);
                auto slot = asio::get_associated_cancellation_slot(handler);  // connect_timeout
                auto hex = asio::get_associated_executor(handler, ex);        // the pool's strand
                auto done = [socket, h = std::move(handler)](boost::system::error_code e) mutable {
                    std::move(h)(e, std::move(*socket));
                };
                socket->async_connect(server, asio::bind_cancellation_slot(
                                                  slot, asio::bind_executor(hex, std::move(done))));
            },
            token);
    }
};

int main()
{
    asio::io_context ctx;
    // An echo server; its acceptor on a strand, as two threads run ctx.
    tcp::acceptor acceptor(asio::make_strand(ctx), {asio::ip::make_address("127.0.0.1"), 0});
    auto session = [](tcp::socket s) -> asio::awaitable<void> {
        for (char data[64];;) {
            auto n = co_await s.async_read_some(asio::buffer(data), asio::use_awaitable);
            co_await asio::async_write(s, asio::buffer(data, n), asio::use_awaitable);
        }
    };
    std::function<void()> accept = [&] {
        acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
            if (ec)
                return;
            asio::co_spawn(asio::make_strand(ctx), session(std::move(s)), asio::detached);
            accept();
        });
    };
    accept();

    connpool::pool<tcp::socket, tcp_factory> pool(
        ctx.get_executor(), tcp_factory{ctx.get_executor(), acceptor.local_endpoint()},
        {.max_size = 2});

    // Eight callback chains on two threads share two connections.
    std::atomic<int> running = 8, echoes = 0;
    for (int i = 0; i < 8; ++i) {
        pool.async_acquire([&](boost::system::error_code ec, auto conn) {
            if (ec)
                throw boost::system::system_error(ec, "acquire");
            if (conn->get_executor() != pool.get_executor())
                throw std::logic_error("the socket lives on the pool's strand");
            auto lease = std::make_shared<decltype(conn)>(std::move(conn));
            auto buf = std::make_shared<std::string>("ping\n");
            asio::async_write(**lease, asio::buffer(*buf), [&, lease, buf](auto wec, auto) {
                if (wec)
                    throw boost::system::system_error(wec, "write");
                asio::async_read(**lease, asio::buffer(*buf), [&, lease, buf](auto rec, auto) {
                    if (rec || *buf != "ping\n")
                        throw std::runtime_error("no echo");
                    ++echoes;
                    lease->release();
                    if (--running == 0) {
                        pool.close();  // an open pool keeps ctx.run() from returning
                        asio::post(acceptor.get_executor(), [&] { acceptor.close(); });
                    }
                });
            });
        });
    }
    std::thread second([&] { ctx.run(); });
    ctx.run();
    second.join();
    std::cout << "echoes: " << echoes << ", connections opened: " << pool.stats().created << "\n";
    return echoes == 8 ? 0 : 1;
}
