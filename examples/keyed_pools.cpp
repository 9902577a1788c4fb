// Pools per database and user under one process-wide cap: a keyed_pool keyed by (database, user)
// opens a pool per key on first use, and shares the server's max_connections with an admin pool
// through one connection_limit. The server is simulated in-process: it counts its sessions and
// refuses one above max_connections, as PostgreSQL does ("too many clients already").
// connpool-test: run
//
// README.md ("Keyed pools") shows parts of it; the docs_readme test checks that they are this code.
#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The database server: at most max_connections sessions at once.
struct server {
    static constexpr int max_connections = 6;
    std::atomic<int> sessions{0}, most{0}, refused{0};
};

// One session, opened for a database and a user; closed by its destructor.
class session {
public:
    session() = default;
    explicit session(std::shared_ptr<server> s) : srv_(std::move(s)) {}
    session(session&& o) noexcept : srv_(std::move(o.srv_)) {}
    session& operator=(session&&) = delete;
    ~session()
    {
        if (srv_)
            --srv_->sessions;
    }

private:
    std::shared_ptr<server> srv_;
};

struct db_user {  // the key: sessions can only be shared between identical configurations
    std::string database, user;
    bool operator==(const db_user&) const = default;
};
struct db_user_hash {
    std::size_t operator()(const db_user& k) const noexcept
    {
        return std::hash<std::string>{}(k.database) * 31 + std::hash<std::string>{}(k.user);
    }
};

// A keyed factory: async_connect takes the key. Here a 1 ms round trip to the server.
struct session_factory {
    asio::any_io_executor ex;
    std::shared_ptr<server> srv;

    template <class CompletionToken>
    auto async_connect(const db_user& /*who*/, CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(boost::system::error_code, session)>(
            [this](auto handler) {
                auto timer = std::make_shared<asio::steady_timer>(ex, 1ms);
                auto hex = asio::get_associated_executor(handler, ex);
                timer->async_wait(asio::bind_executor(
                    hex, [timer, s = srv, h = std::move(handler)](auto) mutable {
                        if (s->sessions >= server::max_connections) {
                            ++s->refused;
                            return std::move(h)(asio::error::connection_refused, session{});
                        }
                        s->most = std::max(s->most.load(), ++s->sessions);
                        std::move(h)(boost::system::error_code{}, session(s));
                    }));
            },
            token);
    }
};

// The admin pool's factory: the keyed one with its key bound.
struct admin_factory {
    session_factory keyed;
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return keyed.async_connect({"postgres", "admin"}, std::forward<CompletionToken>(token));
    }
};

using app_pool = connpool::keyed_pool<db_user, session, session_factory, std::chrono::steady_clock,
                                      db_user_hash>;

int main()
{
    asio::io_context ctx;
    auto srv = std::make_shared<server>();
    session_factory factory{ctx.get_executor(), srv};

    // The whole process stays within the server's max_connections.
    auto max_connections = std::make_shared<connpool::connection_limit>(server::max_connections);
    // The application's pools, one per (database, user): each at most 3 sessions, all keys
    // together at most 5, under the process-wide cap.
    app_pool app(ctx.get_executor(), factory,
                 {.per_key = {.max_size = 3}, .max_total = 5, .limit = max_connections});
    // An admin pool under the same cap.
    connpool::pool<session, admin_factory> admin(ctx.get_executor(), admin_factory{factory},
                                                 {.max_size = 2, .limit = max_connections});

    auto request = [&](db_user who) -> asio::awaitable<void> {
        auto conn = co_await app.async_acquire(who, asio::use_awaitable);
        co_await asio::steady_timer(ctx, 2ms).async_wait(asio::use_awaitable);  // a query
    };
    auto admin_query = [&]() -> asio::awaitable<void> {
        auto conn = co_await admin.async_acquire(asio::use_awaitable);
        co_await asio::steady_timer(ctx, 2ms).async_wait(asio::use_awaitable);
    };

    const db_user users[] = {
        {"orders", "app"}, {"orders", "report"}, {"billing", "app"}, {"billing", "audit"}};
    int running = 0, failed = 0;
    auto done = [&](std::exception_ptr e) {
        failed += e ? 1 : 0;
        if (--running == 0) {  // open pools keep ctx.run() from returning
            app.close();
            admin.close();
        }
    };
    for (int i = 0; i < 40; ++i) {
        ++running;
        asio::co_spawn(ctx, request(users[i % 4]), done);
        if (i % 8 == 0) {
            ++running;
            asio::co_spawn(ctx, admin_query(), done);
        }
    }
    ctx.run();

    for (const db_user& who : users) {
        const connpool::pool_stats s = app.stats(who);
        std::cout << who.database << "/" << who.user << ": " << s.acquired << " leases, "
                  << s.created << " sessions opened\n";
    }
    std::cout << "keys held: " << app.keys() << ", sessions at most: " << srv->most
              << " (max_connections " << server::max_connections << "), refused: " << srv->refused
              << ", failed requests: " << failed << "\n";
    return failed == 0 && srv->refused == 0 && srv->most <= server::max_connections ? 0 : 1;
}
