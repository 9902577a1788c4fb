// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POOL_HPP
#define CONNPOOL_POOL_HPP

/// \file pool.hpp
/// The connection pool.

#include <connpool/call_site.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/pool_impl.hpp>
#include <connpool/error.hpp>
#include <connpool/factory.hpp>
#include <connpool/histogram.hpp>
#include <connpool/observer.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace connpool {

/// A thread-safe, asynchronous pool of `Connection`s opened by a `Factory`.
///
/// Idle connections are reused most-recent-first (LIFO), so surplus ones age out; acquirers that
/// must wait are served strictly first-come first-served, each returned connection going straight
/// to the oldest waiter. See README.md for sizing, health checks, lifetime and errors.
///
/// Thread safety: every member may be called from any thread at once. Completion handlers run on
/// their associated executor (the pool's executor by default), never inside the initiating call.
/// Factory members run on an internal strand of the pool's executor.
///
/// `Clock` is the clock of every deadline and timer. For tests, <connpool/testing.hpp> has a
/// manual clock: advance it with testing::advance(ioc, d), which runs every timer now due with
/// any reactor (a plain io_context::poll() after moving the clock sees due timers only with
/// BOOST_ASIO_DISABLE_EPOLL). Blocking acquire() always sleeps in real time.
template <class Connection, class Factory, class Clock = std::chrono::steady_clock>
    requires connection_factory<Factory, Connection>
class pool {
    using impl_type = detail::pool_impl<Connection, Factory, Clock>;
    static_assert(detail::check_optional_members<Factory, Connection>::value);

public:
    using connection_type = Connection;
    using factory_type = Factory;
    using clock_type = Clock;
    using handle_type = pooled<Connection>;
    using executor_type = boost::asio::any_io_executor;
    using acquire_signature = void(error_code, handle_type);
    using close_signature = void(error_code);
    using ready_signature = void(error_code);

    /// Starts the pool: pre-warming of min_size connections and background upkeep begin at once
    /// (they run on `ex`). Throws std::invalid_argument naming the field if `opts` is inconsistent.
    pool(executor_type ex, Factory factory, pool_options opts = {})
        : impl_(make_impl(std::move(ex), std::move(factory), opts, nullptr))
    {
    }

    /// As above, with an observer that receives the pool's events and may veto the reuse of a
    /// connection (see pool_observer). Null: none.
    pool(executor_type ex, Factory factory, pool_options opts,
         std::shared_ptr<pool_observer<Connection>> observer)
        : impl_(make_impl(std::move(ex), std::move(factory), opts, std::move(observer)))
    {
    }

    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    /// Move-only, like Boost.MySQL's connection_pool: a pool may be returned from a function or
    /// kept in a vector. The moved-from pool holds nothing: it may only be destroyed or assigned
    /// to (any other member is undefined behaviour). Operations already started, leases already
    /// out and the background work carry on with the moved-to pool.
    pool(pool&& other) noexcept = default;

    /// Closes this pool (as the destructor does), then takes `other`'s.
    pool& operator=(pool&& other) noexcept
    {
        if (this != &other) {
            if (impl_)
                impl_->close();
            impl_ = std::move(other.impl_);
        }
        return *this;
    }

    /// Closes the pool (see close()). Does not wait: leases still out stay valid and their
    /// connections are destroyed when they come back.
    ~pool()
    {
        if (impl_)
            impl_->close();
    }

    /// Acquires a connection, waiting at most `options().acquire_timeout`.
    /// Completion signature: void(error_code, handle_type).
    /// Errors: errc::acquire_timeout (or, when the most recent connect attempt failed, that
    /// attempt's error), errc::pool_exhausted, errc::pool_closed,
    /// boost::asio::error::operation_aborted when cancelled. With pool_options::fail_fast, while
    /// no connection is open and the most recent connect attempt failed, that attempt's error at
    /// once.
    /// Cancellation: terminal, partial and total; a cancelled acquire leaves no trace.
    /// Thread safety: any thread.
    /// `where` (every acquire has it): the call site, named by leak reports (stats(), the
    /// observer); leave it to its default.
    template <class CompletionToken>
    auto async_acquire(CompletionToken&& token, call_site where = call_site::current())
    {
        return async_acquire(impl_->options().acquire_timeout, std::forward<CompletionToken>(token),
                             where);
    }

    /// As above, with its own deadline (`timeout` from now; a very large value never expires).
    template <class CompletionToken>
    auto async_acquire(std::chrono::milliseconds timeout, CompletionToken&& token,
                       call_site where = call_site::current())
    {
        return boost::asio::async_initiate<CompletionToken, acquire_signature>(
            initiate_acquire{impl_}, token, timeout, where);
    }

    /// A connection now, or nullopt: never waits, never blocks, never hands out a connection
    /// that is due for validation (it is validated in the background instead), never overtakes
    /// a waiter. Thread safety: any thread.
    std::optional<handle_type> try_acquire(call_site where = call_site::current()) noexcept
    {
        return impl_->try_acquire(where);
    }

    /// Blocks the calling thread until a connection is available or `timeout` passes.
    /// Throws boost::system::system_error with the errors of async_acquire, or
    /// errc::would_deadlock when called from a thread that is running the pool's io_context or
    /// thread_pool (detected with their executor's running_in_this_thread(); for other executors
    /// the caller must not block the pool's own threads).
    handle_type acquire(std::chrono::milliseconds timeout, call_site where = call_site::current())
    {
        error_code ec;
        handle_type h = acquire(timeout, ec, where);
        if (ec)  // without the source location Asio may attach: what() stays a readable sentence
            throw boost::system::system_error(error_code(ec.value(), ec.category()),
                                              "connpool::pool::acquire");
        return h;
    }

    /// As above, reporting errors through `ec`.
    handle_type acquire(std::chrono::milliseconds timeout, error_code& ec,
                        call_site where = call_site::current())
    {
        return impl_->acquire(timeout, ec, where);
    }

    /// Discards every connection that exists now: idle ones at once, lent ones when they come
    /// back, connects in flight when they complete (use after a server restart). min_size is
    /// replenished with new connections. Thread safety: any thread.
    void clear() noexcept { impl_->clear(); }

    /// Fails every waiter with errc::pool_closed, destroys idle connections, and destroys lent
    /// ones when they come back; later acquires fail with errc::pool_closed. Idempotent.
    void close() noexcept { impl_->close(); }

    /// Closes the pool and completes once every connection is gone (lent ones included, after
    /// they are returned). Completion signature: void(error_code). Not cancellable.
    template <class CompletionToken>
    auto async_close(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, close_signature>(
            [impl = impl_](auto handler) { impl->start_async_close(std::move(handler)); }, token);
    }

    /// Changes min_size and max_size while the pool runs; takes effect at once. Growing opens
    /// connections for the acquirers waiting now (and up to the new min_size); max_size may grow
    /// beyond its initial value. Shrinking closes idle connections above the new max_size at
    /// once, least recently used first, and lent ones above it when they come back. stats()
    /// reports the sizes in force; options() keeps the ones the pool was created with.
    /// Throws std::invalid_argument naming the bad value (max_size 0, min_size > max_size).
    /// Thread safety: any thread. The slot storage grows with max_size and is kept until the
    /// pool is gone (about 128 bytes plus sizeof(Connection) per slot ever allowed).
    void resize(std::size_t min_size, std::size_t max_size) { impl_->resize(min_size, max_size); }

    /// Waits until min_size connections are open (idle or lent; connects in flight do not
    /// count): the start-up gate of a service that must not take traffic cold.
    /// Completion signature: void(error_code). Completes at once (posted, never inside this
    /// call) when min_size is 0 or is met already.
    /// Errors: when options().acquire_timeout passes first, the most recent connect attempt's
    /// error if it failed, else errc::acquire_timeout (as an acquire's deadline);
    /// errc::pool_closed when the pool is closed before it is ready;
    /// boost::asio::error::operation_aborted when cancelled.
    /// Cancellation: terminal, partial and total; a cancelled wait leaves no trace.
    /// Any number of waits may be pending at once. Thread safety: any thread.
    template <class CompletionToken>
    auto async_wait_ready(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, ready_signature>(
            [impl = impl_](auto handler) { impl->start_wait_ready(std::move(handler)); }, token);
    }

    /// Gauges and counters; see pool_stats. Thread safety: any thread.
    pool_stats stats() const noexcept { return impl_->stats(); }

    /// The distributions of acquire wait times, lease use times (with
    /// pool_options::measure_use_time) and connect times since the pool was created; see
    /// pool_histograms. Recorded without a lock, read without one. Thread safety: any thread.
    pool_histograms histograms() const noexcept { return impl_->histograms(); }

    /// The options the pool was created with (resize() changes the sizes in force: see stats()).
    const pool_options& options() const noexcept { return impl_->options(); }

    executor_type get_executor() const noexcept { return impl_->get_executor(); }

    /// The factory the pool opens connections with, e.g. to read a driver's diagnostics of the
    /// last failed connect. The pool calls the factory's members from its strand: what you call
    /// through this reference from another thread must be safe to call concurrently with them.
    const Factory& factory() const noexcept { return impl_->factory(); }

private:
    // Holds the pool's state, not a pointer to it: a deferred operation (asio::deferred, an
    // awaitable not yet awaited) may be launched after the pool object is gone; it then fails
    // with errc::pool_closed.
    struct initiate_acquire {
        std::shared_ptr<impl_type> impl;
        template <class Handler>
        void operator()(Handler&& handler, std::chrono::milliseconds timeout, call_site where) const
        {
            impl->start_async_acquire(std::forward<Handler>(handler), timeout, where);
        }
    };

    static std::shared_ptr<impl_type> make_impl(executor_type ex, Factory factory,
                                                const pool_options& opts,
                                                std::shared_ptr<pool_observer<Connection>> observer)
    {
        detail::validate(opts);
        return impl_type::create(std::move(ex), std::move(factory), detail::saturated(opts),
                                 std::move(observer));
    }

    std::shared_ptr<impl_type> impl_;
};

}  // namespace connpool

#endif
