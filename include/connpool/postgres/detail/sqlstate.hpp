// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DETAIL_SQLSTATE_HPP
#define CONNPOOL_POSTGRES_DETAIL_SQLSTATE_HPP

// SQLSTATEs as plain values, without libpq and without error_code: the codec that stores a
// five-character SQLSTATE in an error_code's int, the names of PostgreSQL's classes and common
// conditions (the `postgres.sqlstate` category's message), and which SQLSTATEs say that the
// connection is unusable or that retrying a connect cannot help.

#include <cstddef>
#include <string>
#include <string_view>

namespace connpool::postgres::detail {

// A SQLSTATE is five characters of [0-9A-Z].
constexpr bool is_sqlstate_char(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

// SQLSTATE <-> int: five characters in [0-9A-Z], read as a base-36 number ("00000" = 0,
// "ZZZZZ" = 36^5 - 1 = 60'466'175, well within an int). -1 when `s` is not a SQLSTATE.
constexpr int encode_sqlstate(std::string_view s) noexcept
{
    if (s.size() != 5)
        return -1;
    int v = 0;
    for (char c : s) {
        if (!is_sqlstate_char(c))
            return -1;
        v = v * 36 + (c <= '9' ? c - '0' : c - 'A' + 10);
    }
    return v;
}

// The SQLSTATE of `v`; empty when `v` is not one (negative, or 36^5 and above).
inline std::string decode_sqlstate(int v)
{
    if (v < 0 || v >= 36 * 36 * 36 * 36 * 36)
        return {};
    std::string s(5, '0');
    for (int i = 4; i >= 0; --i) {
        const int d = v % 36;
        s[static_cast<std::size_t>(i)] = static_cast<char>(d < 10 ? '0' + d : 'A' + (d - 10));
        v /= 36;
    }
    return s;
}

struct sqlstate_name {
    std::string_view code, name;
};

// The classes of PostgreSQL's Appendix A, and the condition names users meet most.
inline constexpr sqlstate_name sqlstate_classes[] = {
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

inline constexpr sqlstate_name sqlstate_conditions[] = {
    {"08000", "connection_exception"},
    {"08001", "sqlclient_unable_to_establish_sqlconnection"},
    {"08003", "connection_does_not_exist"},
    {"08004", "sqlserver_rejected_establishment_of_sqlconnection"},
    {"08006", "connection_failure"},
    {"08P01", "protocol_violation"},
    {"0A000", "feature_not_supported"},
    {"22012", "division_by_zero"},
    {"22P02", "invalid_text_representation"},
    {"23502", "not_null_violation"},
    {"23503", "foreign_key_violation"},
    {"23505", "unique_violation"},
    {"25001", "active_sql_transaction"},
    {"25P02", "in_failed_sql_transaction"},
    {"28000", "invalid_authorization_specification"},
    {"28P01", "invalid_password"},
    {"3D000", "invalid_catalog_name"},
    {"40001", "serialization_failure"},
    {"40P01", "deadlock_detected"},
    {"42501", "insufficient_privilege"},
    {"42601", "syntax_error"},
    {"42703", "undefined_column"},
    {"42883", "undefined_function"},
    {"42P01", "undefined_table"},
    {"53000", "insufficient_resources"},
    {"53100", "disk_full"},
    {"53200", "out_of_memory"},
    {"53300", "too_many_connections"},
    {"55P03", "lock_not_available"},
    {"57014", "query_canceled"},
    {"57P01", "admin_shutdown"},
    {"57P02", "crash_shutdown"},
    {"57P03", "cannot_connect_now"},
    {"XX000", "internal_error"},
};

// What the `postgres.sqlstate` category says about value `v`:
// "28P01 invalid_password (class 28: invalid authorization specification)", or "not a SQLSTATE".
inline std::string describe_sqlstate(int v)
{
    const std::string code = decode_sqlstate(v);
    if (code.empty())
        return "not a SQLSTATE";
    std::string out = code;
    for (const auto& c : sqlstate_conditions)
        if (c.code == code) {
            out += ' ';
            out += c.name;
        }
    std::string_view cls = "unknown class";
    for (const auto& c : sqlstate_classes)
        if (c.code == std::string_view(code).substr(0, 2))
            cls = c.name;
    out += " (class ";
    out += code.substr(0, 2);
    out += ": ";
    out += cls;
    out += ')';
    return out;
}

// The connection itself is unusable: class 08 (connection exception), 57P01 admin_shutdown,
// 57P02 crash_shutdown, 57P03 cannot_connect_now.
constexpr bool is_connection_sqlstate(int v) noexcept
{
    return (v >= encode_sqlstate("08000") && v <= encode_sqlstate("08ZZZ")) ||
           v == encode_sqlstate("57P01") || v == encode_sqlstate("57P02") ||
           v == encode_sqlstate("57P03");
}

// A connect failing with it fails again until someone changes the configuration: 28P01
// invalid_password, 28000 invalid_authorization_specification, 3D000 invalid_catalog_name
// (unknown database). Not 53300 too_many_connections nor 57P03 cannot_connect_now: those pass.
// (Behind PgBouncer, bad credentials and unknown databases come back as 08P01: not permanent.)
constexpr bool is_permanent_sqlstate(int v) noexcept
{
    return v == encode_sqlstate("28P01") || v == encode_sqlstate("28000") ||
           v == encode_sqlstate("3D000");
}

}  // namespace connpool::postgres::detail

#endif
