// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// connpool::postgres: 200 coroutines run 50 queries each through a pool of 8 PostgreSQL
// connections, then the program prints the pool's statistics.
//
//   connpool_example_postgres ["conninfo"]
//
// The conninfo comes from the first argument, else from CONNPOOL_PG_CONNINFO, else libpq's
// defaults (PGHOST, PGUSER, ... environment variables). Needs a running server: the postgres
// stage of scripts/test.sh runs it against its throwaway one. Build target:
// connpool_example_postgres (linked with connpool::postgres).

#include <connpool/postgres.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace postgres = connpool::postgres;

struct tally {
    long ok = 0;
    long failed = 0;
    std::string first_error;
};

asio::awaitable<void> client(postgres::pool<>& pool, int id, int queries, tally& t)
{
    for (int q = 0; q < queries; ++q) {
        // A lease: the connection goes back to the pool (reset with DISCARD ALL) at scope exit.
        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        if (!ec) {
            postgres::params args{std::to_string(id), std::to_string(q)};
            auto [qec, r] =
                co_await conn->async_query("SELECT $1::int * 1000 + $2::int", std::move(args),
                                           asio::as_tuple(asio::use_awaitable));
            if (!qec && r.value(0, 0) == std::to_string(id * 1000 + q)) {
                ++t.ok;
                continue;
            }
            ec = qec;
            if (t.first_error.empty())  // the server's own words, and its SQLSTATE
                t.first_error =
                    conn->last_diagnostics().sqlstate + " " + conn->last_diagnostics().message;
        }
        ++t.failed;
        if (t.first_error.empty())
            t.first_error = ec.message() + ": " + pool.factory().last_connect_diagnostics().text;
        co_return;  // this client gives up at its first failure
    }
}

int main(int argc, char** argv)
{
    std::string conninfo;
    if (argc > 1)
        conninfo = argv[1];
    else if (const char* env = std::getenv("CONNPOOL_PG_CONNINFO"))
        conninfo = env;
    conninfo += " application_name=connpool_example";

    constexpr int clients = 200, queries = 50;
    asio::io_context ctx;
    postgres::pool<> pool(ctx.get_executor(), postgres::factory(ctx.get_executor(), conninfo),
                          {.max_size = 8, .acquire_timeout = std::chrono::seconds(10)});

    tally t;
    int remaining = clients;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < clients; ++i)
        asio::co_spawn(ctx, client(pool, i, queries, t), [&](std::exception_ptr) {
            if (--remaining == 0)
                pool.close();  // lets ctx.run() return
        });
    ctx.run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

    const auto st = pool.stats();
    std::cout << clients << " coroutines x " << queries << " queries, pool max_size 8: " << t.ok
              << " succeeded, " << t.failed << " failed in " << took.count() << " s ("
              << static_cast<long>(static_cast<double>(t.ok) / took.count()) << " queries/s)\n"
              << "pool: created " << st.created << ", acquired " << st.acquired << ", waited "
              << st.waited << ", timeouts " << st.timeouts << ", connect failures "
              << st.connect_failures << ", destroyed broken " << st.destroyed_broken << "\n";
    if (st.last_connect_error)
        std::cout << "last connect error: " << st.last_connect_error.message() << "\n  "
                  << pool.factory().last_connect_diagnostics().text << "\n";
    if (!t.first_error.empty())
        std::cout << "first error: " << t.first_error << "\n";
    return t.failed == 0 ? 0 : 1;
}
