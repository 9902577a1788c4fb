// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// Several pools of one process against one real PostgreSQL under one connection_limit (issue 10,
// item 6): two databases and two roles, four pools, a limit below the server's max_connections.
// pg_stat_activity, sampled all along by a monitor session, never shows more backends than the
// limit; every query succeeds; the limit lowered at run time drains to the new value; a
// keyed_pool keyed by (database, role) under the limit does the same. And
// fail_fast against the stopped server (item 6's outage): acquires fail in milliseconds with the
// server's connect error, and recover when it starts again.

#include "pg_support.hpp"

#include <connpool/keyed_pool.hpp>

#include <boost/asio/as_tuple.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace connpool::test::pg;
namespace postgres = connpool::postgres;
using connpool::connection_limit;
using connpool::error_code;
using pg_pool = postgres::pool<>;

namespace {

// The four configurations: (database, role), each pool's backends tagged by application_name.
struct configuration {
    const char* dbname;
    const char* user;
};
constexpr configuration configurations[] = {
    {"connpool", "connpool"},
    {"connpool_b", "connpool_b"},
    {"connpool_b", "connpool"},
    {"connpool", "connpool_b"},
};

std::string conninfo_of(const configuration& c, const std::string& app)
{
    return required_env("CONNPOOL_PG_SERVER_CONNINFO") + " dbname=" + c.dbname + " user=" + c.user +
           " application_name=" + app;
}

// Backends of this test (application names starting with `prefix`), as the server sees them.
asio::awaitable<std::size_t> count_backends(postgres::connection& monitor,
                                            const std::string& prefix)
{
    postgres::params args{prefix + "%"};
    auto r = co_await monitor.async_query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", std::move(args),
        asio::use_awaitable);
    co_return std::stoul(std::string(r.value(0, 0)));
}

using lease = pg_pool::handle_type;  // a keyed_pool's leases are the same type
using acquire_fn = std::function<asio::awaitable<std::tuple<error_code, lease>>(int worker)>;

// Runs `queries` queries per worker, `workers` workers, each query checked; `acquire` says where
// a worker gets its connections.
struct load {
    load(acquire_fn a, int w, int q) : acquire(std::move(a)), workers(w), queries(q) {}

    acquire_fn acquire;
    int workers;
    int queries;
    int succeeded = 0;
    int remaining = 0;
    std::string first_error;

    asio::awaitable<void> worker(int id)
    {
        for (int q = 0; q < queries; ++q) {
            auto [ec, conn] = co_await acquire(id);
            if (!ec) {
                const std::string expected = std::to_string(id * queries + q);
                postgres::params args{expected};
                auto [qec, r] =
                    co_await conn->async_query("SELECT $1::int, pg_sleep(0.001)", std::move(args),
                                               asio::as_tuple(asio::use_awaitable));
                ec = qec;
                if (!ec && std::string(r.value(0, 0)) == expected)
                    ++succeeded;
            }
            if (ec && first_error.empty())
                first_error = ec.message();
        }
    }

    void start(const asio::any_io_executor& ex)
    {
        remaining = workers;
        for (int i = 0; i < workers; ++i)
            asio::co_spawn(ex, worker(i), [this](std::exception_ptr) { --remaining; });
    }
};

// What the monitor saw.
struct observed {
    std::size_t most_before = 0, most_after_drain = 0, samples_after = 0, polls = 0;
    bool drained = false;
};

// The scenario both tests run: load under `limit` (6), then load again while the limit is
// lowered to 3, the server's backends of this test (application names starting with `prefix`)
// sampled all along.
asio::awaitable<void> limit_scenario(acquire_fn acquire, connection_limit& limit,
                                     const std::string& prefix, observed& seen)
{
    auto ex = co_await asio::this_coro::executor;
    auto monitor = co_await postgres::connection::async_connect(
        ex, required_env("CONNPOOL_PG_ADMIN_CONNINFO"), asio::use_awaitable);

    // Phase 1: 32 workers, limit 6.
    load first{acquire, 32, 15};
    first.start(ex);
    while (first.remaining > 0) {
        seen.most_before = std::max(seen.most_before, co_await count_backends(monitor, prefix));
        ++seen.polls;
        co_await pause(1ms);
    }
    INFO(first.first_error);
    CHECK(first.succeeded == 32 * 15);

    // Phase 2: under load again, the limit is lowered to 3. Lent connections above it close as
    // they come back; once the server shows at most 3, it never shows more.
    load second{acquire, 32, 20};
    second.start(ex);
    co_await pause(20ms);
    limit.set_max(3);
    while (second.remaining > 0) {
        const std::size_t n = co_await count_backends(monitor, prefix);
        if (!seen.drained && n <= 3 && limit.in_use() <= 3) {
            seen.drained = true;
        } else if (seen.drained) {
            seen.most_after_drain = std::max(seen.most_after_drain, n);
            ++seen.samples_after;
        }
        co_await pause(1ms);
    }
    INFO(second.first_error);
    CHECK(second.succeeded == 32 * 20);
}

void check(const observed& seen)
{
    CHECK(seen.polls >= 5);
    CHECK(seen.most_before >= 1);  // the monitor saw the backends (the filter works)
    CHECK(seen.most_before <= 6);
    CHECK(seen.drained);
    CHECK(seen.samples_after >= 5);
    CHECK(seen.most_after_drain <= 3);
}

// A keyed factory: the key is the configuration's index; every key connects to its own
// (database, role) with its own application_name.
struct configuration_factory {
    asio::any_io_executor ex;
    std::string prefix;

    template <class CompletionToken>
    auto async_connect(const std::size_t& key, CompletionToken&& token)
    {
        return postgres::connection::async_connect(
            ex, conninfo_of(configurations[key], prefix + std::to_string(key)),
            std::forward<CompletionToken>(token));
    }
};

}  // namespace

TEST_CASE("pools of two databases and two roles under one connection_limit: the server never "
          "sees more backends than the limit, every query succeeds, and a lowered limit drains",
          "[postgres][pool][limits]")
{
    asio::io_context ctx;
    const std::string prefix = "connpool_it_limit_";
    // The server allows 17 non-superuser connections; the process is given 6 of them.
    auto limit = std::make_shared<connection_limit>(6);
    std::vector<std::unique_ptr<pg_pool>> pools;
    for (std::size_t i = 0; i < std::size(configurations); ++i) {
        const std::string ci = conninfo_of(configurations[i], prefix + std::to_string(i));
        pools.push_back(std::make_unique<pg_pool>(
            ctx.get_executor(), postgres::factory(ctx.get_executor(), ci),
            connpool::pool_options{.max_size = 8, .acquire_timeout = 60s, .limit = limit}));
    }
    observed seen;
    run(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await limit_scenario(
                [&](int worker) {
                    return pools[static_cast<std::size_t>(worker) % pools.size()]->async_acquire(
                        asio::as_tuple(asio::use_awaitable));
                },
                *limit, prefix, seen);
            for (auto& p : pools)
                co_await p->async_close(asio::use_awaitable);
        }(),
        120s);
    check(seen);
    CHECK(limit->in_use() == 0);
    std::size_t used = 0;
    for (auto& p : pools)
        used += p->stats().created != 0;
    CHECK(used == std::size(configurations));  // every configuration was served
}

TEST_CASE("a keyed_pool keyed by (database, role) under a process-wide limit: the same",
          "[postgres][pool][limits][keyed]")
{
    asio::io_context ctx;
    const std::string prefix = "connpool_it_keyed_";
    auto limit = std::make_shared<connection_limit>(6);
    connpool::keyed_pool<std::size_t, postgres::connection, configuration_factory> keyed(
        ctx.get_executor(), configuration_factory{ctx.get_executor(), prefix},
        {.per_key = {.max_size = 8, .acquire_timeout = 60s}, .limit = limit});
    observed seen;
    run(
        ctx,
        [&]() -> asio::awaitable<void> {
            co_await limit_scenario(
                [&](int worker) {
                    return keyed.async_acquire(static_cast<std::size_t>(worker) %
                                                   std::size(configurations),
                                               asio::as_tuple(asio::use_awaitable));
                },
                *limit, prefix, seen);
            co_await keyed.async_close(asio::use_awaitable);
        }(),
        120s);
    check(seen);
    CHECK(limit->in_use() == 0);
    CHECK(keyed.stats().created >= std::size(configurations));  // each key opened its own
}

TEST_CASE("fail_fast with the server stopped: acquires fail in milliseconds with the server's "
          "connect error, and the pool recovers when the server starts again",
          "[postgres][pool][outages]")
{
    asio::io_context ctx;
    server_restorer restorer;
    pg_pool pool(ctx.get_executor(),
                 postgres::factory(ctx.get_executor(), conninfo("connpool_it_fail_fast")),
                 {.min_size = 1,
                  .max_size = 4,
                  .acquire_timeout = 10s,  // what a caller would wait without fail_fast
                  .connect_timeout = 2s,
                  .validation_interval = 0ms,
                  .backoff_initial = 20ms,
                  .backoff_max = 200ms,
                  .fail_fast = true});
    run(ctx, [&]() -> asio::awaitable<void> {
        co_await pool.async_wait_ready(asio::use_awaitable);  // min_size is open
        REQUIRE(pool.stats().idle == 1);

        co_await off_thread([] { server_ctl("stop"); });
        restorer.stopped = true;

        // The first acquire finds the idle connection dead (its validation fails), the
        // replacement's connect is refused, and the acquire fails with that error: no open
        // connection is left. Every later acquire fails at once, while the pool retries.
        std::chrono::milliseconds slowest{0};
        for (int i = 0; i < 5; ++i) {
            const auto t0 = clock::now();
            auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
            slowest = std::max(slowest, since(t0));
            INFO(ec.message());
            CHECK(ec == postgres::client_errc::connection_failed);
            CHECK(ec.message().find("refused") != std::string::npos);  // the server's words
            co_await pause(30ms);  // across backoffs and retries
        }
        INFO("slowest failed acquire: " << slowest.count() << " ms");
        CHECK(slowest < 1s);                        // milliseconds, not the 10 s acquire_timeout
        CHECK(pool.stats().connect_failures >= 2);  // retried in the background meanwhile

        co_await off_thread([] { server_ctl("start"); });
        restorer.stopped = false;
        const auto started = clock::now();
        bool recovered = false;
        while (!recovered && since(started) < 10s) {
            auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
            if (!ec) {
                auto [qec, r] =
                    co_await conn->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
                recovered = !qec;
            } else {
                co_await pause(20ms);
            }
        }
        CHECK(recovered);
        // Acquires wait normally again: one that finds nothing idle waits for a connection.
        auto a = co_await pool.async_acquire(asio::use_awaitable);
        auto b = co_await pool.async_acquire(asio::use_awaitable);
        CHECK(a);
        CHECK(b);
    }());
}
