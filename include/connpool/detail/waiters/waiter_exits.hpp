// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_WAITERS_WAITER_EXITS_HPP
#define CONNPOOL_DETAIL_WAITERS_WAITER_EXITS_HPP

// The ways a waiter leaves the queue other than by a handoff (pool_impl::offer): cancellation,
// its deadline, and a failure of the whole queue (close(), a connect error under the fail-fast
// rules of core/waiting.hpp). Whoever
// unlinks a waiter fills in its result under the pool's mutex and notifies it after unlocking.

#include <connpool/detail/counters.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <utility>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class waiter_exits : public pool_part<waiter_exits, Connection, Factory, Clock> {
    using base = pool_part<waiter_exits, Connection, Factory, Clock>;
    using base::pool;
    using waiter_type = waiter<Connection>;
    using times = slot_times<Clock>;
    using time_point = typename Clock::time_point;

public:
    // Takes `w` out of the queue with operation_aborted, unless it has left it already.
    void cancel(waiter_type& w) noexcept
    {
        auto& p = pool();
        std::uint32_t connects;
        {
            std::lock_guard lk(p.mtx_);
            if (!w.linked) {
                if (!w.decided)  // not queued yet: enqueue() will refuse it (see waiter)
                    w.cancelled_early = true;
                return;  // already claimed or refused: it completes with what it was given
            }
            p.state_.waiters.erase(w);
            left_queue_locked(w);
            pool_counters::bump(p.counters_.cancelled);
            w.result_ec = boost::asio::error::operation_aborted;
            connects = p.replan_after_waiter_left_locked();
        }
        p.launch_connects(connects);  // before the notify, which may release the pool's last owner
        w.notify(&w);
    }

    // Under the pool's mutex: the waiter's deadline passed.
    void expire_locked(waiter_type& w) noexcept
    {
        auto& p = pool();
        p.state_.waiters.erase(w);
        left_queue_locked(w);
        pool_counters::bump(p.counters_.timeouts);
        w.result_ec = p.state_.deadline_error();
    }

    // Under the pool's mutex: unlinks every waiter with `ec` as its result; returns them chained by
    // `next` for notify_all() after the mutex is released. Once unlinked (linked == false), a
    // waiter is touched by nobody else (its deadline and cancellation see it claimed), so the chain
    // may reuse its link.
    waiter_type* fail_waiters_locked(error_code ec) noexcept
    {
        auto& p = pool();
        waiter_type* chain = nullptr;
        waiter_type** tail = &chain;
        while (waiter_type* w = p.state_.waiters.pop_front()) {
            left_queue_locked(*w);
            w->result_ec = ec;
            *tail = w;
            tail = &w->next;
        }
        return chain;
    }

    // Under the pool's mutex: a connect error fails the queued waiters (core/waiting.hpp's
    // fail-fast rules). As fail_waiters_locked, and the pool goes on retrying for the demand they
    // were (pool_state::refused_demand).
    waiter_type* fail_waiters_on_outage_locked(error_code ec) noexcept
    {
        auto& st = pool().state_;
        if (st.waiters.empty())
            return nullptr;
        st.refused_demand = true;
        return fail_waiters_locked(ec);
    }

    // Under the pool's mutex, after a connection was destroyed: if it was the last one open
    // while connects fail, the queued waiters fail now, as a newcomer would be refused
    // (core/waiting.hpp's refuse_acquirers).
    waiter_type* fail_waiters_if_refused_locked(time_point now) noexcept
    {
        auto& st = pool().state_;
        if (st.waiters.empty() || !st.backend_refuses(now))
            return nullptr;
        return fail_waiters_on_outage_locked(st.tracker.last_failure());
    }

    static void notify_all(waiter_type* chain) noexcept
    {
        while (chain) {
            waiter_type* w = std::exchange(chain, chain->next);
            w->notify(w);  // may free w: its successor was read first
        }
    }

    // Under the pool's mutex, after `w` was unlinked: the counter and the wait-time statistic.
    void left_queue_locked(waiter_type& w) noexcept
    {
        auto& p = pool();
        p.state_.deadlines.erase(w);
        // Relaxed: only a hint for the fast path; decrements need no ordering (a stale non-zero
        // sends an acquirer to the slow path, which re-checks under the mutex).
        p.waiters_count_.fetch_sub(1, std::memory_order_relaxed);
        const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(
            Clock::now() - times::at(w.enqueued_at));
        pool_counters::bump(p.counters_.wait_ns,
                            static_cast<std::uint64_t>(std::max<std::int64_t>(0, waited.count())));
        p.histograms_.record_wait(waited);
    }
};

}  // namespace connpool::detail

#endif
