// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_FACTORY_HPP
#define CONNPOOL_POSTGRES_FACTORY_HPP

/// \file postgres/factory.hpp
/// `postgres::factory`, the pool's connection_factory for PostgreSQL (with async_ping,
/// async_reset, is_healthy and is_permanent_error), its `factory_options`, and
/// `postgres::pool<>`, the pool type that uses them.

#include <connpool/pool.hpp>
#include <connpool/postgres/connection.hpp>
#include <connpool/postgres/detail/connect_error.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace connpool::postgres {

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
        return detail::is_permanent_connect_error(ec);
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
