// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_INTEGRATION_PG_SUPPORT_HPP
#define CONNPOOL_TESTS_INTEGRATION_PG_SUPPORT_HPP

/// \file pg_support.hpp
/// What the PostgreSQL integration tests share: the servers' coordinates (environment variables
/// exported by scripts/lib/pg.sh), a blocking superuser session for pg_stat_activity and
/// pg_terminate_backend, the server control command, and a driver that runs a coroutine on an
/// io_context with a bound against hangs.

#include <connpool/postgres.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace connpool::test::pg {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// An environment variable the postgres stage of scripts/test.sh exports; fails the test with a
/// clear message when it is missing (the tests never skip silently).
inline std::string required_env(const char* name)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        FAIL(name << " is not set: the PostgreSQL integration tests need the servers that "
                     "`scripts/test.sh postgres` starts (scripts/lib/pg.sh)");
    return v;
}

/// The test role over TCP, with an application_name that tells this test's backends apart.
inline std::string conninfo(const std::string& application_name)
{
    return required_env("CONNPOOL_PG_CONNINFO") + " application_name=" + application_name;
}

inline std::string pgbouncer_conninfo(const std::string& application_name)
{
    return required_env("CONNPOOL_PGBOUNCER_CONNINFO") + " application_name=" + application_name;
}

/// "restart", "stop" or "start" the server (pg_ctl -m fast, waiting until done).
inline void server_ctl(const std::string& action)
{
    const std::string cmd = required_env("CONNPOOL_PG_CTL") + " " + action;
    const int rc = std::system(cmd.c_str());
    REQUIRE(rc == 0);
}

/// Starts the server again at the end of a test that stopped it, even when the test fails.
struct server_restorer {
    bool stopped = false;
    ~server_restorer()
    {
        if (stopped) {
            const std::string cmd = required_env("CONNPOOL_PG_CTL") + " start";
            [[maybe_unused]] const int rc = std::system(cmd.c_str());
        }
    }
};

/// A blocking superuser session over the Unix socket (libpq's PQexec), for what tests observe
/// or do from outside the pool. Reconnects after a server restart.
class admin_session {
public:
    admin_session() : conninfo_(required_env("CONNPOOL_PG_ADMIN_CONNINFO")) {}
    admin_session(const admin_session&) = delete;
    admin_session& operator=(const admin_session&) = delete;
    ~admin_session()
    {
        if (conn_)
            PQfinish(conn_);
    }

    /// Runs `sql`; returns the first column of every row. Fails the test on an error.
    std::vector<std::string> query(const std::string& sql)
    {
        ensure_connected();
        postgres::result r(PQexec(conn_, sql.c_str()));
        if (r.status() != PGRES_TUPLES_OK && r.status() != PGRES_COMMAND_OK) {
            const std::string msg = PQerrorMessage(conn_);
            PQfinish(conn_);
            conn_ = nullptr;
            FAIL("admin query failed: " << sql << ": " << msg);
        }
        std::vector<std::string> out;
        for (int i = 0; i < r.rows(); ++i)
            out.emplace_back(r.value(i, 0));
        return out;
    }

    /// Backend PIDs of the client backends whose application_name is `app`.
    std::vector<int> backends(const std::string& app)
    {
        std::vector<int> pids;
        for (const auto& s : query("SELECT pid FROM pg_stat_activity WHERE application_name = '" +
                                   app + "' AND backend_type = 'client backend'"))
            pids.push_back(std::stoi(s));
        return pids;
    }

    /// pg_terminate_backend(pid), then waits until the backend is gone.
    void terminate(int pid)
    {
        const auto n = std::to_string(pid);
        query("SELECT pg_terminate_backend(" + n + ")");
        const auto deadline = clock::now() + 10s;
        while (clock::now() < deadline) {
            if (query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + n).at(0) == "0")
                return;
            std::this_thread::sleep_for(2ms);
        }
        FAIL("backend " << pid << " still there 10 s after pg_terminate_backend");
    }

private:
    void ensure_connected()
    {
        if (conn_ && PQstatus(conn_) == CONNECTION_OK)
            return;
        if (conn_)
            PQfinish(conn_);
        conn_ = PQconnectdb(conninfo_.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) {
            const std::string msg = PQerrorMessage(conn_);
            PQfinish(conn_);
            conn_ = nullptr;
            FAIL("admin connection failed: " << msg);
        }
    }

    std::string conninfo_;
    PGconn* conn_ = nullptr;
};

/// Runs `aw` on `ctx` (in this thread) until it completes, at most `limit`; rethrows what it
/// threw (a failed REQUIRE inside it fails the test).
template <class Awaitable>
void run(asio::io_context& ctx, Awaitable aw, std::chrono::seconds limit = 60s)
{
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e) {
        done = true;
        error = e;
    });
    const auto deadline = clock::now() + limit;
    while (!done && clock::now() < deadline) {
        if (ctx.stopped())
            ctx.restart();
        ctx.run_one_for(20ms);
    }
    REQUIRE(done);  // a hang
    if (error)
        std::rethrow_exception(error);
}

/// Sleeps in a coroutine (polling intervals; never a substitute for a condition).
inline asio::awaitable<void> pause(std::chrono::milliseconds d)
{
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// Runs a blocking function on its own thread; the coroutine waits (polling) until it is done,
/// so the io_context keeps serving the pool meanwhile.
template <class Fn>
asio::awaitable<void> off_thread(Fn fn)
{
    std::atomic<bool> finished{false};
    std::exception_ptr error;
    std::thread t([&] {
        try {
            fn();
        } catch (...) {
            error = std::current_exception();
        }
        finished.store(true, std::memory_order_release);
    });
    while (!finished.load(std::memory_order_acquire))
        co_await pause(5ms);
    t.join();
    if (error)
        std::rethrow_exception(error);
}

/// Polls `pred` every few milliseconds until it holds or `limit` passes. Returns pred().
template <class Pred>
asio::awaitable<bool> eventually(Pred pred, std::chrono::milliseconds limit = 10s)
{
    const auto deadline = clock::now() + limit;
    while (!pred()) {
        if (clock::now() > deadline)
            co_return pred();
        co_await pause(2ms);
    }
    co_return true;
}

inline std::chrono::milliseconds since(clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0);
}

}  // namespace connpool::test::pg

#endif
