// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_ERROR_HPP
#define CONNPOOL_POSTGRES_ERROR_HPP

/// \file postgres/error.hpp
/// The errors of the PostgreSQL adapter, as `error_code`s in two categories:
/// `postgres.sqlstate` (the server's SQLSTATE) and `postgres.client` (libpq-level failures,
/// `client_errc`); sqlstate_of() and is_connection_error() to classify them, libpq_message() for
/// the text a failed connect carries. Needs no libpq.

#include <connpool/detail/described_error.hpp>
#include <connpool/error.hpp>
#include <connpool/postgres/detail/sqlstate.hpp>

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace connpool::postgres {

/// libpq-level failures (category `postgres.client`): no SQLSTATE from the server.
enum class client_errc {
    connection_failed = 1,  ///< A connect failed without a SQLSTATE (refused, unreachable, ...).
    invalid_conninfo,       ///< The connection string does not parse (permanent).
    connection_lost,        ///< The connection is gone (CONNECTION_BAD); it is marked broken.
    socket_error,           ///< Waiting for the socket failed; the connection is marked broken.
    protocol_error,         ///< An unexpected response from the server; marked broken.
    query_failed,           ///< libpq rejected or failed the query without a SQLSTATE.
    busy,                   ///< Another operation is still running on this connection.
    not_connected,          ///< The connection is empty (default-constructed or moved from).
    unsupported,            ///< A COPY result (not supported); the connection is marked broken.
    out_of_memory,          ///< libpq could not allocate.
};

}  // namespace connpool::postgres

namespace boost::system {
template <>
struct is_error_code_enum<::connpool::postgres::client_errc> : std::true_type {};
}  // namespace boost::system

namespace connpool::postgres {

namespace detail {

// The ids of the two categories. Boost.System compares categories with a nonzero id by id: the
// categories that carry libpq's text (detail/connect_error.hpp) reuse these.
inline constexpr unsigned long long sqlstate_category_id = 0x5d2b'7c41'9e03'a611ULL;
inline constexpr unsigned long long client_category_id = 0x5d2b'7c41'9e03'a612ULL;

class sqlstate_category_impl final : public boost::system::error_category {
public:
    constexpr sqlstate_category_impl() noexcept : error_category(sqlstate_category_id) {}

    const char* name() const noexcept override { return "postgres.sqlstate"; }

    // "28P01 invalid_password (class 28: invalid authorization specification)"
    std::string message(int ev) const override { return describe_sqlstate(ev); }
};

class client_category_impl final : public boost::system::error_category {
public:
    constexpr client_category_impl() noexcept : error_category(client_category_id) {}

    const char* name() const noexcept override { return "postgres.client"; }

    std::string message(int ev) const override { return message(ev, nullptr, 0); }

    const char* message(int ev, char*, std::size_t) const noexcept override
    {
        switch (static_cast<client_errc>(ev)) {
        case client_errc::connection_failed:
            return "could not connect to the PostgreSQL server (libpq's message is in the "
                   "factory's last_connect_diagnostics()); check that it runs and that host and "
                   "port are right";
        case client_errc::invalid_conninfo:
            return "the PostgreSQL connection string is invalid; fix the conninfo";
        case client_errc::connection_lost:
            return "the connection to the PostgreSQL server was lost";
        case client_errc::socket_error:
            return "waiting for the PostgreSQL connection's socket failed";
        case client_errc::protocol_error:
            return "unexpected response from the PostgreSQL server";
        case client_errc::query_failed:
            return "libpq failed the query (see the diagnostics)";
        case client_errc::busy:
            return "another operation is still running on this PostgreSQL connection; wait for "
                   "it to complete first";
        case client_errc::not_connected:
            return "the PostgreSQL connection object is empty (default-constructed or moved "
                   "from)";
        case client_errc::unsupported:
            return "COPY is not supported by connpool::postgres; the connection was dropped";
        case client_errc::out_of_memory:
            return "libpq ran out of memory";
        }
        return "unknown connpool::postgres client error";
    }
};

inline constexpr sqlstate_category_impl sqlstate_category_instance{};
inline constexpr client_category_impl client_category_instance{};

}  // namespace detail

/// The category of server errors: the value encodes the 5-character SQLSTATE (base 36);
/// message() decodes it and names its condition and class.
inline const boost::system::error_category& sqlstate_category() noexcept
{
    return detail::sqlstate_category_instance;
}

/// The category of client_errc.
inline const boost::system::error_category& client_category() noexcept
{
    return detail::client_category_instance;
}

inline error_code make_error_code(client_errc e) noexcept
{
    return {static_cast<int>(e), client_category()};
}

/// The error_code of a SQLSTATE such as "53300"; client_errc::protocol_error if `sqlstate` is
/// not five characters of [0-9A-Z].
inline error_code make_sqlstate_error(std::string_view sqlstate) noexcept
{
    const int v = detail::encode_sqlstate(sqlstate);
    if (v <= 0)
        return client_errc::protocol_error;
    return {v, sqlstate_category()};
}

/// libpq's own text carried by a connect error (`connection to server at "127.0.0.1", port
/// 5433 failed: Connection refused; Is the server running ...`, or the server's FATAL message),
/// on one line; empty for other errors. `ec.message()` already ends with it: this is the text
/// alone. The full diagnostics (SQLSTATE, detail, hint) are in the factory's
/// last_connect_diagnostics() or the connection's last_diagnostics().
inline std::string_view libpq_message(const error_code& ec) noexcept
{
    return ::connpool::detail::described_text(ec);
}

/// The SQLSTATE of `ec` ("28P01"), or an empty string when `ec` is not a server error.
inline std::string sqlstate_of(const error_code& ec)
{
    return ec.category() == sqlstate_category() ? detail::decode_sqlstate(ec.value())
                                                : std::string();
}

/// True when `ec` says the connection itself is unusable: SQLSTATE class 08, 57P01
/// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, or a lost/failed connection
/// or socket. A connection whose operation fails with such an error is marked broken.
inline bool is_connection_error(const error_code& ec) noexcept
{
    if (ec.category() == sqlstate_category())
        return detail::is_connection_sqlstate(ec.value());
    if (ec.category() == client_category()) {
        switch (static_cast<client_errc>(ec.value())) {
        case client_errc::connection_failed:
        case client_errc::connection_lost:
        case client_errc::socket_error:
        case client_errc::protocol_error:
            return true;
        default:
            return false;
        }
    }
    return false;
}

}  // namespace connpool::postgres

#endif
