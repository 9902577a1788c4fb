// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DETAIL_CONNECTION_STATE_HPP
#define CONNPOOL_POSTGRES_DETAIL_CONNECTION_STATE_HPP

// What a postgres::connection owns (connection_state: the PGconn, the socket registration of the
// wait in progress, the busy and broken flags, the last diagnostics), the diagnostics read from
// libpq, and the helpers every operation on the state uses.
//
// How the I/O works: libpq runs in non-blocking mode and connpool waits for its socket
// (`PQsocket`) with a `boost::asio::posix::stream_descriptor` that does not own the descriptor.
// The descriptor is registered with the reactor only for the duration of one wait and released
// (`release()`, never closed) before control goes back to libpq (watch() / unwatch()). libpq
// closes and replaces its socket on its own (a new address during PQconnectPoll, a lost
// connection in PQconsumeInput); a registration held across such a call could later deregister
// an unrelated descriptor that was given the same number. Outside an operation a connection holds
// no Asio object at all, so an idle connection may outlive its io_context.

#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace connpool::postgres::detail {

// libpq's default notice processor prints to stderr; a pool's connections stay quiet.
inline void silent_notice_processor(void*, const char*) {}

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

}  // namespace connpool::postgres::detail

#endif
