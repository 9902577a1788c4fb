// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// What a user sees after a failed connect, from libpq's own text, without a server and without
// libpq. The texts are libpq 15's, as connect_op gets them (PQERRORS_VERBOSE while connecting),
// captured from Debian 12's libpq5 15 against PostgreSQL 15 and PgBouncer 1.18 unless a comment
// says otherwise.

#include "libpq_free.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <string_view>

using postgres::detail::failed_connect;
using postgres::detail::is_permanent_connect_error;

namespace {

constexpr std::string_view refused =
    "connection to server at \"127.0.0.1\", port 5433 failed: Connection refused\n"
    "\tIs the server running on that host and accepting TCP/IP connections?\n";

constexpr std::string_view wrong_password =
    "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  28P01: password "
    "authentication failed for user \"connpool\"\n"
    "LOCATION:  auth_failed, auth.c:334\n";

}  // namespace

TEST_CASE("a refused connect: connection_failed, retried, and the message says where and why",
          "[postgres][connect_errors]")
{
    const auto [ec, d] = failed_connect(refused);
    // The code: what a program tests.
    CHECK(ec == client_errc::connection_failed);
    CHECK(ec.category() == postgres::client_category());
    CHECK(postgres::is_connection_error(ec));
    CHECK_FALSE(is_permanent_connect_error(ec));
    CHECK(postgres::sqlstate_of(ec).empty());
    // The message: what a user logs, on one line.
    CHECK(ec.message() ==
          "could not connect to the PostgreSQL server: connection to server at \"127.0.0.1\", "
          "port 5433 failed: Connection refused; Is the server running on that host and "
          "accepting TCP/IP connections?");
    CHECK_THAT(boost::system::system_error(ec).what(), Catch::StartsWith(ec.message()));
    CHECK(postgres::libpq_message(ec) ==
          "connection to server at \"127.0.0.1\", port 5433 failed: Connection refused; Is the "
          "server running on that host and accepting TCP/IP connections?");
    // The diagnostics: libpq's text without the trailing line break; no server, no SQLSTATE.
    CHECK(d.text == refused.substr(0, refused.size() - 1));
    CHECK(d.message == d.text);
    CHECK(d.severity.empty());
    CHECK(d.sqlstate.empty());
    CHECK(d.detail.empty());
    CHECK(d.hint.empty());
}

TEST_CASE("a refused connect twice reports the same error: one interned category per text",
          "[postgres][connect_errors]")
{
    const error_code first = failed_connect(refused).ec;
    const error_code second = failed_connect(refused).ec;
    CHECK(first == second);
    CHECK(&first.category() == &second.category());
    // A different text is another category, yet the same error to every comparison.
    const error_code other =
        failed_connect(
            "connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file "
            "or directory\n\tIs the server running locally and accepting connections on that "
            "socket?\n")
            .ec;
    CHECK(&other.category() != &first.category());
    CHECK(other == first);
    CHECK(other == client_errc::connection_failed);
    CHECK(other.category() == postgres::client_category());
    CHECK_THAT(other.message(), Catch::Contains("No such file or directory; Is the server "
                                                "running locally"));
}

TEST_CASE("a wrong password: SQLSTATE 28P01, permanent, and the server's words without the "
          "LOCATION line",
          "[postgres][connect_errors]")
{
    const auto [ec, d] = failed_connect(wrong_password);
    CHECK(ec == make_sqlstate_error("28P01"));
    CHECK(ec.category() == postgres::sqlstate_category());
    CHECK(postgres::sqlstate_of(ec) == "28P01");
    CHECK(is_permanent_connect_error(ec));
    CHECK_FALSE(postgres::is_connection_error(ec));
    CHECK(d.severity == "FATAL");
    CHECK(d.sqlstate == "28P01");
    CHECK(d.message == "password authentication failed for user \"connpool\"");
    // The text as libpq prints it at the default verbosity: no SQLSTATE token, no LOCATION.
    CHECK(d.text == "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  password "
                    "authentication failed for user \"connpool\"");
    CHECK(ec.message() == "28P01 invalid_password (class 28: invalid authorization "
                          "specification): connection to server at \"127.0.0.1\", port 5433 "
                          "failed: FATAL: password authentication failed for user \"connpool\"");
}

TEST_CASE("an unknown database: SQLSTATE 3D000, permanent", "[postgres][connect_errors]")
{
    const auto [ec, d] =
        failed_connect("connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  3D000: "
                       "database \"no_such_db\" does not exist\n"
                       "LOCATION:  InitPostgres, postinit.c:948\n");
    CHECK(ec == make_sqlstate_error("3D000"));
    CHECK(is_permanent_connect_error(ec));
    CHECK(d.severity == "FATAL");
    CHECK(d.message == "database \"no_such_db\" does not exist");
    CHECK_THAT(ec.message(), Catch::StartsWith("3D000 invalid_catalog_name (class 3D: invalid "
                                               "catalog name): ") &&
                                 Catch::EndsWith("FATAL: database \"no_such_db\" does not exist"));
}

TEST_CASE("too many connections: SQLSTATE 53300, retried with backoff, the connection itself "
          "is not at fault",
          "[postgres][connect_errors]")
{
    const auto [ec, d] =
        failed_connect("connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  53300: "
                       "too many connections for role \"connpool\"\n"
                       "LOCATION:  InitializeSessionUserId, miscinit.c:842\n");
    CHECK(ec == make_sqlstate_error("53300"));
    CHECK_FALSE(is_permanent_connect_error(ec));
    CHECK_FALSE(postgres::is_connection_error(ec));
    CHECK(d.message == "too many connections for role \"connpool\"");
    CHECK_THAT(ec.message(), Catch::StartsWith("53300 too_many_connections (class 53: "
                                               "insufficient resources): "));
}

TEST_CASE("a server still starting up: 57P03 with its DETAIL, a connection error, not permanent",
          "[postgres][connect_errors]")
{
    // PostgreSQL 15's message and detail for a standby that is not consistent yet, in libpq's
    // verbose layout (not captured: composed from postmaster.c's ereport).
    const auto [ec, d] = failed_connect(
        "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  57P03: the database "
        "system is not yet accepting connections\n"
        "DETAIL:  Consistent recovery state has not been yet reached.\n"
        "LOCATION:  ProcessStartupPacket, postmaster.c:2379\n");
    CHECK(ec == make_sqlstate_error("57P03"));
    CHECK(postgres::is_connection_error(ec));
    CHECK_FALSE(is_permanent_connect_error(ec));
    CHECK(d.message == "the database system is not yet accepting connections");
    CHECK(d.detail == "Consistent recovery state has not been yet reached.");
    CHECK(d.hint.empty());
    // The DETAIL stays in the text a user reads; the LOCATION goes.
    CHECK(d.text == "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  the "
                    "database system is not yet accepting connections\n"
                    "DETAIL:  Consistent recovery state has not been yet reached.");
    CHECK_THAT(ec.message(),
               Catch::EndsWith("accepting connections; DETAIL: Consistent recovery state has not "
                               "been yet reached."));
}

TEST_CASE("a HINT line is kept apart and in the text", "[postgres][connect_errors]")
{
    // libpq's layout of a server error with a hint (the server sends few at startup).
    const auto d = postgres::detail::parse_connect_error(
        "connection to server at \"10.0.0.5\", port 5432 failed: FATAL:  28000: no pg_hba.conf "
        "entry for host \"10.0.0.7\", user \"app\", database \"app\", no encryption\n"
        "HINT:  Add an entry to pg_hba.conf.\n"
        "LOCATION:  ClientAuthentication, auth.c:540\n");
    CHECK(d.sqlstate == "28000");
    CHECK(d.hint == "Add an entry to pg_hba.conf.");
    CHECK(d.detail.empty());
    CHECK_THAT(d.text, Catch::EndsWith("no encryption\nHINT:  Add an entry to pg_hba.conf."));
}

TEST_CASE("several hosts: each attempt stays in the text, the last server error decides",
          "[postgres][connect_errors]")
{
    const auto [ec, d] = failed_connect(
        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
        "\tIs the server running on that host and accepting TCP/IP connections?\n"
        "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  28P01: password "
        "authentication failed for user \"connpool\"\n"
        "LOCATION:  auth_failed, auth.c:334\n");
    CHECK(ec == make_sqlstate_error("28P01"));
    CHECK(d.message == "password authentication failed for user \"connpool\"");
    CHECK_THAT(std::string(postgres::libpq_message(ec)),
               Catch::StartsWith("connection to server at \"127.0.0.1\", port 1 failed: "
                                 "Connection refused; ") &&
                   Catch::EndsWith("port 5433 failed: FATAL: password authentication failed for "
                                   "user \"connpool\""));
}

TEST_CASE("behind PgBouncer, bad credentials and unknown databases are 08P01: a connection "
          "error, retried",
          "[postgres][connect_errors]")
{
    for (std::string_view text :
         {"connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  08P01: SASL "
          "authentication failed\n",
          "connection to server at \"127.0.0.1\", port 6432 failed: FATAL:  08P01: no such "
          "database: nodb\n"}) {
        INFO(text);
        const auto [ec, d] = failed_connect(text);
        CHECK(ec == make_sqlstate_error("08P01"));
        CHECK(postgres::is_connection_error(ec));
        CHECK_FALSE(is_permanent_connect_error(ec));
        CHECK(d.severity == "FATAL");
        CHECK_THAT(
            ec.message(),
            Catch::StartsWith("08P01 protocol_violation (class 08: connection exception): "));
    }
}

TEST_CASE("SSL failures are connection_failed with libpq's reason", "[postgres][connect_errors]")
{
    struct ssl_case {
        std::string_view text, says;
    };
    const ssl_case cases[] = {
        // sslmode=require against a server without SSL
        {"connection to server at \"127.0.0.1\", port 5433 failed: server does not support SSL, "
         "but SSL was required\n",
         "failed: server does not support SSL, but SSL was required"},
        // sslmode=verify-ca with a root certificate that did not sign the server's
        {"connection to server at \"127.0.0.1\", port 5433 failed: SSL error: certificate verify "
         "failed\n",
         "failed: SSL error: certificate verify failed"},
        // sslmode=verify-full and a certificate for another name
        {"connection to server at \"127.0.0.1\", port 5433 failed: server certificate for "
         "\"otherhost\" does not match host name \"127.0.0.1\"\n",
         "server certificate for \"otherhost\" does not match host name \"127.0.0.1\""},
        // sslmode=verify-full without the root certificate file (two lines)
        {"connection to server at \"127.0.0.1\", port 5433 failed: root certificate file "
         "\"/nonexistent/root.crt\" does not exist\nEither provide the file or change sslmode to "
         "disable server certificate verification.\n",
         "does not exist; Either provide the file or change sslmode to disable server "
         "certificate verification."},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const auto [ec, d] = failed_connect(c.text);
        CHECK(ec == client_errc::connection_failed);
        CHECK(d.sqlstate.empty());
        CHECK(postgres::is_connection_error(ec));
        CHECK_FALSE(is_permanent_connect_error(ec));
        CHECK_THAT(ec.message(),
                   Catch::StartsWith("could not connect to the PostgreSQL server: ") &&
                       Catch::EndsWith(std::string(c.says)));
        CHECK(ec.message().find('\n') == std::string::npos);
    }
}

TEST_CASE("timeouts and a server that hangs up are connection_failed, retried",
          "[postgres][connect_errors]")
{
    const std::string_view texts[] = {
        // libpq's own connect_timeout (blocking PQconnectdb; connpool's asynchronous connect
        // reports connpool::errc::connect_timeout instead)
        "connection to server at \"127.0.0.1\", port 40101 failed: timeout expired\n",
        // the kernel gave up on the TCP handshake (ETIMEDOUT; not captured: libpq's layout of
        // strerror for a failed connect(), as for "Connection refused")
        "connection to server at \"10.1.2.3\", port 5432 failed: Connection timed out\n"
        "\tIs the server running on that host and accepting TCP/IP connections?\n",
        // the server closed the socket during the handshake (not captured: libpq's message)
        "connection to server at \"127.0.0.1\", port 5433 failed: server closed the connection "
        "unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while "
        "processing the request.\n",
        // name resolution (reported by PQconnectStart already)
        "could not translate host name \"db.invalid\" to address: Name or service not known\n",
    };
    for (std::string_view text : texts) {
        INFO(text);
        const auto [ec, d] = failed_connect(text);
        CHECK(ec == client_errc::connection_failed);
        CHECK(d.sqlstate.empty());
        CHECK(d.severity.empty());
        CHECK_FALSE(is_permanent_connect_error(ec));
        CHECK(ec.message().find('\n') == std::string::npos);
        CHECK(ec.message().find('\t') == std::string::npos);
    }
    CHECK(failed_connect(texts[0]).ec.message() ==
          "could not connect to the PostgreSQL server: connection to server at \"127.0.0.1\", "
          "port 40101 failed: timeout expired");
    CHECK_THAT(failed_connect(texts[2]).ec.message(),
               Catch::EndsWith("unexpectedly; This probably means the server terminated "
                               "abnormally; before or while processing the request."));
}

TEST_CASE("a conninfo libpq cannot parse: invalid_conninfo, permanent, with libpq's reason",
          "[postgres][connect_errors]")
{
    // connect_op reports PQconninfoParse's error this way (trimmed, then carried by the code).
    const std::string reason =
        postgres::detail::trim("missing \"=\" after \"this\" in connection info string\n");
    const error_code ec = postgres::detail::with_libpq_text(client_errc::invalid_conninfo, reason);
    CHECK(ec == client_errc::invalid_conninfo);
    CHECK(is_permanent_connect_error(ec));
    CHECK_FALSE(postgres::is_connection_error(ec));
    CHECK(ec.message() == "the PostgreSQL connection string is invalid: missing \"=\" after "
                          "\"this\" in connection info string");
    CHECK(postgres::libpq_message(ec) == reason);
}

TEST_CASE("only the adapter's errors carry libpq's text", "[postgres][connect_errors]")
{
    using postgres::detail::with_libpq_text;
    // A cancelled connect, the pool's own errors, and success stay as they are.
    const error_code aborted = boost::asio::error::operation_aborted;
    CHECK(&with_libpq_text(aborted, "text").category() == &aborted.category());
    const error_code timeout = connpool::errc::connect_timeout;
    CHECK(with_libpq_text(timeout, "text").message() == timeout.message());
    CHECK(!with_libpq_text(error_code{}, "text"));
    // No text: the plain error, whose message points to the diagnostics.
    const error_code plain = with_libpq_text(client_errc::connection_failed, "");
    CHECK(&plain.category() == &postgres::client_category());
    CHECK_THAT(plain.message(), Catch::Contains("last_connect_diagnostics()"));
    // Other client errors keep their own message as headline.
    CHECK(with_libpq_text(client_errc::socket_error, "Bad file descriptor").message() ==
          error_code(client_errc::socket_error).message() + ": Bad file descriptor");
}

TEST_CASE("text that is not libpq's connect error is kept whole and has no SQLSTATE",
          "[postgres][connect_errors]")
{
    using postgres::detail::parse_connect_error;
    CHECK(parse_connect_error("").empty());
    // A SQLSTATE-looking token needs libpq's exact layout "<severity>:  XXXXX: ".
    for (std::string_view text : {"FATAL: 28P01: one blank only", "FATAL:  28p01: lower case",
                                  "FATAL:  28P0: four characters", "FATAL:  28P01 no colon"}) {
        INFO(text);
        const auto d = parse_connect_error(text);
        CHECK(d.sqlstate.empty());
        CHECK(d.severity.empty());
        CHECK(d.text == text);
        CHECK(d.message == text);
    }
}
