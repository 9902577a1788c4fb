// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_DEADLINE_TIMER_HPP
#define CONNPOOL_DETAIL_IO_DEADLINE_TIMER_HPP

// The deadlines of queued async acquires: one pool timer on the strand, armed for the earliest
// deadline of the pool's deadline_set (waiters/waiter_queue.hpp). A deadline is registered under
// the same mutex as the queue, so it cannot fire before its waiter is queued, and costs no timer
// of its own. (A blocked thread waits for its deadline on its own parker: acquire/.)

#include <connpool/detail/idle/idle_stack.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>

#include <boost/asio/post.hpp>

#include <cstdint>
#include <mutex>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class deadline_timer : public pool_part<deadline_timer, Connection, Factory, Clock> {
    using base = pool_part<deadline_timer, Connection, Factory, Clock>;
    using base::pool;
    using waiter_type = waiter<Connection>;
    using times = slot_times<Clock>;

public:
    explicit deadline_timer(const pool_strand& strand) : timer_(strand) {}

    // Under the pool's mutex, for a waiter just queued: registers its deadline. True when the
    // timer must be re-armed (request_arm, after the mutex is released): the new deadline is
    // earlier than the one the timer aims at.
    bool track_deadline_locked(waiter_type& w) noexcept
    {
        auto& st = pool().state_;
        if (w.deadline == waiter_type::no_deadline)
            return false;
        st.deadlines.insert(w);
        if (w.deadline >= st.timer_deadline)
            return false;
        st.timer_deadline = w.deadline;
        return true;
    }

    void request_arm()
    {
        boost::asio::post(pool().strand_, [self = pool().shared_from_this()] { self->arm(); });
    }

    void cancel_deadlines() noexcept { timer_.cancel(); }

private:
    // On the strand: (re)arms the timer for the earliest deadline there is now. Any number of
    // requests may be pending; each arms for the earliest (expires_at cancels the previous wait,
    // whose handler then does nothing).
    void arm() noexcept
    {
        auto& p = pool();
        std::int64_t at;
        {
            std::lock_guard lk(p.mtx_);
            at = p.state_.deadlines.earliest();
            p.state_.timer_deadline = at;
        }
        if (at == waiter_type::no_deadline || p.closed_.load(std::memory_order_acquire))
            return;
        timer_.expires_at(times::at(at));
        timer_.async_wait([self = p.shared_from_this()](error_code ec) {
            if (!ec)
                self->expire_due();
        });
    }

    // On the strand, when the timer fires: every waiter whose deadline has passed leaves the
    // queue with its deadline error; then the timer is armed for the next one.
    void expire_due() noexcept
    {
        auto& p = pool();
        waiter_type* chain = nullptr;
        waiter_type** tail = &chain;
        std::uint32_t connects = nil_index;
        {
            std::lock_guard lk(p.mtx_);
            const std::int64_t now = times::ticks(Clock::now());
            while (waiter_type* w = p.state_.deadlines.due(now)) {
                p.expire_locked(*w);
                *tail = w;
                tail = &w->next;
            }
            if (chain)
                connects = p.replan_after_waiter_left_locked();
        }
        p.launch_connects(connects);
        p.notify_all(chain);
        arm();
    }

    pool_timer<Clock> timer_;  // strand only
};

}  // namespace connpool::detail

#endif
