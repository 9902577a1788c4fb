// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_KEYED_KEYED_STATS_HPP
#define CONNPOOL_DETAIL_KEYED_KEYED_STATS_HPP

// keyed_pool::stats(): the keys' pool_stats summed, and the counters of the keys it forgot (so
// that the totals only grow).

#include <connpool/stats.hpp>

namespace connpool::detail {

// Adds `part`'s counters to `total` (the gauges are left alone).
inline void add_counters(pool_stats& total, const pool_stats& part) noexcept
{
    total.acquired += part.acquired;
    total.waited += part.waited;
    total.timeouts += part.timeouts;
    total.cancelled += part.cancelled;
    total.exhausted += part.exhausted;
    total.created += part.created;
    total.connect_failures += part.connect_failures;
    total.destroyed_idle += part.destroyed_idle;
    total.destroyed_lifetime += part.destroyed_lifetime;
    total.destroyed_broken += part.destroyed_broken;
    total.destroyed_cleared += part.destroyed_cleared;
    total.destroyed_closed += part.destroyed_closed;
    total.destroyed_surplus += part.destroyed_surplus;
    total.destroyed_vetoed += part.destroyed_vetoed;
    total.leaks_suspected += part.leaks_suspected;
    total.total_wait_time += part.total_wait_time;
    if (part.last_connect_error)
        total.last_connect_error = part.last_connect_error;
}

// Adds all of `part` to `total`: gauges (min_size and max_size too: the sums over the keys held
// now) and counters.
inline void add_stats(pool_stats& total, const pool_stats& part) noexcept
{
    total.size += part.size;
    total.idle += part.idle;
    total.in_use += part.in_use;
    total.pending += part.pending;
    total.waiters += part.waiters;
    total.maintenance += part.maintenance;
    total.min_size += part.min_size;
    total.max_size += part.max_size;
    total.leases_overdue += part.leases_overdue;
    if (part.oldest_lease_held > total.oldest_lease_held) {  // the oldest lease of any key
        total.oldest_lease_held = part.oldest_lease_held;
        total.oldest_lease_where = part.oldest_lease_where;
    }
    add_counters(total, part);
}

}  // namespace connpool::detail

#endif
