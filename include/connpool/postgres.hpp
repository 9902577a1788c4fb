// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_HPP
#define CONNPOOL_POSTGRES_HPP

/// \file postgres.hpp
/// A PostgreSQL adapter on libpq and Boost.Asio: `postgres::connection` (asynchronous connect,
/// queries, ping, reset), `postgres::factory` (the pool's connection_factory, with async_ping,
/// async_reset, is_healthy and is_permanent_error) and errors as `error_code`s in two
/// categories: `postgres.sqlstate` (the server's SQLSTATE) and `postgres.client` (libpq-level
/// failures), with the server's message in a `postgres::diagnostics`. A failed connect's
/// error_code carries libpq's text in its message() (see libpq_message()).
///
/// Link the CMake target `connpool::postgres` (it adds libpq). The umbrella header
/// <connpool/connpool.hpp> does not include this one.
///
/// How the I/O works: libpq runs in non-blocking mode and connpool waits for its socket
/// (`PQsocket`) with a `boost::asio::posix::stream_descriptor` that does not own the descriptor.
/// The descriptor is registered with the reactor only for the duration of one wait and released
/// (`release()`, never closed) before control goes back to libpq. libpq closes and replaces its
/// socket on its own (a new address during PQconnectPoll, a lost connection in PQconsumeInput);
/// a registration held across such a call could later deregister an unrelated descriptor that
/// was given the same number. Outside an operation a connection holds no Asio object at all,
/// so an idle connection may outlive its io_context.
///
/// Limits: name resolution in PQconnectStart/PQconnectPoll is blocking (use numeric host
/// addresses, or `hostaddr=`, where a DNS stall matters); COPY is not supported (a COPY result
/// fails with client_errc::unsupported and breaks the connection); results are in text format.

#include <connpool/detail/described_error.hpp>
#include <connpool/error.hpp>
#include <connpool/pool.hpp>

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::postgres {

// ============================================================================== errors

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

// SQLSTATE <-> int: five characters in [0-9A-Z], read as a base-36 number ("00000" = 0,
// "ZZZZZ" = 36^5 - 1 = 60'466'175, well within an int). -1 when `s` is not a SQLSTATE.
constexpr int encode_sqlstate(std::string_view s) noexcept
{
    if (s.size() != 5)
        return -1;
    int v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'Z')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 36 + d;
    }
    return v;
}

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

// The ids of the two categories. Boost.System compares categories with a nonzero id by id: the
// categories that carry libpq's text (described_category, below) reuse these.
inline constexpr unsigned long long sqlstate_category_id = 0x5d2b'7c41'9e03'a611ULL;
inline constexpr unsigned long long client_category_id = 0x5d2b'7c41'9e03'a612ULL;

class sqlstate_category_impl final : public boost::system::error_category {
public:
    constexpr sqlstate_category_impl() noexcept : error_category(sqlstate_category_id) {}

    const char* name() const noexcept override { return "postgres.sqlstate"; }

    // "28P01 invalid_password (class 28: invalid authorization specification)"
    std::string message(int ev) const override
    {
        const std::string code = decode_sqlstate(ev);
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

namespace detail {

// libpq's text of one failed connect, carried by the error_code itself
// (detail/described_error.hpp): `ec == client_errc::connection_failed`, `sqlstate_of(ec)`,
// `is_connection_error(ec)` and `ec.category() == client_category()` all hold as before; message()
// is the plain message followed by libpq's text, on one line. After max_described_categories
// distinct texts, errors carry the plain category, and the text is only in
// last_connect_diagnostics().

// The plain message, without its pointer to the diagnostics (the text follows).
inline std::string libpq_headline(const boost::system::error_category& base, int ev)
{
    if (base == client_category_instance) {
        switch (static_cast<client_errc>(ev)) {
        case client_errc::connection_failed:
            return "could not connect to the PostgreSQL server";
        case client_errc::invalid_conninfo:
            return "the PostgreSQL connection string is invalid";
        default:
            break;
        }
    }
    return base.message(ev);
}

// `ec` carrying libpq's `text` in its message; `ec` itself when it is not a client_errc or
// SQLSTATE error, when `text` is empty, or when the cap is reached.
inline error_code with_libpq_text(const error_code& ec, std::string_view text)
{
    if (ec.category() == client_category_instance)
        return ::connpool::detail::with_text(ec, client_category_instance, client_category_id, text,
                                             &libpq_headline);
    if (ec.category() == sqlstate_category_instance)
        return ::connpool::detail::with_text(ec, sqlstate_category_instance, sqlstate_category_id,
                                             text, &libpq_headline);
    return ec;
}

}  // namespace detail

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
    if (ec.category() == sqlstate_category()) {
        const int v = ec.value();
        constexpr int class08_lo = detail::encode_sqlstate("08000");
        constexpr int class08_hi = detail::encode_sqlstate("08ZZZ");
        return (v >= class08_lo && v <= class08_hi) || v == detail::encode_sqlstate("57P01") ||
               v == detail::encode_sqlstate("57P02") || v == detail::encode_sqlstate("57P03");
    }
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

/// What the server (or libpq) said about the last failure.
struct diagnostics {
    std::string severity;  ///< "ERROR", "FATAL", ... (empty for libpq's own errors)
    std::string sqlstate;  ///< "28P01", ... (empty for libpq's own errors)
    std::string message;   ///< The primary message, e.g. `password authentication failed ...`
    std::string detail;    ///< DETAIL, when the server sent one
    std::string hint;      ///< HINT, when the server sent one
    std::string text;      ///< libpq's whole error text (PQerrorMessage / PQresultErrorMessage)

    bool empty() const noexcept { return message.empty() && text.empty(); }
    void clear() noexcept { *this = diagnostics{}; }
};

// ============================================================================== result

/// Owns one PGresult (PQclear on destruction). Move-only. Values are in text format.
class result {
public:
    result() noexcept = default;
    /// Takes ownership of `r` (may be null).
    explicit result(PGresult* r) noexcept : r_(r) {}
    result(result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    result& operator=(result&& o) noexcept
    {
        if (this != &o) {
            reset();
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    result(const result&) = delete;
    result& operator=(const result&) = delete;
    ~result() { reset(); }

    explicit operator bool() const noexcept { return r_ != nullptr; }

    /// Number of rows (0 for commands and for an empty result).
    int rows() const noexcept { return r_ ? PQntuples(r_) : 0; }
    /// Number of columns.
    int columns() const noexcept { return r_ ? PQnfields(r_) : 0; }
    /// The value at (row, column) as text; empty for NULL. Precondition: in range.
    std::string_view value(int row, int column) const noexcept
    {
        return {PQgetvalue(r_, row, column),
                static_cast<std::size_t>(PQgetlength(r_, row, column))};
    }
    /// True when the value at (row, column) is NULL. Precondition: in range.
    bool is_null(int row, int column) const noexcept { return PQgetisnull(r_, row, column) != 0; }
    /// The value, or nullopt for NULL. Precondition: in range.
    std::optional<std::string_view> get(int row, int column) const noexcept
    {
        if (is_null(row, column))
            return std::nullopt;
        return value(row, column);
    }
    /// The column's name. Precondition: in range.
    std::string_view column_name(int column) const noexcept { return PQfname(r_, column); }
    /// The index of the column named `name`, or -1.
    int column(const char* name) const noexcept { return r_ ? PQfnumber(r_, name) : -1; }
    /// Rows affected by an INSERT/UPDATE/DELETE/... (PQcmdTuples), 0 otherwise.
    std::uint64_t affected_rows() const noexcept
    {
        if (!r_)
            return 0;
        const char* s = PQcmdTuples(r_);
        return s && *s ? std::strtoull(s, nullptr, 10) : 0;
    }
    /// PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, ...
    ExecStatusType status() const noexcept { return r_ ? PQresultStatus(r_) : PGRES_EMPTY_QUERY; }

    PGresult* native_handle() const noexcept { return r_; }
    /// Gives up ownership.
    PGresult* release() noexcept { return std::exchange(r_, nullptr); }

private:
    void reset() noexcept
    {
        if (r_)
            PQclear(std::exchange(r_, nullptr));
    }
    PGresult* r_ = nullptr;
};

/// Query parameters, in text format: `{"42", std::nullopt /* NULL */, "abc"}`.
using params = std::vector<std::optional<std::string>>;

class connection;
class factory;

namespace detail {

// libpq's default notice processor prints to stderr; a pool's connections stay quiet.
inline void silent_notice_processor(void*, const char*) {}

inline std::string trim(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return std::string(s);
}

inline bool is_sqlstate_char(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

// The diagnostics of a failed connect. During the connect the error verbosity is
// PQERRORS_VERBOSE, so the server's error reads "... failed: FATAL:  28P01: message\n
// DETAIL:  ...\nLOCATION:  ...": libpq keeps no PGresult of a failed startup, and this is the
// only public way to its SQLSTATE. The last "<severity>:  <SQLSTATE>: " wins (a conninfo with
// several hosts reports each attempt).
inline diagnostics parse_connect_error(std::string_view text)
{
    diagnostics d;
    std::size_t code_at = std::string_view::npos;
    for (std::size_t i = 0; i + 10 <= text.size(); ++i) {
        if (text[i] == ':' && text[i + 1] == ' ' && text[i + 2] == ' ' &&
            is_sqlstate_char(text[i + 3]) && is_sqlstate_char(text[i + 4]) &&
            is_sqlstate_char(text[i + 5]) && is_sqlstate_char(text[i + 6]) &&
            is_sqlstate_char(text[i + 7]) && text[i + 8] == ':' && text[i + 9] == ' ')
            code_at = i;
    }
    std::string clean;  // the text without the SQLSTATE token and LOCATION lines
    if (code_at != std::string_view::npos) {
        std::size_t sev_begin = code_at;
        while (sev_begin > 0 && text[sev_begin - 1] != ' ' && text[sev_begin - 1] != '\n')
            --sev_begin;
        d.severity = std::string(text.substr(sev_begin, code_at - sev_begin));
        d.sqlstate = std::string(text.substr(code_at + 3, 5));
        const std::size_t msg_begin = code_at + 10;
        const std::size_t msg_end = std::min(text.find('\n', msg_begin), text.size());
        d.message = std::string(text.substr(msg_begin, msg_end - msg_begin));
        clean = std::string(text.substr(0, code_at + 3));
        clean += text.substr(msg_begin);
    } else {
        clean = std::string(text);
    }
    std::string kept;
    std::size_t pos = 0;
    while (pos < clean.size()) {
        std::size_t eol = clean.find('\n', pos);
        if (eol == std::string::npos)
            eol = clean.size();
        std::string_view line(clean.data() + pos, eol - pos);
        if (line.substr(0, 9) == "DETAIL:  ")
            d.detail = std::string(line.substr(9));
        else if (line.substr(0, 7) == "HINT:  ")
            d.hint = std::string(line.substr(7));
        if (line.substr(0, 10) != "LOCATION: ") {
            kept += line;
            kept += '\n';
        }
        pos = eol + 1;
    }
    d.text = trim(kept);
    if (d.message.empty())
        d.message = d.text;
    return d;
}

inline diagnostics diagnostics_of(const PGresult* r)
{
    diagnostics d;
    auto field = [r](int code) {
        const char* s = PQresultErrorField(r, code);
        return s ? std::string(s) : std::string();
    };
    d.severity = field(PG_DIAG_SEVERITY_NONLOCALIZED);
    d.sqlstate = field(PG_DIAG_SQLSTATE);
    d.message = field(PG_DIAG_MESSAGE_PRIMARY);
    d.detail = field(PG_DIAG_MESSAGE_DETAIL);
    d.hint = field(PG_DIAG_MESSAGE_HINT);
    d.text = trim(PQresultErrorMessage(r));
    if (d.message.empty())
        d.message = d.text;
    return d;
}

inline diagnostics diagnostics_of(const PGconn* c)
{
    diagnostics d;
    d.text = trim(c ? PQerrorMessage(c) : "");
    d.message = d.text;
    return d;
}

// Everything a connection owns. On the heap, shared with the operation in flight: moving a
// connection moves a pointer, and a connection destroyed while an operation runs (a lease given
// back too early) stays alive until that operation completes.
struct connection_state {
    explicit connection_state(boost::asio::any_io_executor e) : ex(std::move(e)) {}
    connection_state(const connection_state&) = delete;
    connection_state& operator=(const connection_state&) = delete;
    ~connection_state()
    {
        if (socket)  // only during a wait, which holds a reference: not reached, but be safe
            socket->release();
        if (conn)
            PQfinish(conn);
    }

    // Registers libpq's current socket for one wait. False with `ec` set if there is none.
    bool watch(error_code& ec)
    {
        const int fd = PQsocket(conn);
        if (fd < 0) {
            ec = client_errc::connection_lost;
            return false;
        }
        socket.emplace(ex);
        socket->assign(fd, ec);
        if (ec) {
            socket.reset();
            ec = client_errc::socket_error;
            return false;
        }
        return true;
    }

    // Deregisters the socket without closing it (libpq owns the descriptor).
    void unwatch() noexcept
    {
        if (socket) {
            socket->release();
            socket.reset();
        }
    }

    void fail(error_code ec, diagnostics d)
    {
        diag = std::move(d);
        if (is_connection_error(ec) || (conn && PQstatus(conn) == CONNECTION_BAD))
            broken.store(true, std::memory_order_relaxed);
    }

    boost::asio::any_io_executor ex;
    PGconn* conn = nullptr;
    std::optional<boost::asio::posix::stream_descriptor> socket;
    // Read by is_healthy() from any thread. Relaxed: a flag on its own; the pool's hand-over of
    // the connection orders everything else.
    std::atomic<bool> busy{false};
    std::atomic<bool> broken{false};
    diagnostics diag;
};

// Posts `self` (an async_compose op) to its associated executor: completions never run inside
// the initiating function.
template <class Self>
void post_self(Self& self)
{
    boost::asio::post(std::move(self));
}

// The executor an operation's work is tracked on: the connection's, or (for an empty connection,
// which has none) the system executor.
inline boost::asio::any_io_executor executor_of(const std::shared_ptr<connection_state>& st)
{
    if (st)
        return st->ex;
    return boost::asio::any_io_executor(boost::asio::system_executor());
}

struct connect_op;
struct exec_op;
struct reset_op;

}  // namespace detail

// ============================================================================== connection

/// One libpq connection, driven asynchronously on Asio. Move-only; an empty (default-constructed
/// or moved-from) connection fails every operation with client_errc::not_connected.
///
/// One operation at a time: a second one started while the first runs fails with
/// client_errc::busy. An operation that fails with a connection-level error (see
/// is_connection_error()) marks the connection broken: is_healthy() is false from then on, and
/// a pool destroys it when its lease comes back.
///
/// Thread safety: like an Asio socket: one thread (or strand) at a time uses a connection;
/// is_healthy(), is_broken(), backend_pid() and request_cancel() may be called from any thread.
class connection {
public:
    using executor_type = boost::asio::any_io_executor;
    using connect_signature = void(error_code, connection);
    using query_signature = void(error_code, result);
    using status_signature = void(error_code);

    connection() noexcept = default;
    connection(connection&&) noexcept = default;
    connection& operator=(connection&&) noexcept = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() = default;  // PQfinish, once no operation runs on it any more

    /// Opens a connection with PQconnectStart/PQconnectPoll; its socket is waited on with `ex`.
    /// Completion signature: void(error_code, connection). On failure the connection is not
    /// connected but carries the diagnostics (last_diagnostics()).
    /// Errors: a server error in the `postgres.sqlstate` category (28P01 invalid_password,
    /// 3D000 invalid_catalog_name, 53300 too_many_connections, 57P03 cannot_connect_now, ...),
    /// client_errc::invalid_conninfo, client_errc::connection_failed (refused, unreachable,
    /// closed during the handshake), client_errc::socket_error, client_errc::out_of_memory,
    /// boost::asio::error::operation_aborted when cancelled. The message() of a failed
    /// connect's error ends with libpq's own text, e.g. `could not connect to the PostgreSQL
    /// server: connection to server at "127.0.0.1", port 5433 failed: Connection refused; ...`
    /// (libpq_message(ec) is that text alone; last_diagnostics() has its parts).
    /// Cancellation: terminal, partial and total: the half-open connection is closed.
    template <class CompletionToken>
    static auto async_connect(executor_type ex, std::string conninfo, CompletionToken&& token);

    /// Runs one SQL statement with the extended protocol (PQsendQueryParams): `$1`, `$2` ... are
    /// bound to `args` (text format; nullopt is NULL). `sql` and `args` are copied.
    /// Completion signature: void(error_code, result). On failure the result is empty and
    /// last_diagnostics() has the server's message, SQLSTATE, detail and hint.
    /// Errors: the server's SQLSTATE (`postgres.sqlstate`), client_errc::connection_lost,
    /// client_errc::busy, client_errc::not_connected, client_errc::query_failed,
    /// client_errc::unsupported (COPY), boost::asio::error::operation_aborted when cancelled.
    /// Cancellation: terminal only. A query in flight cannot be taken back: cancelling
    /// completes at once with operation_aborted and marks the connection broken (a pool then
    /// destroys it, and PQfinish ends the session). To also stop the statement on the server,
    /// call request_cancel() from a thread that may block, or set statement_timeout.
    template <class CompletionToken>
    auto async_query(std::string_view sql, params args, CompletionToken&& token);

    /// As above, without parameters.
    template <class CompletionToken>
    auto async_query(std::string_view sql, CompletionToken&& token)
    {
        return async_query(sql, params{}, std::forward<CompletionToken>(token));
    }

    /// Runs `sql` with the simple protocol (PQsendQuery): several statements separated by `;`
    /// are allowed; the result is the last statement's. Errors and cancellation as async_query.
    template <class CompletionToken>
    auto async_execute(std::string_view sql, CompletionToken&& token);

    /// Sends an empty query and waits for its answer: a round trip that proves the connection
    /// works. Completion signature: void(error_code). Errors and cancellation as async_query.
    template <class CompletionToken>
    auto async_ping(CompletionToken&& token);

    /// Makes the connection fit for its next user: inside a transaction (PQtransactionStatus
    /// not PQTRANS_IDLE) it first runs ROLLBACK, then `reset_statement` unless it is empty
    /// (e.g. "DISCARD ALL"). `reset_statement` is copied. Completion signature: void(error_code).
    /// Errors as async_query; a connection with a query in flight (PQTRANS_ACTIVE) or in an
    /// unknown state fails with client_errc::busy / client_errc::connection_lost and is marked
    /// broken. Cancellation: terminal, as async_query.
    template <class CompletionToken>
    auto async_reset(std::string_view reset_statement, CompletionToken&& token);

    /// PQstatus is CONNECTION_OK, no operation is running, and no connection-level error was
    /// seen. Thread safety: any thread.
    bool is_healthy() const noexcept
    {
        return st_ && st_->conn && !st_->broken.load(std::memory_order_relaxed) &&
               !st_->busy.load(std::memory_order_relaxed) && PQstatus(st_->conn) == CONNECTION_OK;
    }

    /// A connection-level error was seen (or mark_broken() was called).
    bool is_broken() const noexcept { return !st_ || st_->broken.load(std::memory_order_relaxed); }

    /// Marks the connection broken: is_healthy() is false from now on.
    void mark_broken() noexcept
    {
        if (st_)
            st_->broken.store(true, std::memory_order_relaxed);
    }

    /// PQTRANS_IDLE, PQTRANS_INTRANS, PQTRANS_INERROR, PQTRANS_ACTIVE or PQTRANS_UNKNOWN.
    PGTransactionStatusType transaction_status() const noexcept
    {
        return st_ && st_->conn ? PQtransactionStatus(st_->conn) : PQTRANS_UNKNOWN;
    }

    /// The server process of this connection (PQbackendPID); 0 when not connected.
    int backend_pid() const noexcept { return st_ && st_->conn ? PQbackendPID(st_->conn) : 0; }

    /// What the server said about the last failed operation (or connect); cleared when an
    /// operation starts.
    const diagnostics& last_diagnostics() const noexcept
    {
        static const diagnostics none;
        return st_ ? st_->diag : none;
    }

    /// Asks the server to cancel the statement running on this connection (PQcancel: it
    /// connects to the server, so it BLOCKS for a round trip; call it from a thread that may
    /// block). The query then fails with SQLSTATE 57014 query_canceled, or completes if it was
    /// already done. Returns client_errc::query_failed with libpq's message in `why` when the
    /// request could not be sent. Thread safety: any thread.
    error_code request_cancel(std::string* why = nullptr) const
    {
        if (!st_ || !st_->conn)
            return client_errc::not_connected;
        PGcancel* c = PQgetCancel(st_->conn);
        if (!c)
            return client_errc::not_connected;
        std::array<char, 256> buf{};
        const int ok = PQcancel(c, buf.data(), static_cast<int>(buf.size()));
        PQfreeCancel(c);
        if (ok)
            return {};
        if (why)
            *why = buf.data();
        return client_errc::query_failed;
    }

    /// The libpq handle, for what this class does not wrap. Do not run blocking libpq calls on
    /// it while an operation runs, and do not close it.
    PGconn* native_handle() const noexcept { return st_ ? st_->conn : nullptr; }

    /// The executor its socket is waited on with (the one given to async_connect).
    executor_type get_executor() const noexcept { return st_ ? st_->ex : executor_type{}; }

private:
    friend struct detail::connect_op;
    friend struct detail::exec_op;
    friend struct detail::reset_op;

    explicit connection(std::shared_ptr<detail::connection_state> st) noexcept : st_(std::move(st))
    {
    }

    std::shared_ptr<detail::connection_state> st_;
};

namespace detail {

// PQconnectStart, then PQconnectPoll each time its socket is ready as libpq asked.
struct connect_op {
    connect_op(std::shared_ptr<connection_state> s, std::string ci)
        : st(std::move(s)), conninfo(std::move(ci))
    {
    }

    std::shared_ptr<connection_state> st;
    std::string conninfo;
    PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
    enum class step { start, polling, failed } at = step::start;
    error_code failure{};

    template <class Self>
    void operator()(Self& self, error_code ec = {})
    {
        switch (at) {
        case step::start:
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            return start(self);
        case step::polling:
            st->unwatch();
            if (!ec && self.cancelled() != boost::asio::cancellation_type::none)
                ec = boost::asio::error::operation_aborted;
            if (ec) {
                const bool aborted = ec == boost::asio::error::operation_aborted;
                return finish(self, aborted ? ec : make_error_code(client_errc::socket_error),
                              aborted ? diagnostics{} : diagnostics_of(st->conn));
            }
            polling = PQconnectPoll(st->conn);
            return advance(self);
        case step::failed:
            return self.complete(failure, connection(std::move(st)));
        }
    }

    template <class Self>
    void start(Self& self)
    {
        char* parse_error = nullptr;
        PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &parse_error);
        if (!opts) {
            diagnostics d;
            d.text = parse_error ? trim(parse_error) : std::string("out of memory");
            d.message = d.text;
            if (parse_error)
                PQfreemem(parse_error);
            return fail_soon(
                self, parse_error ? client_errc::invalid_conninfo : client_errc::out_of_memory,
                std::move(d));
        }
        PQconninfoFree(opts);
        st->conn = PQconnectStart(conninfo.c_str());
        if (!st->conn)
            return fail_soon(self, client_errc::out_of_memory, {});
        // Before the first PQconnectPoll step that talks to the server (PQconnectStart only
        // resolves the address and starts the TCP connect).
        PQsetErrorVerbosity(st->conn, PQERRORS_VERBOSE);
        PQsetNoticeProcessor(st->conn, &silent_notice_processor, nullptr);
        if (PQstatus(st->conn) == CONNECTION_BAD) {
            diagnostics d = parse_connect_error(PQerrorMessage(st->conn));
            return fail_soon(self, client_errc::connection_failed, std::move(d));
        }
        at = step::polling;
        polling = PGRES_POLLING_WRITING;  // as libpq's documentation says to start
        return wait(self);
    }

    template <class Self>
    void advance(Self& self)
    {
        switch (polling) {
        case PGRES_POLLING_OK: {
            PQsetErrorVerbosity(st->conn, PQERRORS_DEFAULT);
            if (PQsetnonblocking(st->conn, 1) != 0)
                return finish(self, client_errc::connection_failed, diagnostics_of(st->conn));
            st->diag.clear();
            return self.complete(error_code{}, connection(std::move(st)));
        }
        case PGRES_POLLING_FAILED: {
            diagnostics d = parse_connect_error(PQerrorMessage(st->conn));
            error_code ec = d.sqlstate.empty() ? make_error_code(client_errc::connection_failed)
                                               : make_sqlstate_error(d.sqlstate);
            return finish(self, ec, std::move(d));
        }
        default:
            return wait(self);
        }
    }

    template <class Self>
    void wait(Self& self)
    {
        error_code ec;
        if (!st->watch(ec))
            return finish(self, ec, diagnostics_of(st->conn));
        using w = boost::asio::posix::stream_descriptor;
        st->socket->async_wait(polling == PGRES_POLLING_READING ? w::wait_read : w::wait_write,
                               std::move(self));
    }

    // A failed connect's error carries libpq's text in its message (with_libpq_text).
    template <class Self>
    void finish(Self& self, error_code ec, diagnostics d)
    {
        if (ec != boost::asio::error::operation_aborted)
            ec = with_libpq_text(ec, d.text);
        st->diag = std::move(d);
        if (st->conn)
            PQfinish(std::exchange(st->conn, nullptr));
        self.complete(ec, connection(std::move(st)));
    }

    template <class Self>
    void fail_soon(Self& self, error_code ec, diagnostics d)
    {
        failure = with_libpq_text(ec, d.text);
        st->diag = std::move(d);
        if (st->conn)
            PQfinish(std::exchange(st->conn, nullptr));
        at = step::failed;
        post_self(self);
    }
};

// One command: send (PQsendQueryParams or PQsendQuery), flush, then read results until
// PQgetResult returns null.
struct exec_op {
    exec_op(std::shared_ptr<connection_state> s, std::string_view q, params a, bool ext)
        : st(std::move(s)), sql(q), args(std::move(a)), extended(ext)
    {
    }

    std::shared_ptr<connection_state> st;
    std::string sql;
    params args;
    bool extended = true;
    enum class step { start, flushing, reading, done } at = step::start;
    bool owns_busy = false;
    error_code failure{};
    diagnostics pending;  // of a failure found before the first wait
    result last;

    template <class Self>
    void operator()(Self& self, error_code ec = {})
    {
        switch (at) {
        case step::start:
            return start(self);
        case step::flushing:
        case step::reading:
            st->unwatch();
            if (!ec && self.cancelled() != boost::asio::cancellation_type::none)
                ec = boost::asio::error::operation_aborted;
            if (ec) {
                // The query is on its way or running: the connection's state is unknown.
                st->broken.store(true, std::memory_order_relaxed);
                const bool aborted = ec == boost::asio::error::operation_aborted;
                return finish(self, aborted ? ec : make_error_code(client_errc::socket_error),
                              aborted ? diagnostics{} : diagnostics_of(st->conn));
            }
            if (at == step::flushing)
                return flush(self);
            if (!PQconsumeInput(st->conn))
                return finish(self, lost_or(client_errc::query_failed), diagnostics_of(st->conn));
            return read(self);
        case step::done:
            return finish(self, failure, std::move(pending));
        }
    }

    template <class Self>
    void start(Self& self)
    {
        if (!st || !st->conn)
            return fail_soon(self, client_errc::not_connected, {});
        if (st->busy.exchange(true, std::memory_order_relaxed))
            return fail_soon(self, client_errc::busy, {});
        owns_busy = true;
        st->diag.clear();
        if (PQstatus(st->conn) != CONNECTION_OK) {
            st->broken.store(true, std::memory_order_relaxed);
            return fail_soon(self, client_errc::connection_lost, diagnostics_of(st->conn));
        }
        int sent;
        if (extended) {
            std::vector<const char*> values;
            values.reserve(args.size());
            for (const auto& a : args)
                values.push_back(a ? a->c_str() : nullptr);
            sent = PQsendQueryParams(st->conn, sql.c_str(), static_cast<int>(values.size()),
                                     nullptr, values.data(), nullptr, nullptr, 0);
        } else {
            sent = PQsendQuery(st->conn, sql.c_str());
        }
        if (!sent)
            return fail_soon(self, lost_or(client_errc::query_failed), diagnostics_of(st->conn));
        at = step::flushing;
        flush(self);
    }

    template <class Self>
    void flush(Self& self)
    {
        const int r = PQflush(st->conn);
        if (r < 0)
            return finish(self, lost_or(client_errc::query_failed), diagnostics_of(st->conn));
        if (r == 1)  // more to send: libpq reads what the server sends meanwhile (no deadlock)
            return wait(self, boost::asio::posix::stream_descriptor::wait_write);
        at = step::reading;
        read(self);
    }

    template <class Self>
    void read(Self& self)
    {
        for (;;) {
            if (PQisBusy(st->conn))
                return wait(self, boost::asio::posix::stream_descriptor::wait_read);
            PGresult* r = PQgetResult(st->conn);
            if (!r)
                break;
            result res(r);
            switch (PQresultStatus(r)) {
            case PGRES_TUPLES_OK:
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY:
            case PGRES_SINGLE_TUPLE:
                if (!failure)
                    last = std::move(res);
                break;
            case PGRES_COPY_IN:
            case PGRES_COPY_OUT:
            case PGRES_COPY_BOTH: {
                diagnostics d;
                d.message = d.text = "COPY is not supported by connpool::postgres";
                st->broken.store(true, std::memory_order_relaxed);
                return finish(self, client_errc::unsupported, std::move(d));
            }
            default:  // PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE, ...
                if (!failure) {
                    diagnostics d = diagnostics_of(r);
                    if (!d.sqlstate.empty())
                        failure = make_sqlstate_error(d.sqlstate);
                    else if (PQresultStatus(r) == PGRES_BAD_RESPONSE)
                        failure = client_errc::protocol_error;
                    else
                        failure = lost_or(client_errc::query_failed);
                    st->diag = std::move(d);
                }
                break;
            }
        }
        if (!failure && PQstatus(st->conn) == CONNECTION_BAD)
            return finish(self, client_errc::connection_lost, diagnostics_of(st->conn));
        diagnostics d = std::move(st->diag);
        finish(self, failure, std::move(d));
    }

    template <class Self>
    void wait(Self& self, boost::asio::posix::stream_descriptor::wait_type w)
    {
        error_code ec;
        if (!st->watch(ec)) {
            st->broken.store(true, std::memory_order_relaxed);
            return finish(self, ec, diagnostics_of(st->conn));
        }
        st->socket->async_wait(w, std::move(self));
    }

    error_code lost_or(client_errc otherwise) const noexcept
    {
        return PQstatus(st->conn) == CONNECTION_BAD ? make_error_code(client_errc::connection_lost)
                                                    : make_error_code(otherwise);
    }

    // Only the operation that owns the connection (not one refused as busy) touches its state.
    template <class Self>
    void finish(Self& self, error_code ec, diagnostics d)
    {
        if (st && owns_busy) {
            if (ec)
                st->fail(ec, std::move(d));
            else
                st->diag.clear();
            st->busy.store(false, std::memory_order_relaxed);
        }
        st.reset();
        self.complete(ec, ec ? result{} : std::move(last));
    }

    template <class Self>
    void fail_soon(Self& self, error_code ec, diagnostics d)
    {
        failure = ec;
        at = step::done;
        pending = std::move(d);
        post_self(self);
    }
};

template <class CompletionToken>
auto async_exec(const std::shared_ptr<connection_state>& st, std::string_view sql, params args,
                bool extended, CompletionToken&& token)
{
    return boost::asio::async_compose<CompletionToken, void(error_code, result)>(
        exec_op(st, sql, std::move(args), extended), token, executor_of(st));
}

// ROLLBACK (only inside a transaction), then the reset statement (unless empty).
struct reset_op {
    reset_op(std::shared_ptr<connection_state> s, std::string_view stmt)
        : st(std::move(s)), statement(stmt)
    {
    }

    std::shared_ptr<connection_state> st;
    std::string statement;
    enum class step { start, rolled_back, reset, done } at = step::start;
    error_code failure{};

    template <class Self>
    void operator()(Self& self, error_code ec = {}, result = {})
    {
        switch (at) {
        case step::start: {
            if (!st || !st->conn)
                return fail_soon(self, client_errc::not_connected);
            switch (PQtransactionStatus(st->conn)) {
            case PQTRANS_IDLE:
                at = step::rolled_back;
                if (statement.empty())
                    return fail_soon(self, error_code{});
                return run(self, statement, step::reset);
            case PQTRANS_INTRANS:
            case PQTRANS_INERROR:
                return run(self, "ROLLBACK", step::rolled_back);
            case PQTRANS_ACTIVE:  // a query is in flight: the lease came back too early
                st->broken.store(true, std::memory_order_relaxed);
                return fail_soon(self, client_errc::busy);
            default:
                st->broken.store(true, std::memory_order_relaxed);
                return fail_soon(self, client_errc::connection_lost);
            }
        }
        case step::rolled_back:
            if (ec)
                return self.complete(ec);
            if (PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
                st->broken.store(true, std::memory_order_relaxed);
                return self.complete(make_error_code(client_errc::protocol_error));
            }
            if (statement.empty())
                return self.complete(error_code{});
            return run(self, statement, step::reset);
        case step::reset:
            return self.complete(ec);
        case step::done:
            return self.complete(failure);
        }
    }

    template <class Self>
    void run(Self& self, std::string_view sql, step next)
    {
        at = next;
        async_exec(st, sql, {}, false, std::move(self));
    }

    template <class Self>
    void fail_soon(Self& self, error_code ec)
    {
        failure = ec;
        at = step::done;
        post_self(self);
    }
};

// The status-only form of an exec: void(error_code).
struct ping_op {
    explicit ping_op(std::shared_ptr<connection_state> s) : st(std::move(s)) {}

    std::shared_ptr<connection_state> st;
    bool started = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, result = {})
    {
        if (!std::exchange(started, true))
            return async_exec(st, "", {}, false, std::move(self));
        self.complete(ec);
    }
};

}  // namespace detail

template <class CompletionToken>
auto connection::async_connect(executor_type ex, std::string conninfo, CompletionToken&& token)
{
    auto st = std::make_shared<detail::connection_state>(ex);
    return boost::asio::async_compose<CompletionToken, connect_signature>(
        detail::connect_op(std::move(st), std::move(conninfo)), token, ex);
}

template <class CompletionToken>
auto connection::async_query(std::string_view sql, params args, CompletionToken&& token)
{
    return detail::async_exec(st_, sql, std::move(args), true,
                              std::forward<CompletionToken>(token));
}

template <class CompletionToken>
auto connection::async_execute(std::string_view sql, CompletionToken&& token)
{
    return detail::async_exec(st_, sql, {}, false, std::forward<CompletionToken>(token));
}

template <class CompletionToken>
auto connection::async_ping(CompletionToken&& token)
{
    return boost::asio::async_compose<CompletionToken, status_signature>(
        detail::ping_op(st_), token, detail::executor_of(st_));
}

template <class CompletionToken>
auto connection::async_reset(std::string_view reset_statement, CompletionToken&& token)
{
    return boost::asio::async_compose<CompletionToken, status_signature>(
        detail::reset_op(st_, reset_statement), token, detail::executor_of(st_));
}

// ============================================================================== factory

/// Options of a postgres::factory.
struct factory_options {
    /// Run when a connection comes back to the pool, after a ROLLBACK if it was inside a
    /// transaction. Empty: no statement (only the ROLLBACK when needed). Set it to "" behind
    /// PgBouncer in transaction pooling mode, where session state does not survive a
    /// transaction anyway and DISCARD ALL only costs a round trip.
    std::string reset_statement = "DISCARD ALL";
};

/// The connection_factory of a `connpool::pool<postgres::connection, postgres::factory>`
/// (`postgres::pool<>` names that type). Holds the conninfo string and the options, and opens
/// connections whose sockets are waited on with the executor it was given.
///
/// Members the pool detects: async_ping (an empty query), async_reset (ROLLBACK when inside a
/// transaction, then the reset statement), is_healthy (PQstatus == CONNECTION_OK and not marked
/// broken) and is_permanent_error (bad credentials, unknown database, invalid conninfo: a pool
/// fails its waiters at once instead of letting them wait out their deadline).
///
/// Thread safety: the pool calls async_connect/async_ping/async_reset from its strand;
/// is_healthy, is_permanent_error and last_connect_diagnostics may be called from any thread.
class factory {
public:
    using executor_type = boost::asio::any_io_executor;
    using connection_type = connection;

    factory(executor_type ex, std::string conninfo, factory_options opts = {})
        : ex_(std::move(ex)),
          conninfo_(std::move(conninfo)),
          opts_(std::move(opts)),
          shared_(std::make_shared<shared>())
    {
    }

    /// Opens a connection (connection::async_connect with this factory's executor and
    /// conninfo) and remembers the diagnostics of a failure (last_connect_diagnostics()).
    /// Completion signature: void(error_code, connection). Errors and cancellation: as
    /// connection::async_connect.
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token);

    /// connection::async_ping. Completion signature: void(error_code).
    template <class CompletionToken>
    auto async_ping(connection& conn, CompletionToken&& token)
    {
        return conn.async_ping(std::forward<CompletionToken>(token));
    }

    /// connection::async_reset with options().reset_statement. Completion signature:
    /// void(error_code).
    template <class CompletionToken>
    auto async_reset(connection& conn, CompletionToken&& token)
    {
        return conn.async_reset(opts_.reset_statement, std::forward<CompletionToken>(token));
    }

    /// connection::is_healthy. Thread safety: any thread.
    bool is_healthy(const connection& conn) const noexcept { return conn.is_healthy(); }

    /// True for connect errors that retrying will not cure: SQLSTATE 28P01 invalid_password,
    /// 28000 invalid_authorization_specification, 3D000 invalid_catalog_name (unknown
    /// database), and client_errc::invalid_conninfo. False for everything else, notably
    /// 53300 too_many_connections, 57P03 cannot_connect_now, refused connections and timeouts.
    /// (Behind PgBouncer, bad credentials and unknown databases come back as 08P01, which is
    /// not permanent.) Thread safety: any thread.
    bool is_permanent_error(const error_code& ec) const noexcept
    {
        if (ec == client_errc::invalid_conninfo)
            return true;
        if (ec.category() != sqlstate_category())
            return false;
        const int v = ec.value();
        return v == detail::encode_sqlstate("28P01") || v == detail::encode_sqlstate("28000") ||
               v == detail::encode_sqlstate("3D000");
    }

    /// The diagnostics of the most recent failed connect (empty if none failed yet); kept
    /// after later successes. Thread safety: any thread (a copy taken under a mutex).
    diagnostics last_connect_diagnostics() const
    {
        std::lock_guard lk(shared_->mtx);
        return shared_->last;
    }

    const std::string& conninfo() const noexcept { return conninfo_; }
    const factory_options& options() const noexcept { return opts_; }
    executor_type get_executor() const noexcept { return ex_; }

private:
    struct shared {
        std::mutex mtx;
        diagnostics last;
    };

    // connection::async_connect, then records the diagnostics of a failure.
    struct connect_op {
        connect_op(std::shared_ptr<shared> s, executor_type e, std::string ci)
            : sh(std::move(s)), ex(std::move(e)), conninfo(std::move(ci))
        {
        }

        std::shared_ptr<shared> sh;
        executor_type ex;
        std::string conninfo;

        template <class Self>
        void operator()(Self& self)
        {
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            connection::async_connect(ex, std::move(conninfo), std::move(self));
        }

        template <class Self>
        void operator()(Self& self, error_code ec, connection conn)
        {
            if (ec && ec != boost::asio::error::operation_aborted) {
                std::lock_guard lk(sh->mtx);
                sh->last = conn.last_diagnostics();
            }
            sh.reset();
            self.complete(ec, std::move(conn));
        }
    };

    executor_type ex_;
    std::string conninfo_;
    factory_options opts_;
    std::shared_ptr<shared> shared_;
};

template <class CompletionToken>
auto factory::async_connect(CompletionToken&& token)
{
    return boost::asio::async_compose<CompletionToken, connection::connect_signature>(
        connect_op(shared_, ex_, conninfo_), token, ex_);
}

/// The pool of PostgreSQL connections: `connpool::postgres::pool<> p(ex, factory(ex, conninfo));`
template <class Clock = std::chrono::steady_clock>
using pool = connpool::pool<connection, factory, Clock>;

}  // namespace connpool::postgres

#endif
