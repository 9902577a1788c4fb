// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_KEY_RETENTION_HPP
#define CONNPOOL_DETAIL_CORE_KEY_RETENTION_HPP

// Decision: when a keyed_pool forgets a key (design.md, "Keyed pools": a key with no connection,
// no waiter and no use for per_key.idle_timeout is forgotten, so that memory stays bounded by the
// keys in use), and how often it looks. Time is an argument.

#include <connpool/pool_options.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace connpool::detail {

// What the sweep sees of one key.
template <class TimePoint>
struct key_activity {
    // The key's pool has a connection (connecting, idle, lent, in maintenance) or a waiter, or an
    // acquire has found the key and not yet reached its pool.
    bool busy = false;
    // The last acquire that did not take an idle connection at once (the fast path is not
    // recorded: it needs a connection, so the key is busy then anyway).
    TimePoint last_use{};
};

// Keys are forgotten after per_key.idle_timeout without use; 0 (connections are never closed
// for being idle) keeps every key for the pool's life.
inline bool keys_are_forgotten(const pool_options& per_key) noexcept
{
    return per_key.idle_timeout.count() != 0;
}

// How often the sweep looks at the keys: twice per idle_timeout, so that a key is forgotten
// between one and one and a half idle_timeout after it became quiet.
inline std::chrono::milliseconds key_sweep_period(const pool_options& per_key) noexcept
{
    return std::max(per_key.idle_timeout / 2, std::chrono::milliseconds(1));
}

// The sweep's verdict on one key at `now`: true to forget it. `quiet_since` is the sweep's own
// memory of the key (when a sweep first found it quiet), updated here. A key is forgotten once it
// has been found quiet by sweeps for at least idle_timeout, and its last use is as old: a quiet
// spell starts at the first sweep that sees it, so a key quiet between two sweeps but busy at
// both is never forgotten, and one busy only between two sweeps (opened and closed a connection)
// has a recent last_use.
template <class TimePoint>
bool forget_key(const key_activity<TimePoint>& seen, std::optional<TimePoint>& quiet_since,
                TimePoint now, const pool_options& per_key) noexcept
{
    if (seen.busy || !keys_are_forgotten(per_key)) {
        quiet_since.reset();
        return false;
    }
    if (!quiet_since)
        quiet_since = now;
    return now - *quiet_since >= per_key.idle_timeout &&
           now - seen.last_use >= per_key.idle_timeout;
}

}  // namespace connpool::detail

#endif
