// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_MANUAL_CLOCK_HPP
#define CONNPOOL_TESTS_SUPPORT_MANUAL_CLOCK_HPP

/// \file manual_clock.hpp
/// A steady clock that only moves when a test says so.
///
/// Used as the pool's Clock parameter: `connpool::pool<fake_connection, fake_factory,
/// manual_clock>`. The pool's timers are `boost::asio::basic_waitable_timer<manual_clock>`; with
/// BOOST_ASIO_DISABLE_EPOLL the reactor compares deadlines against `manual_clock::now()` on
/// every poll, so the idiom is
///
///     manual_clock::advance(5s);
///     ioc.poll();               // every timer due by the manual clock fires now
///
/// The time is a process-wide atomic, so it may be read from any thread. Tests call reset() at
/// their start (test_clock_guard does it).
///
/// How the reactor notices the manual clock: Asio asks the timer's WaitTraits how long to block
/// until the earliest deadline. Boost 1.81 has no switch to turn timerfd off
/// (BOOST_ASIO_DISABLE_TIMERFD is not a macro it knows), and with timerfd the epoll reactor only
/// looks at its timer queue when the timerfd fires, i.e. after the real duration. So
/// wait_traits<manual_clock> below says "wait 0": the timerfd (or the select/epoll timeout) is
/// armed to expire at once, and every poll() compares the deadlines with manual_clock::now().
/// Consequence: an io_context with pending manual-clock timers must be poll()ed, not run()
/// (run() would spin until the test advances the clock).

#include <boost/asio/wait_traits.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace connpool::test {

struct manual_clock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<manual_clock>;
    static constexpr bool is_steady = true;

    /// Where reset() puts the clock: far from zero, so that "time_point{}" never looks recent.
    static constexpr duration start_offset = std::chrono::hours(1000);

    static time_point now() noexcept
    {
        return time_point(duration(ticks_.load(std::memory_order_acquire)));
    }

    /// Moves the clock forward (never backward: a steady clock).
    template <class Rep, class Period>
    static void advance(std::chrono::duration<Rep, Period> d) noexcept
    {
        const auto n = std::chrono::duration_cast<duration>(d).count();
        if (n > 0)
            ticks_.fetch_add(n, std::memory_order_acq_rel);
    }

    static void reset() noexcept { ticks_.store(start_offset.count(), std::memory_order_release); }

private:
    static inline std::atomic<rep> ticks_{start_offset.count()};
};

/// Resets the manual clock when a test starts and when it ends.
struct test_clock_guard {
    test_clock_guard() noexcept { manual_clock::reset(); }
    ~test_clock_guard() { manual_clock::reset(); }
    test_clock_guard(const test_clock_guard&) = delete;
    test_clock_guard& operator=(const test_clock_guard&) = delete;
};

}  // namespace connpool::test

template <>
struct boost::asio::wait_traits<connpool::test::manual_clock> {
    static connpool::test::manual_clock::duration
    to_wait_duration(const connpool::test::manual_clock::duration&)
    {
        return connpool::test::manual_clock::duration::zero();
    }
    static connpool::test::manual_clock::duration
    to_wait_duration(const connpool::test::manual_clock::time_point&)
    {
        return connpool::test::manual_clock::duration::zero();
    }
};

#endif
