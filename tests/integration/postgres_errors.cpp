// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// What a user logs after a failed connect: the error_code's message() (and a system_error's
// what()) carries libpq's own text, while the code still compares equal to the plain error.

#include "pg_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <thread>

using namespace connpool::test::pg;
namespace postgres = connpool::postgres;
using connpool::error_code;

namespace {

// A TCP port on 127.0.0.1 that nobody listens on (bound, then released).
unsigned short closed_port()
{
    asio::io_context ctx;
    asio::ip::tcp::acceptor a(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

bool contains(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a refused connect: ec.message() and what() carry libpq's text; the code is still "
          "connection_failed",
          "[postgres][pool][connect_errors]")
{
    const std::string port = std::to_string(closed_port());
    // The server's coordinates with the port replaced (libpq takes the last setting).
    const std::string ci = conninfo("connpool_it_refused") + " host=127.0.0.1 port=" + port;
    asio::io_context ctx;
    postgres::pool<> pool(ctx.get_executor(), postgres::factory(ctx.get_executor(), ci),
                          {.max_size = 2, .acquire_timeout = 300ms, .backoff_initial = 20ms});
    error_code first, second;
    run(ctx, [&]() -> asio::awaitable<void> {
        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        first = ec;
        auto [ec2, conn2] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        second = ec2;
    }());

    INFO(first.message());
    // What a user logs.
    CHECK(contains(first.message(), "could not connect to the PostgreSQL server: "));
    CHECK(contains(first.message(), "connection to server at \"127.0.0.1\", port " + port +
                                        " failed: Connection refused"));
    CHECK(!contains(first.message(), "\n"));
    CHECK(contains(boost::system::system_error(first).what(), "Connection refused"));
    CHECK(contains(pool.stats().last_connect_error.message(), "Connection refused"));
    // The text alone, and where the details are.
    CHECK(contains(std::string(postgres::libpq_message(first)), "port " + port + " failed"));
    CHECK(contains(pool.factory().last_connect_diagnostics().text, "Connection refused"));
    // Still the plain error in every comparison.
    CHECK(first == postgres::client_errc::connection_failed);
    CHECK(first.category() == postgres::client_category());
    CHECK(std::string(first.category().name()) == "postgres.client");
    CHECK(postgres::is_connection_error(first));
    CHECK_FALSE(pool.factory().is_permanent_error(first));
    // The same text twice: the same category (interned, not one per failure).
    CHECK(second == first);
    CHECK(&second.category() == &first.category());
    // A plain client_errc keeps its plain message, which points to the diagnostics.
    CHECK(postgres::libpq_message(postgres::client_errc::connection_failed).empty());
    CHECK(contains(error_code(postgres::client_errc::connection_failed).message(),
                   "last_connect_diagnostics"));
}

TEST_CASE("a blocking acquire after a refused connect throws a system_error whose what() has "
          "libpq's text",
          "[postgres][pool][connect_errors]")
{
    const std::string port = std::to_string(closed_port());
    const std::string ci = conninfo("connpool_it_refused_sync") + " host=127.0.0.1 port=" + port;
    asio::io_context ctx;
    auto work = asio::make_work_guard(ctx);
    std::thread runner([&] { ctx.run(); });
    std::string what;
    {
        postgres::pool<> pool(ctx.get_executor(), postgres::factory(ctx.get_executor(), ci),
                              {.max_size = 1});
        try {
            auto conn = pool.acquire(500ms);
            FAIL("acquire succeeded against a closed port");
        } catch (const boost::system::system_error& e) {
            what = e.what();
            CHECK(e.code() == postgres::client_errc::connection_failed);
        }
        pool.close();
    }
    work.reset();
    runner.join();
    INFO(what);
    CHECK(contains(what, "port " + port + " failed: Connection refused"));
}

TEST_CASE("a wrong password: the message names the SQLSTATE and carries the server's words; the "
          "code is still 28P01 and permanent",
          "[postgres][pool][connect_errors]")
{
    asio::io_context ctx;
    postgres::pool<> pool(
        ctx.get_executor(),
        postgres::factory(ctx.get_executor(), conninfo("connpool_it_pw") + " password=wrong"),
        {.max_size = 1, .acquire_timeout = 5s});
    error_code ec;
    run(ctx, [&]() -> asio::awaitable<void> {
        auto [e, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        ec = e;
    }());
    INFO(ec.message());
    CHECK(ec == postgres::make_sqlstate_error("28P01"));
    CHECK(postgres::sqlstate_of(ec) == "28P01");
    CHECK(pool.factory().is_permanent_error(ec));
    CHECK(contains(ec.message(), "28P01 invalid_password (class 28: invalid authorization "
                                 "specification): "));
    CHECK(contains(ec.message(), "password authentication failed for user"));
    CHECK(!contains(ec.message(), "\n"));
    CHECK(contains(std::string(postgres::libpq_message(ec)), "FATAL: password authentication"));
}

TEST_CASE("an invalid conninfo: the message carries libpq's parse error",
          "[postgres][pool][connect_errors]")
{
    asio::io_context ctx;
    postgres::pool<> pool(ctx.get_executor(),
                          postgres::factory(ctx.get_executor(), "host=127.0.0.1 nonsense"),
                          {.max_size = 1, .acquire_timeout = 5s});
    error_code ec;
    run(ctx, [&]() -> asio::awaitable<void> {
        auto [e, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        ec = e;
    }());
    INFO(ec.message());
    CHECK(ec == postgres::client_errc::invalid_conninfo);
    CHECK(contains(ec.message(), "the PostgreSQL connection string is invalid: "));
    CHECK(contains(ec.message(), "nonsense"));
}
