// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_HOUSEKEEPING_HPP
#define CONNPOOL_DETAIL_IO_HOUSEKEEPING_HPP

// The background work, on the strand, every housekeeping_period (core/housekeeping.hpp): the
// leak scan, the idle sweep (reaping, retirement, keepalive: each connection judged by
// core/idle_policy.hpp's judge_idle), and min_size upkeep.

#include <connpool/detail/core/housekeeping.hpp>
#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/counters.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/io/maintenance.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class housekeeping : public pool_part<housekeeping, Connection, Factory, Clock> {
    using base = pool_part<housekeeping, Connection, Factory, Clock>;
    using base::pool;
    using slot_type = slot<Connection>;
    using time_point = typename Clock::time_point;
    using times = slot_times<Clock>;

public:
    explicit housekeeping(const pool_strand& strand) : timer_(strand) {}

    void start_housekeeping()
    {
        auto self = pool().shared_from_this();
        boost::asio::post(pool().strand_, [self] { self->arm_housekeeping(); });
    }

    void cancel_housekeeping() noexcept { timer_.cancel(); }

private:
    void arm_housekeeping()
    {
        auto& p = pool();
        if (p.closed_.load(std::memory_order_acquire))
            return;
        timer_.expires_after(
            std::chrono::duration_cast<typename Clock::duration>(housekeeping_period(p.opts_)));
        timer_.async_wait([self = p.shared_from_this()](error_code ec) {
            if (ec || self->closed_.load(std::memory_order_acquire))
                return;
            self->housekeep();
            self->arm_housekeeping();
        });
    }

    // On the strand: the leak scan, the idle sweep when it has something to do, min_size.
    void housekeep()
    {
        auto& p = pool();
        const time_point now = Clock::now();
        scratch_.clear();
        const std::uint32_t count = p.slots_.capacity();
        scratch_.reserve(
            count);  // allocates only when the pool has grown: the sweep allocates nothing
        for (std::uint32_t i = 0; i < count; ++i) {
            slot_type& s = p.slots_[i];
            // Acquire: pairs with lend()'s release (the lease's lent_at and site before `lent`).
            const slot_state st = s.state.load(std::memory_order_acquire);
            if (st == slot_state::idle || st == slot_state::cached) {
                scratch_.push_back(s.index);
            } else if (st == slot_state::lent) {
                const std::int64_t since = s.lent_at.load(std::memory_order_relaxed);
                if (leak_to_report<Clock>(p.opts_, now, times::at(since),
                                          times::at(s.leak_reported_for))) {
                    s.leak_reported_for = since;
                    pool_counters::bump(p.counters_.leaks);
                    p.observe([&](auto& o) {
                        o.on_leak_suspected({std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 now - times::at(since)),
                                             s.lent_where.load()});
                    });
                }
            }
        }
        if (sweep_due(now))
            sweep(now);
        p.replan();
    }

    // Whether the sweep would act on any of the idle connections in scratch_ (judged without
    // taking them: lifetime and clear() only, no health check). Taking the idle set disturbs
    // acquirers, so housekeeping sweeps only when there is something to do.
    bool sweep_due(time_point now)
    {
        auto& p = pool();
        oldest_first();
        // Under the mutex: a slot seen idle may since have been freed and reserved for a new
        // connect, which writes its generation under the mutex.
        std::lock_guard lk(p.mtx_);
        std::size_t surplus = surplus_of(p.state_.size, p.state_.opts.min_size);
        for (std::uint32_t i : scratch_) {
            const slot_type& s = p.slots_[i];
            std::optional<destroy_cause> cause;
            if (!p.current_generation(s))
                cause = destroy_cause::cleared;
            else if (p.state_.limiter.would_retire(now, times::at(s.created), times::at(s.expiry)))
                cause = destroy_cause::lifetime;
            if (judge(now, s, cause, surplus).action != idle_action::keep)
                return true;
        }
        return false;
    }

    // Takes the idle set and judges each connection, oldest first (the surplus above min_size
    // are the least recently used). Concurrent acquirers see no idle connection for these
    // microseconds and wait instead; the offers below serve them.
    void sweep(time_point now)
    {
        auto& p = pool();
        scratch_.clear();
        p.idle_.take_all(scratch_);
        oldest_first();
        std::size_t surplus;
        {
            std::lock_guard lk(p.mtx_);
            surplus = surplus_of(p.state_.size, p.state_.opts.min_size);
        }
        for (std::uint32_t idx : scratch_) {
            slot_type& s = p.slots_[idx];
            const idle_verdict v = judge(now, s, p.why_not_kept(s, now), surplus);
            switch (v.action) {
            case idle_action::discard:
                p.discard(s, v.cause);
                break;
            case idle_action::keepalive:
                p.start_maintenance(s, maintenance_kind::ping);
                break;
            case idle_action::keep:
                p.offer(s, offer_check::usable);
                break;
            }
        }
    }

    // judge_idle for the next connection, oldest first: the first `surplus` are the surplus.
    idle_verdict judge(time_point now, const slot_type& s, std::optional<destroy_cause> cause,
                       std::size_t& surplus) const noexcept
    {
        const bool is_surplus = surplus > 0;
        if (is_surplus)
            --surplus;
        return judge_idle<Clock>(pool().opts_, now, cause, is_surplus, base::pool_type::has_ping,
                                 times::last_used(s), times::last_checked(s));
    }

    // By last use, oldest first (stack order alone would miss the cached connections).
    void oldest_first()
    {
        auto& p = pool();
        std::stable_sort(scratch_.begin(), scratch_.end(), [&p](std::uint32_t a, std::uint32_t b) {
            return times::last_used(p.slots_[a]) < times::last_used(p.slots_[b]);
        });
    }

    pool_timer<Clock> timer_;  // strand only, as scratch_
    std::vector<std::uint32_t> scratch_;
};

}  // namespace connpool::detail

#endif
