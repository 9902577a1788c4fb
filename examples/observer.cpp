// An observer on a pool of TCP sessions to a real (loopback) echo server: it logs slow acquires
// and suspected leaks with the call site of their acquire, prepares each new session
// (after_connect: TCP_NODELAY), and refuses to keep a session that comes back with an answer
// left unread (after_return), which would otherwise reach the next borrower.
// connpool-test: run
//
// README.md ("Events and hooks", "Leaks") describes the observer.
#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct tcp_factory {
    asio::any_io_executor ex;
    tcp::endpoint server;

    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        using signature = void(boost::system::error_code, tcp::socket);
        return asio::async_initiate<CompletionToken, signature>(
            [this](auto handler) {
                auto socket = std::make_shared<tcp::socket>(ex);
                auto slot = asio::get_associated_cancellation_slot(handler);
                auto hex = asio::get_associated_executor(handler, ex);
                auto done = [socket, h = std::move(handler)](boost::system::error_code e) mutable {
                    std::move(h)(e, std::move(*socket));
                };
                socket->async_connect(server, asio::bind_cancellation_slot(
                                                  slot, asio::bind_executor(hex, std::move(done))));
            },
            token);
    }
};

// Thread-safe (its members may run on several threads at once) and quick (it must not block).
class session_observer : public connpool::pool_observer<tcp::socket> {
public:
    void on_acquire(const connpool::acquire_event& e) override
    {
        if (e.error || e.wait > 20ms)
            log() << "acquire at " << e.where << ": waited "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(e.wait).count() << " ms"
                  << (e.error ? ", failed: " + e.error.message() : std::string()) << '\n';
    }
    void on_leak_suspected(const connpool::leak_event& e) override
    {
        log() << "leak? a session held for "
              << std::chrono::duration_cast<std::chrono::milliseconds>(e.held).count()
              << " ms, acquired at " << e.where << '\n';
        ++leaks;
    }
    void on_destroyed(connpool::destroy_cause c) override
    {
        if (c == connpool::destroy_cause::vetoed)
            ++vetoed;
    }

    // A new session: prepare it (here a socket option; a database would set session variables).
    connpool::error_code after_connect(tcp::socket& s) override
    {
        boost::system::error_code ec;
        s.set_option(tcp::no_delay(true), ec);
        return ec;  // an error fails the connect: retried with the backoff
    }
    // A session that comes back with bytes still unread is in the middle of an exchange.
    bool after_return(tcp::socket& s) override
    {
        boost::system::error_code ec;
        return s.available(ec) == 0 && !ec;
    }

    std::atomic<int> leaks = 0, vetoed = 0;

private:
    struct locked_line {
        std::unique_lock<std::mutex> lk;
        template <class T>
        locked_line& operator<<(const T& v)
        {
            std::clog << v;
            return *this;
        }
    };
    locked_line log() { return {std::unique_lock(mtx_)}; }
    std::mutex mtx_;
};

using session_pool = connpool::pool<tcp::socket, tcp_factory>;

asio::awaitable<void> echo_server(tcp::acceptor& acceptor)
{
    for (;;) {
        auto s = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(
            acceptor.get_executor(),
            [s = std::move(s)]() mutable -> asio::awaitable<void> {
                char data[64];
                for (;;) {
                    auto n = co_await s.async_read_some(asio::buffer(data), asio::use_awaitable);
                    co_await asio::async_write(s, asio::buffer(data, n), asio::use_awaitable);
                }
            },
            asio::detached);
    }
}

asio::awaitable<void> clients(session_pool& pool, tcp::acceptor& acceptor, bool& ok)
{
    auto ex = co_await asio::this_coro::executor;
    char reply[16];
    {
        // A clean exchange: the session goes back to the pool.
        auto s = co_await pool.async_acquire(asio::use_awaitable);
        co_await asio::async_write(*s, asio::buffer("ping", 4), asio::use_awaitable);
        co_await asio::async_read(*s, asio::buffer(reply, 4), asio::use_awaitable);
    }
    {
        // Half an exchange: 4 bytes of the answer are left unread; after_return refuses it.
        auto s = co_await pool.async_acquire(asio::use_awaitable);
        co_await asio::async_write(*s, asio::buffer("pingpong", 8), asio::use_awaitable);
        co_await asio::async_read(*s, asio::buffer(reply, 4), asio::use_awaitable);
        asio::steady_timer settle(ex, 20ms);  // let the rest of the answer arrive
        co_await settle.async_wait(asio::use_awaitable);
    }
    {
        // Held too long: past leak_threshold, reported with this line as its call site.
        auto s = co_await pool.async_acquire(asio::use_awaitable);
        asio::steady_timer hold(ex, 300ms);
        co_await hold.async_wait(asio::use_awaitable);
        const connpool::pool_stats st = pool.stats();
        std::cout << "leases overdue: " << st.leases_overdue << ", the oldest acquired at "
                  << st.oldest_lease_where << '\n';
        ok = st.leases_overdue == 1 && st.oldest_lease_where.known();
    }
    pool.close();
    acceptor.close();
}

int main()
{
    asio::io_context ctx;
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(ctx, echo_server(acceptor), asio::detached);

    auto observer = std::make_shared<session_observer>();
    session_pool pool(ctx.get_executor(),
                      tcp_factory{ctx.get_executor(), acceptor.local_endpoint()},
                      {.max_size = 2, .leak_threshold = 100ms}, observer);
    bool ok = false;
    asio::co_spawn(ctx, clients(pool, acceptor, ok), [](std::exception_ptr e) {
        if (e)
            std::rethrow_exception(e);
    });
    ctx.run();

    const connpool::pool_stats st = pool.stats();
    std::cout << "sessions opened: " << st.created << ", refused on return: " << st.destroyed_vetoed
              << ", leaks reported: " << observer->leaks << '\n';
    return ok && st.destroyed_vetoed == 1 && observer->vetoed == 1 && observer->leaks == 1 ? 0 : 1;
}
