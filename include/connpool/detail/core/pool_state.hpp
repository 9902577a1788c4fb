// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_POOL_STATE_HPP
#define CONNPOOL_DETAIL_CORE_POOL_STATE_HPP

// The pool's bookkeeping that lives under its mutex: the waiters, the counts the sizing decision
// reads, the connect tracker, the retirement turn, the random draws. Plain data with the
// questions the decisions ask of it; the pool (detail/pool_impl.hpp) holds the mutex.

#include <connpool/detail/core/backoff.hpp>
#include <connpool/detail/core/lifetime.hpp>
#include <connpool/detail/core/random.hpp>
#include <connpool/detail/core/sizing.hpp>
#include <connpool/detail/core/waiting.hpp>
#include <connpool/detail/idle/idle_stack.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/pool_options.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace connpool::detail {

template <class Connection, class Clock>
struct pool_state {
    using time_point = typename Clock::time_point;

    explicit pool_state(const pool_options& o) : opts(o), limiter(o) {}

    // What the sizing decision sees; `refused`: acquirers turned away for max_waiters just now,
    // counted as demand.
    sizing_state sizing(bool closed, time_point now, std::size_t refused = 0) const noexcept
    {
        return {size,        connecting,
                maintenance, waiters.size() + refused + (refused_demand ? 1 : 0),
                closed,      tracker.backing_off(now)};
    }

    connect_plan plan(bool closed, time_point now, std::size_t refused = 0) const noexcept
    {
        return plan_connects(opts, sizing(closed, now, refused));
    }

    // The facts of the fail-fast decisions (core/waiting.hpp). `leaving`: slots that still count
    // in size but hold no connection any more (a failed connect not yet freed).
    outage_facts outage(time_point now, std::size_t leaving = 0) const noexcept
    {
        return {.open = size - connecting - leaving,
                .last_failed = tracker.last_failed(),
                .failed_permanently = tracker.failed_permanently(),
                .backing_off = tracker.backing_off(now),
                .fail_fast = opts.fail_fast};
    }

    // Whether an acquirer that finds nothing to take is refused with the last connect error.
    bool backend_refuses(time_point now) const noexcept { return refuse_acquirers(outage(now)); }

    boost::system::error_code deadline_error() const noexcept
    {
        return detail::deadline_error(tracker.last_failure());
    }

    // A connect failed at `now`; `draw` in [0, 1) jitters its backoff (see connect_tracker).
    void on_connect_failure(boost::system::error_code ec, time_point now, bool permanent,
                            double draw) noexcept
    {
        tracker.on_failure(opts, ec, now, draw, permanent);
        last_connect_error = ec;
    }

    // A connect succeeded: the backend answers (whatever becomes of that connection).
    void on_connect_success() noexcept
    {
        tracker.on_success();
        refused_demand = false;
    }

    // The options, with min_size and max_size as resize() last set them.
    pool_options opts;

    waiter_queue<Connection> waiters;
    deadline_set<Connection> deadlines;
    std::int64_t timer_deadline = waiter<Connection>::no_deadline;  // the deadline timer's aim

    std::uint32_t free_head = nil_index;  // free slots, linked by slot::next_free
    std::size_t size = 0;                 // slots in use: connecting + idle + lent + maintenance
    std::size_t connecting = 0;           // connects in flight
    std::size_t maintenance = 0;          // slots being reset or validated

    connect_tracker<Clock> tracker;
    retire_limiter<Clock> limiter;
    boost::system::error_code last_connect_error;  // kept for stats() after a success too
    jitter_source jitter;                          // the draws the caller passes to the decisions
    bool retry_requested = false;                  // a retry timer is set (see connector)
    // Acquirers were refused or failed with a connect error since the last successful connect.
    // The sizing decision counts one waiter for them, so that connects go on being retried (with
    // the backoff) in the background although nobody waits any more, until one succeeds.
    bool refused_demand = false;
    // The pool's limit did not grant every connect the last plan wanted: the pool waits in the
    // limit's FIFO for units, its demand there counted from its waiters (see connector).
    bool awaiting_units = false;
    bool orphaned = false;  // the pool object is gone; leases still out (on_owners_gone)
};

}  // namespace connpool::detail

#endif
