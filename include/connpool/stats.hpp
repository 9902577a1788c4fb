// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_STATS_HPP
#define CONNPOOL_STATS_HPP

/// \file stats.hpp
/// A snapshot of a pool's state and its monotonic counters.

#include <connpool/call_site.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace connpool {

/// Returned by pool::stats(). Gauges are read one after another while the pool runs, so under
/// concurrent use they are each exact but not taken at one instant; counters only grow.
struct pool_stats {
    // Gauges. size == idle + in_use + pending + maintenance.
    std::size_t size = 0;         ///< Connections that exist, including connects in flight.
    std::size_t idle = 0;         ///< Ready to be lent.
    std::size_t in_use = 0;       ///< Lent to a caller.
    std::size_t pending = 0;      ///< Connect attempts in flight.
    std::size_t waiters = 0;      ///< Acquirers waiting for a connection.
    std::size_t maintenance = 0;  ///< Being reset, validated, pinged or destroyed.
    std::size_t min_size = 0;     ///< The pool's min_size now (options, or the last resize()).
    std::size_t max_size = 0;     ///< The pool's max_size now (options, or the last resize()).

    // Counters since the pool was created.
    std::uint64_t acquired = 0;            ///< Leases handed out.
    std::uint64_t waited = 0;              ///< Acquires that had to wait in the queue.
    std::uint64_t timeouts = 0;            ///< Acquires that reached their deadline.
    std::uint64_t cancelled = 0;           ///< Acquires cancelled by their caller.
    std::uint64_t exhausted = 0;           ///< Acquires refused because of max_waiters.
    std::uint64_t created = 0;             ///< Successful connects.
    std::uint64_t connect_failures = 0;    ///< Failed connects (including connect timeouts).
    std::uint64_t destroyed_idle = 0;      ///< Closed after idle_timeout.
    std::uint64_t destroyed_lifetime = 0;  ///< Retired after max_lifetime.
    std::uint64_t destroyed_broken = 0;    ///< invalidate()d, failed ping/reset, or unhealthy.
    std::uint64_t destroyed_cleared = 0;   ///< Discarded by clear().
    std::uint64_t destroyed_closed = 0;    ///< Discarded by close() or the destructor.
    std::uint64_t destroyed_surplus = 0;   ///< Closed above a max lowered by resize() or a
                                           ///< connection_limit, or to free a shared unit.
    std::uint64_t destroyed_vetoed = 0;    ///< Refused by an observer's before_lend or
                                           ///< after_return hook (see pool_observer).
    std::uint64_t leaks_suspected = 0;     ///< Leases held longer than leak_threshold.

    // Leases held now past pool_options::leak_threshold (all zero while it is 0).
    std::size_t leases_overdue = 0;  ///< Gauge: leases held longer than leak_threshold now.
    /// How long the oldest lease held now has been held (whether or not it is overdue; zero
    /// when none is lent), and where it was acquired (the call site of its acquire; empty
    /// file_name() when unknown).
    std::chrono::nanoseconds oldest_lease_held{0};
    call_site oldest_lease_where{};

    /// The error of the most recent failed connect attempt, kept after later successes (compare
    /// connect_failures over time to tell whether connects still fail).
    boost::system::error_code last_connect_error;

    /// Total time acquirers spent in the queue, whatever the outcome (served, timed out, ...).
    std::chrono::nanoseconds total_wait_time{0};
};

}  // namespace connpool

#endif
