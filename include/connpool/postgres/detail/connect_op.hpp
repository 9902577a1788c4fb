// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DETAIL_CONNECT_OP_HPP
#define CONNPOOL_POSTGRES_DETAIL_CONNECT_OP_HPP

// The asynchronous connect of postgres::connection::async_connect: PQconnectStart and
// PQconnectPoll, waiting for libpq's socket in between; a failure reports the server's SQLSTATE
// and libpq's text (detail/connect_error.hpp).

#include <connpool/postgres/detail/connect_error.hpp>
#include <connpool/postgres/detail/connection_state.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>

#include <libpq-fe.h>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>
#include <string>
#include <utility>

namespace connpool::postgres::detail {

// PQconnectStart, then PQconnectPoll each time its socket is ready as libpq asked. Completes
// with a `Connection` (postgres::connection, whose private constructor from the state it may
// call): a template, so that this header needs no connection.hpp, which includes it.
template <class Connection>
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
            return self.complete(failure, Connection(std::move(st)));
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
            return self.complete(error_code{}, Connection(std::move(st)));
        }
        case PGRES_POLLING_FAILED: {
            // finish() adds libpq's text again: a no-op on an error that already carries it.
            connect_failure f = failed_connect(PQerrorMessage(st->conn));
            return finish(self, f.ec, std::move(f.diag));
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
        self.complete(ec, Connection(std::move(st)));
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

}  // namespace connpool::postgres::detail

#endif
