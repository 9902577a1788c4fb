// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_COUNTERS_HPP
#define CONNPOOL_DETAIL_COUNTERS_HPP

// The pool's statistics: monotonic counters, and the snapshot stats() assembles from them and
// from the slots' states.

#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stable_array.hpp>
#include <connpool/stats.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace connpool::detail {

// Relaxed: each is a statistic on its own, read by stats() only.
struct pool_counters {
    std::atomic<std::uint64_t> waited{0}, timeouts{0}, cancelled{0}, exhausted{0}, created{0},
        connect_failures{0}, leaks{0}, wait_ns{0};
    std::array<std::atomic<std::uint64_t>, destroy_cause_count> destroyed{};

    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept
    {
        c.fetch_add(n, std::memory_order_relaxed);
    }
    static std::uint64_t read(const std::atomic<std::uint64_t>& c) noexcept
    {
        return c.load(std::memory_order_relaxed);
    }
    void destroyed_by(destroy_cause c) noexcept { bump(destroyed[static_cast<std::size_t>(c)]); }
    std::uint64_t destroyed_count(destroy_cause c) const noexcept
    {
        return read(destroyed[static_cast<std::size_t>(c)]);
    }

    // The gauges from the slots' states, the counters as they are now. The caller adds what
    // lives under its mutex (last_connect_error).
    template <class Connection>
    pool_stats snapshot(const stable_array<slot<Connection>>& slots,
                        std::size_t waiters) const noexcept
    {
        pool_stats st;
        const std::uint32_t count = slots.capacity();
        for (std::uint32_t i = 0; i < count; ++i) {
            st.acquired += slots[i].lends.load(std::memory_order_relaxed);
            switch (slots[i].state.load(std::memory_order_relaxed)) {
            case slot_state::free:
                continue;
            case slot_state::connecting:
                ++st.pending;
                break;
            case slot_state::idle:
            case slot_state::cached:
                ++st.idle;
                break;
            case slot_state::lent:
                ++st.in_use;
                break;
            case slot_state::maintenance:
            case slot_state::destroying:
                ++st.maintenance;
                break;
            }
            ++st.size;
        }
        st.waiters = waiters;
        st.waited = read(waited);
        st.timeouts = read(timeouts);
        st.cancelled = read(cancelled);
        st.exhausted = read(exhausted);
        st.created = read(created);
        st.connect_failures = read(connect_failures);
        st.leaks_suspected = read(leaks);
        st.destroyed_idle = destroyed_count(destroy_cause::idle);
        st.destroyed_lifetime = destroyed_count(destroy_cause::lifetime);
        st.destroyed_broken = destroyed_count(destroy_cause::broken);
        st.destroyed_cleared = destroyed_count(destroy_cause::cleared);
        st.destroyed_closed = destroyed_count(destroy_cause::closed);
        st.destroyed_surplus = destroyed_count(destroy_cause::surplus);
        st.destroyed_vetoed = destroyed_count(destroy_cause::vetoed);
        st.total_wait_time = std::chrono::nanoseconds(read(wait_ns));
        return st;
    }
};

}  // namespace connpool::detail

#endif
