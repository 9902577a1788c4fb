// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_OBSERVER_HPP
#define CONNPOOL_OBSERVER_HPP

/// \file observer.hpp
/// What a pool tells an observer (events: connects, acquires, returns, destructions, failed
/// checks, suspected leaks) and where an observer may step in (hooks: after a connect, before
/// a lease, after a return). See pool_observer.

#include <connpool/call_site.hpp>
#include <connpool/error.hpp>

#include <chrono>
#include <cstdint>

namespace connpool {

/// Why the pool destroyed a connection. pool_stats::destroyed_* counts each.
enum class destroy_cause : std::uint8_t {
    idle,      ///< Idle longer than idle_timeout, above min_size.
    lifetime,  ///< Older than max_lifetime (with its jitter).
    broken,    ///< invalidate()d, a failed ping or reset, or the factory's is_healthy said no.
    cleared,   ///< Opened before a clear().
    closed,    ///< The pool was closed.
    surplus,   ///< Above a max lowered by resize() or a connection_limit, or to free a unit.
    vetoed,    ///< A hook of the pool's observer (before_lend, after_return) said no.
};

/// A connect attempt that ended. `error` is empty when it succeeded; errc::connect_timeout when
/// connect_timeout passed first; the error the after_connect hook returned when it refused the
/// new connection.
struct connect_event {
    error_code error;
    std::chrono::nanoseconds duration{0};  ///< From the call into the factory to its end.
};

/// An acquire that completed: with a connection (`error` empty) or with its error. Reported on
/// the thread that completes it (the acquirer's for try_acquire and acquire(), the handler's
/// executor for async_acquire, just before the handler runs). A try_acquire() that finds no
/// connection is not an acquire: it is not reported.
struct acquire_event {
    error_code error;
    std::chrono::nanoseconds wait{0};  ///< From the call to the completion; 0 on the fast path.
    call_site where;                   ///< The call site of the acquire.
};

/// A lease that came back (the handle was destroyed, reset or released).
struct release_event {
    std::chrono::nanoseconds held{0};  ///< From the acquire that handed it out to its return.
    bool invalidated = false;          ///< pooled::invalidate() was called: it is destroyed.
    call_site where;                   ///< The call site of the acquire that took it.
};

/// A lease held longer than pool_options::leak_threshold: reported once per lease, by the pool's
/// background upkeep (within leak_threshold / 2 of the threshold), while it is still held.
struct leak_event {
    std::chrono::nanoseconds held{0};  ///< How long it had been held when noticed.
    call_site where;                   ///< The call site of the acquire that took it.
};

/// What failed a check of a connection: the validation ping before a lease, the background
/// keepalive ping (both the factory's async_ping), or the reset on return (async_reset).
enum class check_kind : std::uint8_t { ping, reset };

/// Receives a pool's events and may veto the reuse of a connection (the lifecycle hooks of
/// pgxpool: AfterConnect, BeforeAcquire, AfterRelease). Derive from it, override what you need,
/// and pass a shared_ptr to the pool's constructor; one observer may serve several pools.
///
/// Threads. Every member is called on the thread where the thing happens: connects, checks,
/// destructions and leak reports on the pool's executor, acquires and returns on the caller's
/// thread (or the handler's executor). So several calls may run at once: an observer must be
/// thread-safe. None is called with a lock of the pool held: a member may call the pool's
/// stats() or histograms(), but must not block (it delays the acquirer or the pool's executor),
/// nor call a blocking acquire() or close() from the pool's executor.
///
/// Exceptions. An event member that throws is ignored (the exception is swallowed). A hook that
/// throws vetoes: before_lend and after_return as if they had returned false, after_connect as
/// if it had returned errc::observer_error.
///
/// Cost. A pool without an observer tests one pointer on its fast paths (see
/// docs/benchmarks.md). With one, a lease reads the clock when it is lent and when it comes
/// back (for release_event::held), and each event is a virtual call.
template <class Connection>
class pool_observer {
public:
    virtual ~pool_observer() = default;

    // ------------------------------------------------------------------------ events

    /// A connect attempt starts (on the pool's executor, before the factory's async_connect).
    virtual void on_connect_started() {}

    /// A connect attempt ended, after the after_connect hook (see connect_event).
    virtual void on_connect_finished(const connect_event&) {}

    /// An acquire completed (see acquire_event).
    virtual void on_acquire(const acquire_event&) {}

    /// A lease came back, before after_return is asked and before any reset.
    virtual void on_release(const release_event&) {}

    /// A connection of the pool was destroyed: its destructor has returned.
    virtual void on_destroyed(destroy_cause) {}

    /// A ping or a reset failed with `error`; the connection is destroyed (cause broken).
    virtual void on_check_failed(check_kind, error_code) {}

    /// A lease has been held longer than leak_threshold (see leak_event).
    virtual void on_leak_suspected(const leak_event&) {}

    // ------------------------------------------------------------------------ hooks

    /// A connect succeeded: prepare the new connection (session settings, prepared statements)
    /// or refuse it. An error fails the connect attempt with it, as if the factory had failed:
    /// the connection is destroyed (counted in connect_failures, not created) and its error is what
    /// waiters' deadlines report, and the attempt is retried with the backoff. On the pool's
    /// executor.
    virtual error_code after_connect(Connection&) { return {}; }

    /// An idle connection that has been lent before is about to be lent again (by any acquire,
    /// fast path included); false destroys it (cause vetoed) and the acquire goes on with
    /// another one, or waits for a new one. A new connection's first lease is not asked about
    /// (after_connect has just vetted it; a before_lend that refused every connection would
    /// otherwise make the pool reconnect in a loop). Rarely, a connection vetted for a waiter is
    /// put back idle instead (the waiter gave up meanwhile) and asked again before its next
    /// lease.
    virtual bool before_lend(Connection&) { return true; }

    /// A lease came back with its connection still usable (not invalidated): false destroys it
    /// (cause vetoed) instead of keeping it (or resetting it). On the returning thread.
    virtual bool after_return(Connection&) { return true; }
};

}  // namespace connpool

#endif
