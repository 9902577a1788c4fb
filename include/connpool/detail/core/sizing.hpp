// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_SIZING_HPP
#define CONNPOOL_DETAIL_CORE_SIZING_HPP

// Decision: how many connects to start now, and whether a retry must be scheduled for later.
// Pure: the counts come from core/pool_state.hpp, taken under the pool's mutex.

#include <connpool/pool_options.hpp>

#include <algorithm>
#include <cstddef>

namespace connpool::detail {

// What the sizing decision looks at.
struct sizing_state {
    std::size_t size = 0;         // slots in use: connecting + idle + lent + maintenance
    std::size_t connecting = 0;   // connects in flight
    std::size_t maintenance = 0;  // being reset or validated: available again without a connect
    std::size_t waiters = 0;      // acquirers waiting (plus any turned away just now)
    bool closed = false;
    bool backing_off = false;  // a failed connect's backoff has not elapsed
};

// How many connects to start now. Connects serve two kinds of demand: waiters that no connection
// on its way (connecting or in maintenance) will serve, and the deficit below min_size. Never
// more than max_size in all, nor more than max_concurrent_connects at once, nor during a backoff.
inline std::size_t connects_to_start(const pool_options& o, const sizing_state& s) noexcept
{
    if (s.closed || s.backing_off || s.size >= o.max_size ||
        s.connecting >= o.max_concurrent_connects)
        return 0;
    const std::size_t on_the_way = s.connecting + s.maintenance;
    const std::size_t for_waiters = s.waiters > on_the_way ? s.waiters - on_the_way : 0;
    const std::size_t for_min = o.min_size > s.size ? o.min_size - s.size : 0;
    const std::size_t wanted = std::max(for_waiters, for_min);
    return std::min({wanted, o.max_size - s.size, o.max_concurrent_connects - s.connecting});
}

struct connect_plan {
    std::size_t connects = 0;  // to start now
    bool retry = false;        // held back by a backoff only: plan again when it ends
};

// The sizing verdict: connects to start now, or a retry when only the backoff holds them back.
inline connect_plan plan_connects(const pool_options& o, sizing_state s) noexcept
{
    connect_plan plan{connects_to_start(o, s), false};
    if (plan.connects == 0 && s.backing_off) {
        s.backing_off = false;
        plan.retry = connects_to_start(o, s) != 0;
    }
    return plan;
}

}  // namespace connpool::detail

#endif
