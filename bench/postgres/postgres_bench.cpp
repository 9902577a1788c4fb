// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// connpool_bench_postgres: `SELECT 1` queries per second on loopback, at 1, 8 and 64 concurrent
// clients (coroutines on one io_context thread), in four ways of getting a connection:
//
//   pooled                       a connpool::postgres pool (max_size min(clients, 8), the default
//                                DISCARD ALL reset on return) straight to PostgreSQL
//   connect_per_query            a new connection for every query (connect, authenticate with
//                                scram-sha-256, query, close)
//   pgbouncer_connect_per_query  the same, to PgBouncer (transaction pooling) instead
//   pooled_via_pgbouncer         a connpool pool (no reset statement) in front of PgBouncer
//
// Needs the servers of scripts/lib/pg.sh: CONNPOOL_PG_CONNINFO and CONNPOOL_PGBOUNCER_CONNINFO.
// scripts/bench-postgres.sh starts them, runs this and writes a markdown table.

#include <connpool/postgres.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

namespace asio = boost::asio;
namespace postgres = connpool::postgres;
using connpool::error_code;

struct run_stats {
    std::int64_t queries = 0;
    std::int64_t errors = 0;
    std::string first_error;

    void failed(const error_code& ec, const postgres::diagnostics& d)
    {
        if (errors++ == 0)
            first_error = ec.message() + ": " + d.text;
    }
};

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? v : "";
}

// Runs `clients` coroutines, each calling `one(stats)` `per_client` times; returns when all are
// done.
template <class One>
void run_clients(asio::io_context& ctx, int clients, int per_client, One one, run_stats& stats)
{
    int remaining = clients;
    for (int c = 0; c < clients; ++c)
        asio::co_spawn(
            ctx,
            [&, per_client]() -> asio::awaitable<void> {
                for (int i = 0; i < per_client; ++i)
                    co_await one(stats);
            },
            [&](std::exception_ptr) { --remaining; });
    while (remaining > 0) {
        if (ctx.stopped())  // ran out of work at the end of the previous batch
            ctx.restart();
        ctx.run_one();
    }
}

void report(benchmark::State& state, const run_stats& stats)
{
    state.SetItemsProcessed(stats.queries);
    state.counters["errors"] = static_cast<double>(stats.errors);
    if (stats.errors > 0)
        state.SkipWithError(stats.first_error.c_str());
}

// Through a pool of min(clients, 8) connections.
void pooled(benchmark::State& state, const char* conninfo_var, const char* reset_statement)
{
    const std::string ci = env(conninfo_var);
    if (ci.empty()) {
        state.SkipWithError((std::string(conninfo_var) + " is not set").c_str());
        return;
    }
    const int clients = static_cast<int>(state.range(0));
    asio::io_context ctx;
    auto pool = std::make_unique<postgres::pool<>>(
        ctx.get_executor(),
        postgres::factory(ctx.get_executor(), ci + " application_name=connpool_bench",
                          {.reset_statement = reset_statement}),
        connpool::pool_options{.min_size = static_cast<std::size_t>(std::min(clients, 8)),
                               .max_size = static_cast<std::size_t>(std::min(clients, 8))});
    auto one = [&pool](run_stats& s) -> asio::awaitable<void> {
        auto [ec, conn] = co_await pool->async_acquire(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            s.failed(ec, pool->factory().last_connect_diagnostics());
            co_return;
        }
        auto [qec, r] = co_await conn->async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
        if (qec)
            s.failed(qec, conn->last_diagnostics());
        else
            ++s.queries;
    };
    run_stats warm;
    run_clients(ctx, clients, 4, one, warm);  // opens the connections
    run_stats stats;
    for (auto _ : state)
        run_clients(ctx, clients, std::max(1, 256 / clients), one, stats);
    report(state, stats);
    pool->close();
    ctx.run_for(std::chrono::seconds(2));
}

// A new connection for every query.
void connect_per_query(benchmark::State& state, const char* conninfo_var)
{
    const std::string ci = env(conninfo_var);
    if (ci.empty()) {
        state.SkipWithError((std::string(conninfo_var) + " is not set").c_str());
        return;
    }
    const int clients = static_cast<int>(state.range(0));
    asio::io_context ctx;
    const std::string full = ci + " application_name=connpool_bench";
    auto one = [&](run_stats& s) -> asio::awaitable<void> {
        auto [ec, conn] = co_await postgres::connection::async_connect(
            ctx.get_executor(), full, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            s.failed(ec, conn.last_diagnostics());
            co_return;
        }
        auto [qec, r] = co_await conn.async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
        if (qec)
            s.failed(qec, conn.last_diagnostics());
        else
            ++s.queries;
    };  // ~connection: PQfinish
    run_stats stats;
    for (auto _ : state)
        run_clients(ctx, clients, std::max(1, 16 / clients), one, stats);
    report(state, stats);
}

void bm_pooled(benchmark::State& s)
{
    pooled(s, "CONNPOOL_PG_CONNINFO", "DISCARD ALL");
}
void bm_connect_per_query(benchmark::State& s)
{
    connect_per_query(s, "CONNPOOL_PG_CONNINFO");
}
void bm_pgbouncer_connect_per_query(benchmark::State& s)
{
    connect_per_query(s, "CONNPOOL_PGBOUNCER_CONNINFO");
}
void bm_pooled_via_pgbouncer(benchmark::State& s)
{
    pooled(s, "CONNPOOL_PGBOUNCER_CONNINFO", "");
}

void clients(benchmark::internal::Benchmark* b)
{
    b->ArgName("clients")->Arg(1)->Arg(8)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_pooled)->Name("pooled")->Apply(clients);
BENCHMARK(bm_connect_per_query)->Name("connect_per_query")->Apply(clients);
BENCHMARK(bm_pgbouncer_connect_per_query)->Name("pgbouncer_connect_per_query")->Apply(clients);
BENCHMARK(bm_pooled_via_pgbouncer)->Name("pooled_via_pgbouncer")->Apply(clients);

BENCHMARK_MAIN();
