// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTING_MANUAL_CLOCK_HPP
#define CONNPOOL_TESTING_MANUAL_CLOCK_HPP

/// \file manual_clock.hpp
/// A steady clock that only moves when a test says so, and the way to make an io_context see it
/// move.
///
/// Use it as the pool's Clock parameter: `connpool::pool<Connection, Factory, manual_clock>`. The
/// pool's deadlines and timers (acquire and connect timeouts, backoff, idle reaping, keepalive,
/// lifetime) then follow `manual_clock::now()`, and a test moves time forward with
///
///     connpool::testing::advance(ioc, 5s);   // the clock moves, every timer due by now fires
///
/// The time is one process-wide atomic (a `Clock` has a static `now()`), so it may be read from
/// any thread, and tests that run one after another in a process share it: reset it at the start
/// of each test with a `manual_clock_guard`. Tests that use the manual clock must not run in
/// parallel threads of one process.
///
/// **How an io_context notices the manual clock.** Asio asks the timer's `wait_traits` how long
/// to wait for the earliest deadline; `wait_traits<manual_clock>` below says "no time at all", so
/// the reactor looks at its timer queue again whenever it can, and compares each deadline with
/// `manual_clock::now()`. How soon "whenever it can" is depends on the reactor:
/// - With the select reactor (`BOOST_ASIO_DISABLE_EPOLL` defined for the whole program), every
///   `io_context::poll()` checks the timer queue: `manual_clock::advance(d)` then `poll()` runs
///   every timer due at the new time.
/// - With the epoll reactor (Linux's default), timers are checked only when the reactor's timerfd
///   fires. It is armed to fire at once, but "at once" is a kernel timer interrupt, a few
///   microseconds later, so a `poll()` right after `manual_clock::advance` may not see the timers
///   that have just become due (its epoll_wait does not wait). `run_due(ioc)` and
///   `advance(ioc, d)` below close that gap without a sleep: they arm a timer due now and run the
///   io_context until it fired; the reactor checks all due timers in the same pass, so every timer
///   due by `manual_clock::now()` has fired when they return. They work with either reactor, so
///   tests written with them need no macro.
/// Blocking `pool::acquire()` always waits in real time, whatever the clock.
///
/// An io_context with pending manual-clock timers must be polled (`poll()`, `run_due`, `advance`),
/// not `run()`: with deadlines that are always "due now" for the reactor, `run()` would spin until
/// the test moves the clock.

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/wait_traits.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace connpool::testing {

/// A steady clock whose time only moves by `advance`. Meets the C++ Clock requirements.
///
/// Thread safety: `now`, `advance` and `reset` may be called from any thread.
struct manual_clock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<manual_clock>;
    static constexpr bool is_steady = true;

    /// Where reset() puts the clock: far from zero, so that `time_point{}` never looks recent.
    static constexpr duration start_offset = std::chrono::hours(1000);

    /// The current manual time.
    static time_point now() noexcept
    {
        // acquire: pairs with advance()'s release, a thread that sees the new time sees what the
        // advancing thread did before.
        return time_point(duration(ticks_.load(std::memory_order_acquire)));
    }

    /// Moves the clock forward by `d` (a negative or zero `d` does nothing: a steady clock never
    /// goes back). Timers do not fire by themselves: poll the io_context, or use
    /// `testing::advance(ioc, d)`, which does both.
    template <class Rep, class Period>
    static void advance(std::chrono::duration<Rep, Period> d) noexcept
    {
        const auto n = std::chrono::duration_cast<duration>(d).count();
        if (n > 0)
            ticks_.fetch_add(n, std::memory_order_acq_rel);  // see now()
    }

    /// Puts the clock back to `start_offset` (between tests, never while a pool uses it).
    static void reset() noexcept { ticks_.store(start_offset.count(), std::memory_order_release); }

private:
    static inline std::atomic<rep> ticks_{start_offset.count()};
};

/// Resets the manual clock when a test starts and when it ends: a local of each test.
struct manual_clock_guard {
    manual_clock_guard() noexcept { manual_clock::reset(); }
    ~manual_clock_guard() { manual_clock::reset(); }
    manual_clock_guard(const manual_clock_guard&) = delete;
    manual_clock_guard& operator=(const manual_clock_guard&) = delete;
};

/// Runs every handler of `ioc` that is ready now, including the timers due by
/// `manual_clock::now()` and whatever those handlers post or make due, until nothing is left to
/// run now. Never sleeps; restarts a stopped io_context first. Returns the number of handlers
/// run (the kit's own probe timers not counted).
///
/// Works with the epoll reactor as well as with the select one (see the file comment): each
/// round arms a timer due now and runs `ioc` until that timer has fired, which happens in the
/// reactor pass that collects every other due timer too.
///
/// Thread safety: call it from one thread at a time; other threads may run `ioc` meanwhile.
inline std::size_t run_due(boost::asio::io_context& ioc)
{
    std::size_t total = 0;
    for (int round = 0; round < 1000; ++round) {
        if (ioc.stopped())
            ioc.restart();
        boost::asio::basic_waitable_timer<manual_clock> probe(ioc);
        probe.expires_at(manual_clock::now());
        // 0: not yet; 1: fired on this thread; 2: on another thread running ioc.
        std::atomic<int> fired{0};
        probe.async_wait([&fired,
                          caller = std::this_thread::get_id()](const boost::system::error_code&) {
            // release: pairs with the acquire loads below.
            fired.store(std::this_thread::get_id() == caller ? 1 : 2, std::memory_order_release);
        });
        std::size_t n = 0;
        while (fired.load(std::memory_order_acquire) == 0) {
            // Waits in the reactor for its next timer check, a few microseconds: the probe keeps
            // the io_context from running out of work before it fired. Bounded, in case another
            // thread running ioc takes the probe's completion.
            n += ioc.run_one_for(std::chrono::milliseconds(1));
            if (ioc.stopped() && fired.load(std::memory_order_acquire) == 0)
                ioc.restart();
        }
        if (fired.load(std::memory_order_relaxed) == 1)
            --n;  // the probe itself
        for (;;) {
            if (ioc.stopped())
                ioc.restart();
            const std::size_t k = ioc.poll();
            n += k;
            if (k == 0)
                break;
        }
        total += n;
        if (n == 0)
            break;  // a whole round ran nothing else: nothing is due
    }
    return total;
}

/// Moves the manual clock forward by `d`, then `run_due(ioc)`: every timer due by the new time
/// has fired, and the handlers it made ready have run. Returns the number of handlers run.
template <class Rep, class Period>
std::size_t advance(boost::asio::io_context& ioc, std::chrono::duration<Rep, Period> d)
{
    manual_clock::advance(d);
    return run_due(ioc);
}

}  // namespace connpool::testing

/// Every manual-clock deadline is "due now" for the reactor, which therefore compares deadlines
/// with `manual_clock::now()` at each timer check instead of sleeping for a real duration.
template <>
struct boost::asio::wait_traits<connpool::testing::manual_clock> {
    static connpool::testing::manual_clock::duration
    to_wait_duration(const connpool::testing::manual_clock::duration&)
    {
        return connpool::testing::manual_clock::duration::zero();
    }
    static connpool::testing::manual_clock::duration
    to_wait_duration(const connpool::testing::manual_clock::time_point&)
    {
        return connpool::testing::manual_clock::duration::zero();
    }
};

#endif
