// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_WAITING_HPP
#define CONNPOOL_DETAIL_CORE_WAITING_HPP

// Decisions about acquirers that wait: whether one may queue, what a deadline reports, when
// connect errors fail acquirers and waiters at once (permanent errors, fail_fast), and how long a
// blocked thread polls before sleeping.

#include <connpool/error.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace connpool::detail {

// What an acquirer that found no connection to take is told.
enum class admission : std::uint8_t {
    queue,            // waits in the FIFO
    closed,           // errc::pool_closed
    cancelled,        // its cancellation fired before it could queue: operation_aborted
    expired,          // its deadline has passed already (a zero timeout): deadline_error()
    backend_refuses,  // no connection is open and connects fail (refuse_acquirers): that error
    exhausted,        // max_waiters wait already: errc::pool_exhausted (its demand still counts)
};

struct admission_facts {
    bool closed = false;
    bool cancelled = false;
    bool expired = false;
    bool backend_refuses = false;  // see refuse_acquirers
    std::size_t waiters = 0;
    std::size_t max_waiters = 0;
};

inline admission admit(const admission_facts& f) noexcept
{
    if (f.closed)
        return admission::closed;
    if (f.cancelled)
        return admission::cancelled;
    if (f.expired)
        return admission::expired;
    if (f.backend_refuses)
        return admission::backend_refuses;
    if (f.waiters >= f.max_waiters)
        return admission::exhausted;
    return admission::queue;
}

// What the fail-fast decisions look at, taken under the pool's mutex.
struct outage_facts {
    std::size_t open = 0;             // connections that exist, connects in flight not counted
    bool last_failed = false;         // the most recent connect attempt failed
    bool failed_permanently = false;  // ... with an error the factory calls permanent
    bool backing_off = false;         // the backoff after that failure still runs
    bool fail_fast = false;           // pool_options::fail_fast
};

// Does an acquirer that finds nothing to take fail at once with the last connect error instead
// of waiting? Only while no connection is open (a lent one could come back to it; a connect in
// flight does not count: the latest attempt that ended failed), and either
//  - fail_fast is on: whatever the error, until a connect succeeds; or
//  - the error is permanent (bad credentials, unknown database) and its backoff still runs;
//    after the backoff an acquirer waits for the next attempt.
inline bool refuse_acquirers(const outage_facts& f) noexcept
{
    if (f.open != 0 || !f.last_failed)
        return false;
    return f.fail_fast || (f.failed_permanently && f.backing_off);
}

// A connect attempt just failed (`f` is the pool after the failure): do the queued waiters fail
// now, with its error? As refuse_acquirers, except that a permanent error fails them whatever
// its backoff (the backoff has just started; with a zero backoff_max it is over at once).
inline bool fail_waiters_on_connect_error(const outage_facts& f) noexcept
{
    return f.open == 0 && f.last_failed && (f.fail_fast || f.failed_permanently);
}

// What a waiter whose deadline passed reports: the most recent connect error if the most recent
// attempt failed (the real cause), else errc::acquire_timeout.
inline error_code deadline_error(error_code last_failure) noexcept
{
    return last_failure ? last_failure : make_error_code(errc::acquire_timeout);
}

// An adaptive spin budget, as in adaptive mutexes: it grows by a quarter (plus a step) while
// spins succeed and shrinks by an eighth (minus one) when one fails, within [min, max]. So a
// blocked acquirer polls while holds are short and goes to sleep at once when they are long.
struct spin_budget {
    int min;
    int max;

    constexpr int after(int budget, bool succeeded) const noexcept
    {
        return succeeded ? std::min(max, budget + budget / 4 + 8)
                         : std::max(min, budget - budget / 8 - 1);
    }
};

}  // namespace connpool::detail

#endif
