// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// connpool::postgres::connection and factory against a real PostgreSQL 15 server: queries,
// errors with SQLSTATE and diagnostics, cancellation, large sends, the error categories.

#include "pg_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <string>

using namespace connpool::test::pg;
namespace postgres = connpool::postgres;
using connpool::error_code;

namespace {

asio::awaitable<postgres::connection> connect(const std::string& ci)
{
    auto ex = co_await asio::this_coro::executor;
    auto [ec, conn] =
        co_await postgres::connection::async_connect(ex, ci, asio::as_tuple(asio::use_awaitable));
    INFO(conn.last_diagnostics().text);
    REQUIRE(!ec);
    REQUIRE(conn.is_healthy());
    co_return std::move(conn);
}

}  // namespace

TEST_CASE("queries return rows, columns, NULLs and bound parameters", "[postgres][adapter]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_rows"));
        postgres::params args{"41", std::nullopt, "it's"};
        auto r = co_await conn.async_query(
            "SELECT $1::int + 1 AS answer, $2::text IS NULL AS was_null, $3::text, NULL::int "
            "FROM generate_series(1, 3)",
            std::move(args), asio::use_awaitable);
        CHECK(r.status() == PGRES_TUPLES_OK);
        REQUIRE(r.rows() == 3);
        REQUIRE(r.columns() == 4);
        CHECK(std::string(r.column_name(0)) == "answer");
        CHECK(r.column("was_null") == 1);
        CHECK(std::string(r.value(2, 0)) == "42");
        CHECK(std::string(r.value(0, 1)) == "t");
        CHECK(std::string(r.value(1, 2)) == "it's");
        CHECK(r.is_null(0, 3));
        CHECK(!r.get(0, 3).has_value());
        CHECK(std::string(r.get(0, 0).value_or("")) == "42");

        auto cmd = co_await conn.async_execute(
            "CREATE TEMP TABLE t(x int); INSERT INTO t SELECT generate_series(1, 5)",
            asio::use_awaitable);
        CHECK(cmd.affected_rows() == 5);
        CHECK(conn.backend_pid() > 0);
        CHECK(conn.transaction_status() == PQTRANS_IDLE);
    }());
}

TEST_CASE("a server error carries its SQLSTATE, message and detail; the connection stays usable",
          "[postgres][adapter]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_errors"));
        co_await conn.async_execute("CREATE TEMP TABLE u(k int PRIMARY KEY); INSERT INTO u "
                                    "VALUES (1)",
                                    asio::use_awaitable);
        auto [ec, r] = co_await conn.async_query("INSERT INTO u VALUES (1)",
                                                 asio::as_tuple(asio::use_awaitable));
        CHECK(ec == postgres::make_sqlstate_error("23505"));
        CHECK(postgres::sqlstate_of(ec) == "23505");
        CHECK(ec.category() == postgres::sqlstate_category());
        CHECK(ec.message() == "23505 unique_violation (class 23: integrity constraint violation)");
        CHECK(!r);
        const auto& d = conn.last_diagnostics();
        CHECK(d.sqlstate == "23505");
        CHECK(d.severity == "ERROR");
        CHECK(d.message.find("duplicate key") != std::string::npos);
        CHECK(d.detail.find("(k)=(1)") != std::string::npos);
        CHECK(!postgres::is_connection_error(ec));
        CHECK(conn.is_healthy());

        auto ok = co_await conn.async_query("SELECT 1", asio::use_awaitable);
        CHECK(std::string(ok.value(0, 0)) == "1");
        CHECK(conn.last_diagnostics().empty());

        auto [ec2, r2] = co_await conn.async_query("SELEC 1", asio::as_tuple(asio::use_awaitable));
        CHECK(postgres::sqlstate_of(ec2) == "42601");
        CHECK(conn.is_healthy());
    }());
}

TEST_CASE("a large parameter is sent in pieces (PQflush, socket writable) and arrives whole",
          "[postgres][adapter]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_large"));
        const std::size_t size = 16 * 1024 * 1024;  // far beyond a socket buffer
        postgres::params args{std::string(size, 'x')};
        auto r = co_await conn.async_query("SELECT length($1::text)", std::move(args),
                                           asio::use_awaitable);
        CHECK(std::string(r.value(0, 0)) == std::to_string(size));
        auto big =
            co_await conn.async_query("SELECT repeat('y', 8 * 1024 * 1024)", asio::use_awaitable);
        CHECK(std::string(big.value(0, 0)).size() == 8u * 1024 * 1024);
        CHECK(conn.is_healthy());
    }());
}

TEST_CASE("a query cancelled in flight completes at once with operation_aborted and breaks the "
          "connection",
          "[postgres][adapter][cancel]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_cancel"));
        asio::cancellation_signal signal;
        asio::steady_timer t(co_await asio::this_coro::executor, 100ms);
        t.async_wait([&](error_code) { signal.emit(asio::cancellation_type::terminal); });
        const auto t0 = clock::now();
        auto [ec, r] = co_await conn.async_query(
            "SELECT pg_sleep(30)",
            asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
        CHECK(ec == asio::error::operation_aborted);
        CHECK(since(t0) < 5s);
        CHECK(conn.is_broken());
        CHECK(!conn.is_healthy());  // a pool destroys it when the lease comes back
    }());
}

TEST_CASE("request_cancel() stops the statement on the server; the connection stays usable",
          "[postgres][adapter][cancel]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_request_cancel"));
        std::thread canceller;
        error_code cancel_ec = make_error_code(postgres::client_errc::query_failed);
        asio::steady_timer t(co_await asio::this_coro::executor, 200ms);
        t.async_wait([&](error_code) {
            // PQcancel blocks for a round trip: from another thread.
            canceller = std::thread([&] { cancel_ec = conn.request_cancel(); });
        });
        const auto t0 = clock::now();
        auto [ec, r] =
            co_await conn.async_query("SELECT pg_sleep(30)", asio::as_tuple(asio::use_awaitable));
        canceller.join();
        CHECK(!cancel_ec);
        CHECK(postgres::sqlstate_of(ec) == "57014");  // query_canceled
        CHECK(since(t0) < 10s);
        CHECK(conn.is_healthy());
        auto ok = co_await conn.async_query("SELECT 2", asio::use_awaitable);
        CHECK(std::string(ok.value(0, 0)) == "2");
    }());
}

TEST_CASE("one operation at a time: a second one fails with busy and does not disturb the first",
          "[postgres][adapter]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto conn = co_await connect(conninfo("connpool_it_busy"));
        error_code first_ec = make_error_code(postgres::client_errc::query_failed);
        std::string first_value;
        bool first_done = false;
        conn.async_query("SELECT pg_sleep(0.2), 7", [&](error_code ec, postgres::result r) {
            first_ec = ec;
            if (!ec)
                first_value = std::string(r.value(0, 1));
            first_done = true;
        });
        CHECK(!conn.is_healthy());  // an operation is in flight
        auto [ec, r] = co_await conn.async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
        CHECK(ec == postgres::client_errc::busy);
        CHECK(co_await eventually([&] { return first_done; }));
        CHECK(!first_ec);
        CHECK(first_value == "7");
        CHECK(conn.is_healthy());

        postgres::connection empty;
        auto [ec2, r2] =
            co_await empty.async_query("SELECT 1", asio::as_tuple(asio::use_awaitable));
        CHECK(ec2 == postgres::client_errc::not_connected);
        CHECK(!empty.is_healthy());
    }());
}

TEST_CASE("connect errors carry the server's SQLSTATE and message; only configuration errors "
          "are permanent",
          "[postgres][adapter][connect]")
{
    asio::io_context ctx;
    run(ctx, []() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        struct attempt {
            std::string conninfo;
            std::string sqlstate;     // expected, or empty
            connpool::error_code ec;  // expected when no SQLSTATE
            bool permanent;
            std::string says;  // in the diagnostics
        };
        const std::string ci = conninfo("connpool_it_connect_errors");
        std::vector<attempt> attempts{
            {ci + " password=wrong", "28P01", {}, true, "password authentication failed"},
            {ci + " dbname=no_such_db", "3D000", {}, true, "does not exist"},
            {ci + " port=1", "", postgres::client_errc::connection_failed, false, "refused"},
            {"this is not a conninfo", "", postgres::client_errc::invalid_conninfo, true,
             "missing \"=\""},
        };
        for (const auto& a : attempts) {
            INFO(a.conninfo);
            postgres::factory f(ex, a.conninfo);
            auto [ec, conn] = co_await f.async_connect(asio::as_tuple(asio::use_awaitable));
            const auto d = f.last_connect_diagnostics();
            INFO(d.text);
            if (!a.sqlstate.empty()) {
                CHECK(postgres::sqlstate_of(ec) == a.sqlstate);
                CHECK(d.sqlstate == a.sqlstate);
                CHECK(d.severity == "FATAL");
            } else {
                CHECK(ec == a.ec);
            }
            CHECK(f.is_permanent_error(ec) == a.permanent);
            CHECK(d.text.find(a.says) != std::string::npos);
            CHECK(d.text.find("LOCATION") == std::string::npos);
            CHECK(!conn.is_healthy());
            CHECK(conn.last_diagnostics().text == d.text);
        }
    }());
}

TEST_CASE("the error categories decode SQLSTATEs and classify connection errors",
          "[postgres][adapter][errors]")
{
    using postgres::make_sqlstate_error;
    for (const char* code : {"00000", "08006", "28P01", "3D000", "53300", "57P03", "ZZZZZ"}) {
        if (std::string_view(code) == "00000")
            continue;  // success is not an error
        CHECK(postgres::sqlstate_of(make_sqlstate_error(code)) == code);
    }
    CHECK(make_sqlstate_error("53300").message() ==
          "53300 too_many_connections (class 53: insufficient resources)");
    CHECK(make_sqlstate_error("57P01").message() ==
          "57P01 admin_shutdown (class 57: operator intervention)");
    CHECK(make_sqlstate_error("99ABC").message() == "99ABC (class 99: unknown class)");
    CHECK(make_sqlstate_error("bad") == postgres::client_errc::protocol_error);
    CHECK(postgres::sqlstate_of(make_error_code(postgres::client_errc::busy)).empty());

    CHECK(postgres::is_connection_error(make_sqlstate_error("08006")));
    CHECK(postgres::is_connection_error(make_sqlstate_error("08P01")));
    CHECK(postgres::is_connection_error(make_sqlstate_error("57P01")));
    CHECK(postgres::is_connection_error(make_sqlstate_error("57P02")));
    CHECK(postgres::is_connection_error(make_sqlstate_error("57P03")));
    CHECK(!postgres::is_connection_error(make_sqlstate_error("57014")));
    CHECK(!postgres::is_connection_error(make_sqlstate_error("23505")));
    CHECK(postgres::is_connection_error(postgres::client_errc::connection_lost));
    CHECK(!postgres::is_connection_error(postgres::client_errc::busy));

    asio::io_context ctx;
    postgres::factory f(ctx.get_executor(), "host=127.0.0.1");
    CHECK(f.is_permanent_error(make_sqlstate_error("28P01")));
    CHECK(f.is_permanent_error(make_sqlstate_error("28000")));
    CHECK(f.is_permanent_error(make_sqlstate_error("3D000")));
    CHECK(f.is_permanent_error(postgres::client_errc::invalid_conninfo));
    CHECK(!f.is_permanent_error(make_sqlstate_error("53300")));
    CHECK(!f.is_permanent_error(make_sqlstate_error("57P03")));
    CHECK(!f.is_permanent_error(postgres::client_errc::connection_failed));
    CHECK(!f.is_permanent_error(connpool::errc::connect_timeout));
}
