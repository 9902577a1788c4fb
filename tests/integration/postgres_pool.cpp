// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// connpool::pool with connpool::postgres against a real PostgreSQL 15 server and PgBouncer:
// load, killed backends, restarts, a stopped server, max_connections, session state, PgBouncer
// transaction pooling, bad credentials.

#include "pg_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <set>
#include <string>

using namespace connpool::test::pg;
namespace postgres = connpool::postgres;
using connpool::error_code;
using pg_pool = postgres::pool<>;

namespace {

pg_pool make_pool(asio::io_context& ctx, const std::string& ci, connpool::pool_options opts,
                  postgres::factory_options fopts = {})
{
    return pg_pool(ctx.get_executor(), postgres::factory(ctx.get_executor(), ci, std::move(fopts)),
                   opts);
}

// Every error seen where only connection errors are allowed; the first one's text.
struct error_log {
    std::size_t unexpected = 0;
    std::string first;
    void expect_connection_error(const error_code& ec, const char* where)
    {
        if (postgres::is_connection_error(ec))
            return;
        if (unexpected++ == 0)
            first = std::string(where) + ": " + ec.message();
    }
};

}  // namespace

TEST_CASE("200 coroutines x 50 queries through a pool of 8 all succeed on at most 8 backends",
          "[postgres][pool][load]")
{
    asio::io_context ctx;
    const std::string app = "connpool_it_load";
    auto pool = make_pool(ctx, conninfo(app), {.max_size = 8, .acquire_timeout = 30s});
    constexpr int coroutines = 200, queries = 50;
    int succeeded = 0, wrong = 0, remaining = coroutines;
    std::string first_error;
    std::size_t most_backends = 0, polls = 0;

    auto worker = [&](int id) -> asio::awaitable<void> {
        for (int q = 0; q < queries; ++q) {
            auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
            if (!ec) {
                postgres::params args{std::to_string(id * queries + q)};
                auto [qec, r] = co_await conn->async_query("SELECT $1::int", std::move(args),
                                                           asio::as_tuple(asio::use_awaitable));
                ec = qec;
                if (!ec && r.value(0, 0) == std::to_string(id * queries + q))
                    ++succeeded;
                else if (!ec)
                    ++wrong;
            }
            if (ec && first_error.empty())
                first_error = ec.message();
        }
    };

    run(ctx, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // The monitor: its own connection (the superuser's, outside the pool).
        auto monitor = co_await postgres::connection::async_connect(
            ex, required_env("CONNPOOL_PG_ADMIN_CONNINFO"), asio::use_awaitable);
        for (int i = 0; i < coroutines; ++i)
            asio::co_spawn(ex, worker(i), [&](std::exception_ptr) { --remaining; });
        while (remaining > 0) {
            postgres::params args{app};
            auto r = co_await monitor.async_query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                std::move(args), asio::use_awaitable);
            most_backends =
                std::max<std::size_t>(most_backends, std::stoul(std::string(r.value(0, 0))));
            ++polls;
            co_await pause(1ms);
        }
    }());

    INFO(first_error);
    CHECK(succeeded == coroutines * queries);
    CHECK(wrong == 0);
    CHECK(polls >= 5);          // the monitor watched the run
    CHECK(most_backends >= 1);  // and saw the pool's backends (the filter works)
    CHECK(most_backends <= 8);  // never more than max_size
    const auto st = pool.stats();
    CHECK(st.created <= 8);
    CHECK(st.size <= 8);
    CHECK(st.acquired == static_cast<std::uint64_t>(coroutines * queries));
}

TEST_CASE("a backend killed while idle is replaced before it is lent; the caller sees no error",
          "[postgres][pool][kill]")
{
    asio::io_context ctx;
    admin_session admin;
    auto pool = make_pool(ctx, conninfo("connpool_it_kill_idle"),
                          {.max_size = 2, .acquire_timeout = 5s, .validation_interval = 0ms});
    run(ctx, [&]() -> asio::awaitable<void> {
        int old_pid = 0;
        {
            auto conn = co_await pool.async_acquire(asio::use_awaitable);
            old_pid = conn->backend_pid();
            co_await conn->async_query("SELECT 1", asio::use_awaitable);
        }
        REQUIRE(co_await eventually([&] { return pool.stats().idle == 1; }));
        admin.terminate(old_pid);

        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        REQUIRE(!ec);
        auto [qec, r] = co_await conn->async_query("SELECT pg_backend_pid()",
                                                   asio::as_tuple(asio::use_awaitable));
        INFO(conn->last_diagnostics().text);
        REQUIRE(!qec);
        CHECK(std::string(r.value(0, 0)) != std::to_string(old_pid));
        CHECK(pool.stats().destroyed_broken == 1);  // the killed one, found by validation
    }());
}

TEST_CASE("a backend killed while lent fails the query with a connection error, is destroyed on "
          "return, and the next lease works",
          "[postgres][pool][kill]")
{
    asio::io_context ctx;
    admin_session admin;
    auto pool =
        make_pool(ctx, conninfo("connpool_it_kill_lent"), {.max_size = 1, .acquire_timeout = 5s});
    run(ctx, [&]() -> asio::awaitable<void> {
        auto conn = co_await pool.async_acquire(asio::use_awaitable);
        const int old_pid = conn->backend_pid();
        admin.terminate(old_pid);

        auto [ec, r] = co_await conn->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
        INFO(ec.message() << " / " << conn->last_diagnostics().text);
        CHECK(postgres::is_connection_error(ec));
        CHECK(!conn->is_healthy());
        conn.release();  // no invalidate(): the pool sees is_healthy() == false
        REQUIRE(co_await eventually([&] { return pool.stats().destroyed_broken == 1; }));

        auto next = co_await pool.async_acquire(asio::use_awaitable);
        auto ok = co_await next->async_query("SELECT pg_backend_pid()", asio::use_awaitable);
        CHECK(std::string(ok.value(0, 0)) != std::to_string(old_pid));
    }());
}

TEST_CASE("a server restart under load: no acquire hangs, every failure is a connection error "
          "within its deadline, the pool serves again, clear() discards every old backend",
          "[postgres][pool][restart]")
{
    asio::io_context ctx;
    admin_session admin;
    const auto deadline = 2s;
    auto loaded = make_pool(ctx, conninfo("connpool_it_restart_a"),
                            {.max_size = 4,
                             .acquire_timeout = deadline,
                             .connect_timeout = 2s,
                             .validation_interval = 0ms,
                             .backoff_initial = 20ms,
                             .backoff_max = 200ms});
    // Idle through the restart, never validated: only clear() keeps its dead connections out.
    auto idle = make_pool(ctx, conninfo("connpool_it_restart_b"),
                          {.min_size = 3,
                           .max_size = 3,
                           .acquire_timeout = 5s,
                           .validation_interval = std::chrono::hours(1),
                           .keepalive_interval = 0ms,
                           .backoff_initial = 20ms,
                           .backoff_max = 200ms});
    std::size_t served = 0, acquires = 0, late = 0;
    error_log errors;
    bool stop = false;
    int workers = 12;

    auto worker = [&]() -> asio::awaitable<void> {
        while (!stop) {
            const auto t0 = clock::now();
            auto [ec, conn] = co_await loaded.async_acquire(asio::as_tuple(asio::use_awaitable));
            ++acquires;
            if (since(t0) > deadline + 1s)  // a bound against hangs on a busy machine
                ++late;
            if (ec) {
                errors.expect_connection_error(ec, "acquire");
                co_await pause(5ms);
                continue;
            }
            auto [qec, r] =
                co_await conn->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
            if (qec)
                errors.expect_connection_error(qec, "query");
            else
                ++served;
        }
    };

    run(ctx, [&]() -> asio::awaitable<void> {
        REQUIRE(co_await eventually([&] { return idle.stats().idle == 3; }));
        const auto old_pids = admin.backends("connpool_it_restart_b");
        REQUIRE(old_pids.size() == 3);

        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < 12; ++i)
            asio::co_spawn(ex, worker(), [&](std::exception_ptr) { --workers; });
        REQUIRE(co_await eventually([&] { return served >= 200; }));

        co_await off_thread([] { server_ctl("restart"); });
        const std::size_t served_at_restart = served;
        CHECK(co_await eventually([&] { return served >= served_at_restart + 200; }, 10s));
        stop = true;
        REQUIRE(co_await eventually([&] { return workers == 0; }, 3 * deadline));

        idle.clear();
        std::vector<connpool::pooled<postgres::connection>> leases;
        for (int i = 0; i < 3; ++i)
            leases.push_back(co_await idle.async_acquire(asio::use_awaitable));
        for (auto& lease : leases) {
            CHECK(std::find(old_pids.begin(), old_pids.end(), lease->backend_pid()) ==
                  old_pids.end());
            auto [qec, r] =
                co_await lease->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
            CHECK(!qec);
        }
    }());

    INFO(errors.first);
    CHECK(errors.unexpected == 0);
    CHECK(late == 0);
    CHECK(acquires > 0);
}

TEST_CASE("a stopped server: acquires fail within their deadline with the connect error; the pool "
          "recovers within the backoff cap once the server is back",
          "[postgres][pool][stop]")
{
    asio::io_context ctx;
    server_restorer restorer;
    const auto backoff_max = 200ms;
    auto pool = make_pool(ctx, conninfo("connpool_it_stop"),
                          {.max_size = 2,
                           .acquire_timeout = 1s,
                           .connect_timeout = 1s,
                           .validation_interval = 0ms,
                           .backoff_initial = 20ms,
                           .backoff_max = backoff_max});
    run(ctx, [&]() -> asio::awaitable<void> {
        {
            auto conn = co_await pool.async_acquire(asio::use_awaitable);
            co_await conn->async_query("SELECT 1", asio::use_awaitable);
        }
        REQUIRE(co_await eventually([&] { return pool.stats().idle == 1; }));

        co_await off_thread([] { server_ctl("stop"); });
        restorer.stopped = true;

        for (int i = 0; i < 3; ++i) {
            const auto t0 = clock::now();
            auto [ec, conn] = co_await pool.async_acquire(std::chrono::milliseconds(700),
                                                          asio::as_tuple(asio::use_awaitable));
            const auto took = since(t0);
            INFO(ec.message());
            CHECK(ec == postgres::client_errc::connection_failed);  // not a bare acquire_timeout
            CHECK(ec != connpool::errc::acquire_timeout);
            CHECK(took <= 700ms + 1s);  // the deadline, not a hang
        }
        CHECK(pool.stats().last_connect_error == postgres::client_errc::connection_failed);
        CHECK(pool.factory().last_connect_diagnostics().text.find("refused") != std::string::npos);

        co_await off_thread([] { server_ctl("start"); });
        restorer.stopped = false;
        const auto started = clock::now();
        bool recovered = false;
        while (!recovered && since(started) < 10s) {
            auto [ec, conn] = co_await pool.async_acquire(std::chrono::milliseconds(100),
                                                          asio::as_tuple(asio::use_awaitable));
            if (!ec) {
                auto [qec, r] =
                    co_await conn->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
                recovered = !qec;
            }
        }
        const auto took = since(started);
        CHECK(recovered);
        INFO("recovered " << took.count() << " ms after the server started");
        CHECK(took <= backoff_max + 1s);  // the next retry, plus a connect on a busy machine
    }());
}

TEST_CASE("a server at max_connections: the pool reports 53300, retries with backoff, and "
          "recovers when slots free up",
          "[postgres][pool][max_connections]")
{
    asio::io_context ctx;
    const std::string ci = conninfo("connpool_it_hog");
    struct hogs_t {
        std::vector<PGconn*> conns;
        ~hogs_t() { release(); }
        void release()
        {
            for (auto* c : conns)
                PQfinish(c);
            conns.clear();
        }
    } hogs;
    std::string refusal;
    for (int i = 0; i < 64 && refusal.empty(); ++i) {
        PGconn* c = PQconnectdb(ci.c_str());
        if (PQstatus(c) == CONNECTION_OK) {
            hogs.conns.push_back(c);
        } else {
            refusal = PQerrorMessage(c);
            PQfinish(c);
        }
    }
    INFO(refusal);
    REQUIRE(!refusal.empty());  // the server is full
    REQUIRE(!hogs.conns.empty());

    auto pool = make_pool(ctx, conninfo("connpool_it_max_conn"),
                          {.max_size = 2,
                           .acquire_timeout = 1s,
                           .connect_timeout = 2s,
                           .backoff_initial = 20ms,
                           .backoff_max = 200ms});
    run(ctx, [&]() -> asio::awaitable<void> {
        const auto too_many = postgres::make_sqlstate_error("53300");
        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        CHECK(ec == too_many);
        CHECK(pool.stats().last_connect_error == too_many);
        const auto d = pool.factory().last_connect_diagnostics();
        CHECK(d.sqlstate == "53300");
        CHECK(!d.message.empty());
        CHECK(!pool.factory().is_permanent_error(too_many));
        // Retried (with backoff), not given up on.
        CHECK(co_await eventually([&] { return pool.stats().connect_failures >= 3; }, 5s));

        hogs.release();
        const auto t0 = clock::now();
        auto [ec2, conn2] = co_await pool.async_acquire(std::chrono::milliseconds(3000),
                                                        asio::as_tuple(asio::use_awaitable));
        INFO(ec2.message());
        REQUIRE(!ec2);
        CHECK(since(t0) < 3s);
        auto r = co_await conn2->async_query("SELECT 1", asio::use_awaitable);
        CHECK(std::string(r.value(0, 0)) == "1");
    }());
}

TEST_CASE("session state never leaks between leases: SET, temp tables and prepared statements are "
          "reset on return",
          "[postgres][pool][reset]")
{
    asio::io_context ctx;
    auto pool = make_pool(ctx, conninfo("connpool_it_reset"), {.max_size = 1});
    run(ctx, [&]() -> asio::awaitable<void> {
        int pid = 0;
        {
            auto conn = co_await pool.async_acquire(asio::use_awaitable);
            pid = conn->backend_pid();
            co_await conn->async_execute("SET statement_timeout = '4321ms'; CREATE TEMP TABLE "
                                         "leak(x int); PREPARE leak_stmt AS SELECT 1",
                                         asio::use_awaitable);
        }
        auto conn = co_await pool.async_acquire(asio::use_awaitable);
        REQUIRE(conn->backend_pid() == pid);  // the same backend: reset, not replaced
        auto timeout = co_await conn->async_query("SHOW statement_timeout", asio::use_awaitable);
        CHECK(std::string(timeout.value(0, 0)) == "0");
        auto temp = co_await conn->async_query("SELECT to_regclass('pg_temp.leak') IS NULL",
                                               asio::use_awaitable);
        CHECK(std::string(temp.value(0, 0)) == "t");
        auto prepared = co_await conn->async_query("SELECT count(*) FROM pg_prepared_statements",
                                                   asio::use_awaitable);
        CHECK(std::string(prepared.value(0, 0)) == "0");
    }());
}

TEST_CASE("a lease returned inside a transaction is rolled back, never handed out mid-transaction",
          "[postgres][pool][reset]")
{
    asio::io_context ctx;
    auto fopts = GENERATE(postgres::factory_options{},                        // DISCARD ALL
                          postgres::factory_options{.reset_statement = ""});  // PgBouncer mode
    INFO("reset statement: '" << fopts.reset_statement << "'");
    auto pool = make_pool(ctx, conninfo("connpool_it_tx"), {.max_size = 1}, fopts);
    run(ctx, [&]() -> asio::awaitable<void> {
        int pid = 0;
        {
            auto conn = co_await pool.async_acquire(asio::use_awaitable);
            pid = conn->backend_pid();
            co_await conn->async_execute("CREATE TABLE IF NOT EXISTS tx_probe(tag text); DELETE "
                                         "FROM tx_probe",
                                         asio::use_awaitable);
            co_await conn->async_execute("BEGIN; INSERT INTO tx_probe VALUES ('uncommitted')",
                                         asio::use_awaitable);
            REQUIRE(conn->transaction_status() == PQTRANS_INTRANS);
        }  // returned with the transaction open
        {
            auto conn = co_await pool.async_acquire(asio::use_awaitable);
            REQUIRE(conn->backend_pid() == pid);
            CHECK(conn->transaction_status() == PQTRANS_IDLE);
            auto n =
                co_await conn->async_query("SELECT count(*) FROM tx_probe", asio::use_awaitable);
            CHECK(std::string(n.value(0, 0)) == "0");  // rolled back, not committed by someone else

            co_await conn->async_execute("BEGIN", asio::use_awaitable);
            auto [ec, r] =
                co_await conn->async_query("SELECT 1 / 0", asio::as_tuple(asio::use_awaitable));
            CHECK(postgres::sqlstate_of(ec) == "22012");
            REQUIRE(conn->transaction_status() == PQTRANS_INERROR);
        }  // returned inside a failed transaction
        auto conn = co_await pool.async_acquire(asio::use_awaitable);
        CHECK(conn->backend_pid() == pid);
        CHECK(conn->transaction_status() == PQTRANS_IDLE);
        auto ok = co_await conn->async_query("SELECT 5", asio::use_awaitable);
        CHECK(std::string(ok.value(0, 0)) == "5");
    }());
}

TEST_CASE("several pools through PgBouncer in transaction mode, more clients than server "
          "connections: every query succeeds",
          "[postgres][pool][pgbouncer]")
{
    asio::io_context ctx;
    constexpr int services = 3, clients = 40, queries = 25;
    std::vector<std::unique_ptr<pg_pool>> pools;
    for (int i = 0; i < services; ++i)
        pools.push_back(std::make_unique<pg_pool>(
            ctx.get_executor(),
            postgres::factory(ctx.get_executor(),
                              pgbouncer_conninfo("connpool_it_bouncer_" + std::to_string(i)),
                              {.reset_statement = ""}),
            connpool::pool_options{.max_size = 4, .acquire_timeout = 20s}));  // 3 x 4 > 4
    int succeeded = 0, remaining = services * clients;
    std::string first_error;

    auto client = [&](pg_pool& pool, int id) -> asio::awaitable<void> {
        for (int q = 0; q < queries; ++q) {
            auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
            if (!ec && q % 5 == 0) {  // a transaction spanning several statements
                auto [e1, r1] =
                    co_await conn->async_execute("BEGIN", asio::as_tuple(asio::use_awaitable));
                auto [e2, r2] = co_await conn->async_query("SELECT txid_current()",
                                                           asio::as_tuple(asio::use_awaitable));
                auto [e3, r3] =
                    co_await conn->async_execute("COMMIT", asio::as_tuple(asio::use_awaitable));
                ec = e1 ? e1 : e2 ? e2 : e3;
                if (!ec)
                    ++succeeded;
            } else if (!ec) {
                postgres::params args{std::to_string(id)};
                auto [qec, r] = co_await conn->async_query("SELECT $1::int", std::move(args),
                                                           asio::as_tuple(asio::use_awaitable));
                ec = qec;
                if (!ec && r.value(0, 0) == std::to_string(id))
                    ++succeeded;
            }
            if (ec && first_error.empty())
                first_error = ec.message() + ": " + (conn ? conn->last_diagnostics().text : "");
        }
    };

    run(ctx, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (auto& p : pools)
            for (int c = 0; c < clients; ++c)
                asio::co_spawn(ex, client(*p, c), [&](std::exception_ptr) { --remaining; });
        REQUIRE(co_await eventually([&] { return remaining == 0; }, 60s));
    }());
    INFO(first_error);
    CHECK(succeeded == services * clients * queries);
    for (auto& p : pools)
        CHECK(p->stats().created <= 4);
}

TEST_CASE("a wrong password or an unknown database fails fast with the server's message and is "
          "not retried as if transient",
          "[postgres][pool][bad_input]")
{
    struct bad_case {
        std::string setting, sqlstate, says;
    };
    auto c = GENERATE(bad_case{"password=wrong", "28P01", "password authentication failed"},
                      bad_case{"dbname=no_such_db", "3D000", "does not exist"});
    INFO(c.setting);
    asio::io_context ctx;
    const auto deadline = 5s;
    auto pool = make_pool(ctx, conninfo("connpool_it_bad") + " " + c.setting,
                          {.max_size = 4,
                           .acquire_timeout = deadline,
                           .backoff_initial = 20ms,
                           .backoff_max = 200ms});
    run(ctx, [&]() -> asio::awaitable<void> {
        const auto expected = postgres::make_sqlstate_error(c.sqlstate);
        auto t0 = clock::now();
        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        CHECK(ec == expected);
        CHECK(since(t0) < 1500ms);  // well before the 5 s deadline
        const auto d = pool.factory().last_connect_diagnostics();
        CHECK(d.sqlstate == c.sqlstate);
        CHECK(d.message.find(c.says) != std::string::npos);
        CHECK(pool.stats().last_connect_error == expected);

        // While the pool backs off, a new acquire fails at once too.
        t0 = clock::now();
        auto [ec2, conn2] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        CHECK(ec2 == expected);
        CHECK(since(t0) < 1500ms);

        // Under steady demand, retries go on (so a fixed configuration is picked up) at the pace
        // of backoff_max, not in a tight loop: at most one per backoff_max / 2 (the jitter
        // shortens a delay by up to half). Every acquire meanwhile fails fast.
        const auto failures = pool.stats().connect_failures;
        const auto window = clock::now();
        int slow = 0;
        while (since(window) < 1000ms) {
            t0 = clock::now();
            auto [ec3, conn3] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
            CHECK(ec3 == expected);
            if (since(t0) >= 1500ms)
                ++slow;
            co_await pause(10ms);
        }
        const auto more = pool.stats().connect_failures - failures;
        CHECK(slow == 0);
        CHECK(more >= 2);
        CHECK(more <= 1000 / 100 + 2);
    }());
}
