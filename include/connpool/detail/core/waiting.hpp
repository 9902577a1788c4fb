// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_WAITING_HPP
#define CONNPOOL_DETAIL_CORE_WAITING_HPP

// Decisions about acquirers that wait: whether one may queue, what a deadline reports, when a
// connect error fails every waiter at once, and how long a blocked thread polls before sleeping.

#include <connpool/error.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>

namespace connpool::detail {

// What an acquirer that found no connection to take is told.
enum class admission : std::uint8_t {
    queue,            // waits in the FIFO
    closed,           // errc::pool_closed
    cancelled,        // its cancellation fired before it could queue: operation_aborted
    expired,          // its deadline has passed already (a zero timeout): deadline_error()
    backend_refuses,  // the backend refuses us for good and no connection is left: that error
    exhausted,        // max_waiters wait already: errc::pool_exhausted (its demand still counts)
};

struct admission_facts {
    bool closed = false;
    bool cancelled = false;
    bool expired = false;
    bool backend_refuses = false;  // see backend_refuses_for_good
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

// Fail fast: no connection is open (all slots in use are connects in flight), the most recent
// connect failed with an error the factory calls permanent, and its backoff still runs. An
// acquire then fails at once with that error; after the backoff, one waits for the next attempt.
inline bool backend_refuses_for_good(std::size_t size, std::size_t connecting,
                                     bool failed_permanently, bool backing_off) noexcept
{
    return size == connecting && failed_permanently && backing_off;
}

// A connect just failed: do the waiters fail now, with its error? Yes when the error is
// permanent (bad credentials, unknown database: waiting will not help) and no connection is open
// that could come back to them (`open`: the connections besides connects in flight).
inline bool fail_waiters_on_connect_error(bool failed_permanently, std::size_t open) noexcept
{
    return failed_permanently && open == 0;
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
