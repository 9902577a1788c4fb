// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_CONNECTION_HPP
#define CONNPOOL_POSTGRES_CONNECTION_HPP

/// \file postgres/connection.hpp
/// `postgres::connection`: one libpq connection driven asynchronously on Asio (connect, query,
/// execute, ping, reset, cancel). The operations themselves are in postgres/detail/.
///
/// Limits: name resolution in PQconnectStart/PQconnectPoll is blocking (use numeric host
/// addresses, or `hostaddr=`, where a DNS stall matters); COPY is not supported (a COPY result
/// fails with client_errc::unsupported and breaks the connection); results are in text format.

#include <connpool/postgres/detail/connect_op.hpp>
#include <connpool/postgres/detail/connection_state.hpp>
#include <connpool/postgres/detail/exec_ops.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>
#include <connpool/postgres/result.hpp>

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/compose.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace connpool::postgres {

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
    friend struct detail::connect_op<connection>;  // completes with connection(state)

    explicit connection(std::shared_ptr<detail::connection_state> st) noexcept : st_(std::move(st))
    {
    }

    std::shared_ptr<detail::connection_state> st_;
};

template <class CompletionToken>
auto connection::async_connect(executor_type ex, std::string conninfo, CompletionToken&& token)
{
    auto st = std::make_shared<detail::connection_state>(ex);
    return boost::asio::async_compose<CompletionToken, connect_signature>(
        detail::connect_op<connection>(std::move(st), std::move(conninfo)), token, ex);
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

}  // namespace connpool::postgres

#endif
