// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IDLE_STAMP_CLOCK_HPP
#define CONNPOOL_DETAIL_IDLE_STAMP_CLOCK_HPP

// The clock of the fast paths' timestamps: when a connection was last used or checked, when a
// lease began, whether a returned connection is past its lifetime. Deadlines and timers never use
// it; they use Clock itself.
//
// For std::chrono::steady_clock on Linux it reads CLOCK_MONOTONIC_COARSE: the same clock as
// steady_clock (CLOCK_MONOTONIC in libstdc++ and libc++), as of the last timer tick, at a third
// of the cost (measured on the development machine: ~12 ns against ~37 ns). It runs behind by at
// most `error()`, one tick (1 to 10 ms), so a stamp is never later than the truth: idle ages come
// out at most one tick short, and the validation check adds error() to stay on the safe side.
// Any other clock (a test's manual clock) is read as it is, with error() == 0.

#include <connpool/detail/idle/slot.hpp>

#include <chrono>
#include <cstdint>

#if defined(__linux__)
#include <time.h>
#endif

namespace connpool::detail {

template <class Clock>
struct stamp_clock {
    static typename Clock::time_point now() noexcept { return Clock::now(); }
    static typename Clock::duration error() noexcept { return Clock::duration::zero(); }
};

#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
template <>
struct stamp_clock<std::chrono::steady_clock> {
    using clock = std::chrono::steady_clock;

    static clock::time_point now() noexcept
    {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return clock::time_point(std::chrono::duration_cast<clock::duration>(
            std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
    }

    static clock::duration error() noexcept
    {
        static const clock::duration resolution = [] {
            timespec ts{};
            if (::clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0)
                return std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(10));
            return std::chrono::duration_cast<clock::duration>(
                std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
        }();
        return resolution;
    }
};
#endif

// A slot's times are Clock ticks in atomics (slot.hpp): conversions, and the stamps of a use.
template <class Clock>
struct slot_times {
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;

    static std::int64_t ticks(time_point t) noexcept
    {
        return static_cast<std::int64_t>(t.time_since_epoch().count());
    }
    static time_point at(std::int64_t v) noexcept
    {
        return time_point(duration(static_cast<typename duration::rep>(v)));
    }
    template <class Connection>
    static time_point last_used(const slot<Connection>& s) noexcept
    {
        return at(s.last_used.load(std::memory_order_relaxed));
    }
    template <class Connection>
    static time_point last_checked(const slot<Connection>& s) noexcept
    {
        return at(s.last_checked.load(std::memory_order_relaxed));
    }
    // Returned (or opened) now: used and known good.
    template <class Connection>
    static void mark_used(slot<Connection>& s, time_point now) noexcept
    {
        s.last_used.store(ticks(now), std::memory_order_relaxed);
        s.last_checked.store(ticks(now), std::memory_order_relaxed);
    }
};

}  // namespace connpool::detail

#endif
