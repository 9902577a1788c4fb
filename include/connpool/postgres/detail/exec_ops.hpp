// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DETAIL_EXEC_OPS_HPP
#define CONNPOOL_POSTGRES_DETAIL_EXEC_OPS_HPP

// The operations on an open connection: exec_op (one command: send, flush, read the results),
// and the two built on it, reset_op (ROLLBACK when inside a transaction, then the reset
// statement) and ping_op (an empty query, status only).

#include <connpool/postgres/detail/connection_state.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>
#include <connpool/postgres/result.hpp>

#include <libpq-fe.h>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connpool::postgres::detail {

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

}  // namespace connpool::postgres::detail

#endif
