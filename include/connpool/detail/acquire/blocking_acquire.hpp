// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ACQUIRE_BLOCKING_ACQUIRE_HPP
#define CONNPOOL_DETAIL_ACQUIRE_BLOCKING_ACQUIRE_HPP

// The blocking way in: acquire(timeout, ec). The fast path, then a short spin (spin_take), then
// a wait in the FIFO on a parker (acquire/parker.hpp), after a last poll by the head waiter
// (park_spin). A thread that runs the pool's executor is refused (would_deadlock); so is one
// that the fail-fast rules refuse (core/waiting.hpp), without spinning first.

#include <connpool/call_site.hpp>
#include <connpool/detail/acquire/parker.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/core/waiting.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace connpool::detail {

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// The scheduler behind `ex` when it is Asio's own: that of an io_context or a thread_pool,
// whatever the executor's type (plain, work-tracking, with an allocator, a strand of any of
// these, type-erased at any level), found through the execution context the executor names.
// A thread inside that scheduler's run() may not block in acquire(): scheduler::can_dispatch()
// tells, as io_context::executor_type::running_in_this_thread() does. This is Asio's detail
// API, stable since Boost 1.66; with IOCP (Windows) the scheduler is another type and the
// detection is off.
inline boost::asio::detail::scheduler* scheduler_of(const pool_executor& ex) noexcept
{
#if !defined(BOOST_ASIO_HAS_IOCP)
    try {
        boost::asio::execution_context& ctx =
            boost::asio::query(ex, boost::asio::execution::context);
        if (boost::asio::has_service<boost::asio::detail::scheduler>(ctx))
            return &boost::asio::use_service<boost::asio::detail::scheduler>(ctx);
    } catch (...) {  // no such service after all: no detection
    }
#else
    (void)ex;
#endif
    return nullptr;
}

template <class Connection, class Factory, class Clock>
class blocking_acquire : public pool_part<blocking_acquire, Connection, Factory, Clock> {
    using base = pool_part<blocking_acquire, Connection, Factory, Clock>;
    using base::pool;
    using waiter_type = waiter<Connection>;
    using handle_type = pooled<Connection>;

public:
    // The spin before sleeping (see spin_take). 24 relax rounds poll for about 9 us before the
    // first yield (14 ns pauses): a hold of a microsecond or two ends within them (measured, 2
    // threads on 1 connection held 1 us: 16 rounds, ~5 us, gave 0.99-1.07x the best peer; 24
    // gave 1.07-1.15x).
    static constexpr int relax_rounds = 24;
    static constexpr spin_budget yield_rounds{0, 1024};
    // The head waiter's poll before it sleeps (see park_spin), in pauses (about 14 ns each on
    // the development machine: 1.8 to 7 us).
    static constexpr spin_budget park_pauses{128, 512};
    // The most wall time the spin may take before the acquirer queues (see acquire()).
    static constexpr std::chrono::milliseconds max_spin_time{1};

    // Which threads may not block in acquire(): those running the pool's execution context,
    // when it is an io_context or a thread_pool, directly or through a strand.
    explicit blocking_acquire(const pool_executor& ex) noexcept : scheduler_(scheduler_of(ex)) {}

    // `where`: the call site (leak reports, the observer), told the outcome.
    handle_type acquire(std::chrono::milliseconds timeout, error_code& ec, call_site where)
    {
        auto& p = pool();
        ec = {};
        // A thread that runs the pool's executor would wait for work only it can do.
        if (scheduler_ && scheduler_->can_dispatch())
            ec = errc::would_deadlock;
        else if (p.closed_.load(std::memory_order_acquire))
            ec = errc::pool_closed;
        else if (auto* s = p.try_take(where)) {
            p.observe_acquire(ec, nullptr, where);
            return lease_factory::make<Connection>(&p, s);
        }
        if (ec) {
            p.observe_acquire(ec, nullptr, where);
            return {};
        }
        // Read only for an observer: when the wait began (Clock ticks).
        const std::int64_t began = p.observer_ ? slot_times<Clock>::ticks(Clock::now()) : 0;
        handle_type h = wait_for_connection(timeout, ec, where);
        p.observe_acquire(ec, &began, where);
        return h;
    }

private:
    // acquire() once the fast path found nothing: spin, then queue and sleep.
    handle_type wait_for_connection(std::chrono::milliseconds timeout, error_code& ec,
                                    call_site where)
    {
        auto& p = pool();
        // The blocking wait is in real time, whatever Clock is.
        timeout = clamp_timeout(timeout);
        const bool timed = timeout < never;
        const auto started = std::chrono::steady_clock::now();
        const auto deadline = started + timeout;  // no overflow: timeout <= a century
        // While connects fail, an acquirer that may be refused at once (fail_fast, a permanent
        // error) does not spin first: enqueue's verdict, under the mutex, says whether it waits.
        const bool may_be_refused =
            (p.opts_.fail_fast || base::pool_type::has_is_permanent_error) && p.connect_failing();
        // The spin lasts microseconds on an idle machine; under load each yield may give the
        // core away for a time slice, and a spin that ran to the deadline would never enqueue,
        // so no connect would start for it (a cold pool then times out without trying).
        if (!may_be_refused)
            if (auto* s = spin_take(std::min(deadline, started + max_spin_time), timeout, where))
                return lease_factory::make<Connection>(&p, s);

        const auto now = Clock::now();
        sync_waiter w;
        w.where = where;
        const bool expired = timeout == std::chrono::milliseconds::zero() ||
                             (timed && std::chrono::steady_clock::now() >= deadline);
        if (const auto q = p.enqueue(w, now, expired)) {
            p.serve_from_idle(now, q.plan_deferred);
            const bool done = park_spin(w.ready) ||
                              (timed ? w.ready.wait_until(deadline) : (w.ready.wait(), true));
            if (!done) {
                std::unique_lock lk(p.mtx_);
                if (w.linked) {
                    p.expire_locked(w);
                    const std::uint32_t connects = p.replan_after_waiter_left_locked();
                    lk.unlock();
                    p.launch_connects(connects);
                } else {
                    // Claimed by someone else at the deadline: its notify is on the way.
                    lk.unlock();
                    w.ready.wait();
                }
            }
        }
        ec = w.result_ec;
        return w.result_slot ? lease_factory::make<Connection>(&p, w.result_slot) : handle_type{};
    }

    // A thread blocked in acquire().
    struct sync_waiter : waiter_type {
        sync_waiter() noexcept : waiter_type(&on_notify) {}
        static void on_notify(waiter_type* w) noexcept
        {
            static_cast<sync_waiter*>(w)->ready.notify();
        }
        parker ready;
    };

    // The spin before sleeping. A connection returned within microseconds is taken without a
    // futex sleep and wake-up on both sides, and threads that outnumber the cores keep the
    // connections busy instead of queueing behind a sleeping waiter (a handoff to a thread that
    // is not running leaves the connection unused until it is scheduled). First cpu_relax()
    // rounds, then yield() rounds, which let a preempted holder run (within the timeout). A
    // yield burns CPU only when nothing else wants the core, and then costs well under a
    // microsecond. The yield budget adapts (core/waiting.hpp's spin_budget), so that when
    // connections are held long (slow queries) acquirers go to sleep at once instead of
    // spinning. Only while nobody waits: a spinner never overtakes a waiter.
    slot<Connection>* spin_take(std::chrono::steady_clock::time_point until,
                                std::chrono::milliseconds timeout, call_site where) noexcept
    {
        auto& p = pool();
        if (timeout == std::chrono::milliseconds::zero())
            return nullptr;  // a zero timeout fails at once
        // Relaxed: a heuristic; a lost update only makes one spin a little longer or shorter.
        const int budget = yield_budget_.load(std::memory_order_relaxed);
        for (int round = 0; round < relax_rounds + budget; ++round) {
            if (p.waiters_count_.load(std::memory_order_relaxed) != 0)
                break;
            if (round < relax_rounds) {
                // Exponential backoff between probes: each probe reads lines the holder
                // writes, and would slow it down.
                for (int i = 0; i < 1 << std::min(round, 5); ++i)
                    cpu_relax();
            } else {
                std::this_thread::yield();
                if (round % 8 == 0 && std::chrono::steady_clock::now() >= until)
                    break;
            }
            if (slot<Connection>* s = p.try_take(where)) {
                if (round >= relax_rounds)  // the yields paid off: allow more of them
                    yield_budget_.store(yield_rounds.after(budget, true),
                                        std::memory_order_relaxed);
                return s;
            }
        }
        yield_budget_.store(yield_rounds.after(budget, false), std::memory_order_relaxed);
        return nullptr;
    }

    // A blocked thread at the head of the queue gets the next connection returned, often within
    // microseconds (a short hold): it polls its parker a moment before it sleeps, so that neither
    // side makes a system call (see parker). Only the head: a thread further back would burn a
    // core that a holder may need. Adaptive, as spin_take, down to park_pauses.min, which a
    // handoff after a hold of a microsecond or so still catches (measured: with no floor, 2
    // threads on one connection held 1 us fell to 0.13x the mutex pool once the budget had
    // shrunk to zero). A failed poll costs at most park_pauses.min pauses on top of the sleep.
    bool park_spin(parker& ready) noexcept
    {
        if (pool().waiters_count_.load(std::memory_order_relaxed) > 1)
            return false;
        // Relaxed: a heuristic, as yield_budget_.
        const int budget = park_budget_.load(std::memory_order_relaxed);
        const bool got = ready.spin(budget);
        park_budget_.store(park_pauses.after(budget, got), std::memory_order_relaxed);
        return got;
    }

    boost::asio::detail::scheduler* scheduler_;  // see scheduler_of; read by every acquire()
    // Written whenever a spin ends: a line of their own, away from what every acquire reads.
    alignas(64) std::atomic<int> yield_budget_{yield_rounds.max / 4};  // see spin_take
    std::atomic<int> park_budget_{park_pauses.min};                    // see park_spin
};

}  // namespace connpool::detail

#endif
