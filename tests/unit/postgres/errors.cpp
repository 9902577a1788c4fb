// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// The PostgreSQL adapter's error codes without a server and without libpq: every SQLSTATE class
// of PostgreSQL's Appendix A reads right in message(), malformed SQLSTATEs never become
// "success", and the classification a pool acts on (connection error, permanent error) holds.

#include "libpq_free.hpp"

#include <catch2/catch.hpp>

#include <boost/system/errc.hpp>

#include <set>
#include <string>
#include <string_view>

namespace {

struct sqlstate_class {
    std::string_view code, name;
};

// PostgreSQL 15, Appendix A "PostgreSQL Error Codes": every class, as the documentation names it.
// Written from the documentation, not taken from detail/sqlstate.hpp's table: a second witness.
constexpr sqlstate_class appendix_a[] = {
    {"00", "successful completion"},
    {"01", "warning"},
    {"02", "no data"},
    {"03", "SQL statement not yet complete"},
    {"08", "connection exception"},
    {"09", "triggered action exception"},
    {"0A", "feature not supported"},
    {"0B", "invalid transaction initiation"},
    {"0F", "locator exception"},
    {"0L", "invalid grantor"},
    {"0P", "invalid role specification"},
    {"0Z", "diagnostics exception"},
    {"20", "case not found"},
    {"21", "cardinality violation"},
    {"22", "data exception"},
    {"23", "integrity constraint violation"},
    {"24", "invalid cursor state"},
    {"25", "invalid transaction state"},
    {"26", "invalid SQL statement name"},
    {"27", "triggered data change violation"},
    {"28", "invalid authorization specification"},
    {"2B", "dependent privilege descriptors still exist"},
    {"2D", "invalid transaction termination"},
    {"2F", "SQL routine exception"},
    {"34", "invalid cursor name"},
    {"38", "external routine exception"},
    {"39", "external routine invocation exception"},
    {"3B", "savepoint exception"},
    {"3D", "invalid catalog name"},
    {"3F", "invalid schema name"},
    {"40", "transaction rollback"},
    {"42", "syntax error or access rule violation"},
    {"44", "WITH CHECK OPTION violation"},
    {"53", "insufficient resources"},
    {"54", "program limit exceeded"},
    {"55", "object not in prerequisite state"},
    {"57", "operator intervention"},
    {"58", "system error"},
    {"72", "snapshot failure"},
    {"F0", "configuration file error"},
    {"HV", "foreign data wrapper error"},
    {"P0", "PL/pgSQL error"},
    {"XX", "internal error"},
};

bool is_class(const error_code& ec, std::string_view cls)
{
    return postgres::sqlstate_of(ec).substr(0, 2) == cls;
}

}  // namespace

TEST_CASE("every SQLSTATE class of Appendix A is a postgres.sqlstate error named after its class",
          "[postgres][errors]")
{
    for (const auto& c : appendix_a) {
        // "00000" is success, not an error: the class is checked on a code of its own.
        const std::string code = std::string(c.code) + (c.code == "00" ? "001" : "000");
        INFO(code);
        const error_code ec = make_sqlstate_error(code);
        CHECK(ec);
        CHECK(ec.category() == postgres::sqlstate_category());
        CHECK(std::string(ec.category().name()) == "postgres.sqlstate");
        CHECK(postgres::sqlstate_of(ec) == code);
        CHECK(ec.message().ends_with("(class " + std::string(c.code) + ": " + std::string(c.name) +
                                     ")"));
    }
}

TEST_CASE("the conditions users meet most are named by their PostgreSQL condition name",
          "[postgres][errors]")
{
    struct expected {
        const char* code;
        const char* message;
    };
    const expected cases[] = {
        {"08006", "08006 connection_failure (class 08: connection exception)"},
        {"08P01", "08P01 protocol_violation (class 08: connection exception)"},
        {"22012", "22012 division_by_zero (class 22: data exception)"},
        {"23505", "23505 unique_violation (class 23: integrity constraint violation)"},
        {"25P02", "25P02 in_failed_sql_transaction (class 25: invalid transaction state)"},
        {"28000", "28000 invalid_authorization_specification (class 28: invalid authorization "
                  "specification)"},
        {"28P01", "28P01 invalid_password (class 28: invalid authorization specification)"},
        {"3D000", "3D000 invalid_catalog_name (class 3D: invalid catalog name)"},
        {"40001", "40001 serialization_failure (class 40: transaction rollback)"},
        {"40P01", "40P01 deadlock_detected (class 40: transaction rollback)"},
        {"42601", "42601 syntax_error (class 42: syntax error or access rule violation)"},
        {"42P01", "42P01 undefined_table (class 42: syntax error or access rule violation)"},
        {"53300", "53300 too_many_connections (class 53: insufficient resources)"},
        {"55P03", "55P03 lock_not_available (class 55: object not in prerequisite state)"},
        {"57014", "57014 query_canceled (class 57: operator intervention)"},
        {"57P01", "57P01 admin_shutdown (class 57: operator intervention)"},
        {"57P03", "57P03 cannot_connect_now (class 57: operator intervention)"},
        {"XX000", "XX000 internal_error (class XX: internal error)"},
    };
    for (const auto& c : cases) {
        INFO(c.code);
        CHECK(make_sqlstate_error(c.code).message() == c.message);
    }
}

TEST_CASE("an unknown SQLSTATE keeps its code; a malformed one is a protocol error, never success",
          "[postgres][errors]")
{
    // Well-formed, but not in any table: the code survives, the class says it is unknown.
    CHECK(make_sqlstate_error("99ABC").message() == "99ABC (class 99: unknown class)");
    CHECK(postgres::sqlstate_of(make_sqlstate_error("99ABC")) == "99ABC");
    CHECK(make_sqlstate_error("08ZZZ").message() == "08ZZZ (class 08: connection exception)");
    CHECK(postgres::sqlstate_of(make_sqlstate_error("ZZZZZ")) == "ZZZZZ");  // the largest value

    // Not five characters of [0-9A-Z]: the server sent something unexpected.
    for (const char* bad :
         {"", "5330", "533000", "53a00", "53 00", "53-00", "bad", "\xc3\x84XXX"}) {
        INFO('"' << bad << '"');
        const error_code ec = make_sqlstate_error(bad);
        CHECK(ec == client_errc::protocol_error);
        CHECK(postgres::sqlstate_of(ec).empty());
    }
    // "00000" (successful completion) as an error code would read as "no error": a failure that
    // reports it must still fail.
    CHECK(make_sqlstate_error("00000"));

    // Values no SQLSTATE encodes to (an error_code built by hand).
    for (int v : {-1, 36 * 36 * 36 * 36 * 36}) {
        const error_code ec(v, postgres::sqlstate_category());
        CHECK(ec.message() == "not a SQLSTATE");
        CHECK(postgres::sqlstate_of(ec).empty());
    }
}

TEST_CASE("the SQLSTATE codec round-trips every character and rejects the rest",
          "[postgres][errors]")
{
    using postgres::detail::decode_sqlstate;
    using postgres::detail::encode_sqlstate;
    const std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::set<int> seen;
    for (char c : alphabet) {
        for (std::string code :
             {std::string(5, c), std::string("0000") + c, c + std::string("0000")}) {
            INFO(code);
            const int v = encode_sqlstate(code);
            CHECK(v >= 0);
            CHECK(decode_sqlstate(v) == code);
            seen.insert(v);
        }
    }
    CHECK(seen.size() == 3 * alphabet.size() - 2);  // '0' gives "00000" three times
    CHECK(encode_sqlstate("00000") == 0);
    CHECK(encode_sqlstate("ZZZZZ") == 36 * 36 * 36 * 36 * 36 - 1);
    CHECK(encode_sqlstate("0000a") == -1);
    CHECK(encode_sqlstate("0000") == -1);
    CHECK(decode_sqlstate(-1).empty());
    CHECK(decode_sqlstate(36 * 36 * 36 * 36 * 36).empty());
    // The order of the codes is the order of the values: a class is one contiguous range.
    CHECK(encode_sqlstate("08000") < encode_sqlstate("08P01"));
    CHECK(encode_sqlstate("08ZZZ") < encode_sqlstate("09000"));
}

TEST_CASE("connection errors are class 08, the three shutdown/startup codes of class 57, and "
          "the lost/failed connection or socket",
          "[postgres][errors]")
{
    for (const auto& c : appendix_a) {
        if (c.code == "00")
            continue;
        const error_code ec = make_sqlstate_error(std::string(c.code) + "000");
        INFO(ec.message());
        CHECK(postgres::is_connection_error(ec) == is_class(ec, "08"));
    }
    for (const char* code : {"08000", "08001", "08003", "08004", "08006", "08P01", "08ZZZ"})
        CHECK(postgres::is_connection_error(make_sqlstate_error(code)));
    // The server went away or will not take connections now: this connection is done.
    for (const char* code : {"57P01", "57P02", "57P03"})
        CHECK(postgres::is_connection_error(make_sqlstate_error(code)));
    // The statement failed, the connection is fine.
    for (const char* code : {"57014", "57000", "57P04", "53300", "23505", "40001", "28P01"})
        CHECK_FALSE(postgres::is_connection_error(make_sqlstate_error(code)));

    CHECK(postgres::is_connection_error(client_errc::connection_failed));
    CHECK(postgres::is_connection_error(client_errc::connection_lost));
    CHECK(postgres::is_connection_error(client_errc::socket_error));
    CHECK(postgres::is_connection_error(client_errc::protocol_error));
    for (client_errc e :
         {client_errc::invalid_conninfo, client_errc::query_failed, client_errc::busy,
          client_errc::not_connected, client_errc::unsupported, client_errc::out_of_memory})
        CHECK_FALSE(postgres::is_connection_error(e));

    // Errors of other categories, even with the same values, are not the adapter's.
    CHECK_FALSE(postgres::is_connection_error(connpool::errc::connect_timeout));
    CHECK_FALSE(
        postgres::is_connection_error(make_error_code(boost::system::errc::connection_refused)));
    CHECK_FALSE(postgres::is_connection_error(error_code{}));
}

TEST_CASE("only configuration errors are permanent: bad credentials, unknown database, invalid "
          "conninfo",
          "[postgres][errors]")
{
    using postgres::detail::is_permanent_connect_error;               // factory::is_permanent_error
    CHECK(is_permanent_connect_error(make_sqlstate_error("28P01")));  // invalid_password
    CHECK(is_permanent_connect_error(make_sqlstate_error("28000")));  // e.g. no pg_hba.conf entry
    CHECK(is_permanent_connect_error(make_sqlstate_error("3D000")));  // unknown database
    CHECK(is_permanent_connect_error(client_errc::invalid_conninfo));

    // Retrying may help: the server is busy, starting, or unreachable for now.
    CHECK_FALSE(is_permanent_connect_error(make_sqlstate_error("53300")));
    CHECK_FALSE(is_permanent_connect_error(make_sqlstate_error("57P03")));
    CHECK_FALSE(is_permanent_connect_error(make_sqlstate_error("08006")));
    // PgBouncer reports bad credentials and unknown databases as 08P01.
    CHECK_FALSE(is_permanent_connect_error(make_sqlstate_error("08P01")));
    CHECK_FALSE(is_permanent_connect_error(client_errc::connection_failed));
    CHECK_FALSE(is_permanent_connect_error(client_errc::out_of_memory));
    CHECK_FALSE(is_permanent_connect_error(connpool::errc::connect_timeout));
    CHECK_FALSE(is_permanent_connect_error(error_code{}));
    // The same values in another category are not SQLSTATEs.
    CHECK_FALSE(is_permanent_connect_error(
        error_code(make_sqlstate_error("28P01").value(), connpool::pool_category())));
}

TEST_CASE("every client_errc has a message of its own that says what happened",
          "[postgres][errors]")
{
    const client_errc all[] = {
        client_errc::connection_failed,
        client_errc::invalid_conninfo,
        client_errc::connection_lost,
        client_errc::socket_error,
        client_errc::protocol_error,
        client_errc::query_failed,
        client_errc::busy,
        client_errc::not_connected,
        client_errc::unsupported,
        client_errc::out_of_memory,
    };
    std::set<std::string> messages;
    for (client_errc e : all) {
        const error_code ec = e;  // is_error_code_enum: converts implicitly
        INFO(static_cast<int>(e));
        CHECK(ec);
        CHECK(ec.category() == postgres::client_category());
        CHECK(std::string(ec.category().name()) == "postgres.client");
        CHECK(ec.message().find("unknown") == std::string::npos);
        CHECK(postgres::sqlstate_of(ec).empty());
        CHECK(postgres::libpq_message(ec).empty());  // the plain code carries no text
        messages.insert(ec.message());
    }
    CHECK(messages.size() == std::size(all));
    // The messages that a user can act on say what to do.
    CHECK_THAT(error_code(client_errc::connection_failed).message(),
               Catch::Contains("last_connect_diagnostics()") &&
                   Catch::Contains("check that it runs"));
    CHECK_THAT(error_code(client_errc::invalid_conninfo).message(),
               Catch::Contains("fix the conninfo"));
    CHECK_THAT(error_code(client_errc::busy).message(), Catch::Contains("wait for it"));
    CHECK_THAT(error_code(client_errc::unsupported).message(), Catch::Contains("COPY"));
    // A value no enumerator has.
    CHECK(error_code(0, postgres::client_category()).message() ==
          "unknown connpool::postgres client error");
    CHECK(error_code(99, postgres::client_category()).message() ==
          "unknown connpool::postgres client error");
    // The two categories are distinct from each other and from the pool's.
    CHECK(postgres::client_category() != postgres::sqlstate_category());
    CHECK(postgres::client_category() != connpool::pool_category());
    CHECK(error_code(client_errc::busy) != make_sqlstate_error("57014"));
}
