// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_CONNECTOR_HPP
#define CONNPOOL_DETAIL_IO_CONNECTOR_HPP

// Opening connections: reserving slots for the connects the sizing decision wants
// (core/sizing.hpp), running them on the strand through bounded_calls, recording failures for
// the backoff (core/backoff.hpp) and the fail-fast rules (core/waiting.hpp), and the retry timer
// that plans again when a backoff ends.

#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/core/lifetime.hpp>
#include <connpool/detail/core/sizing.hpp>
#include <connpool/detail/core/waiting.hpp>
#include <connpool/detail/counters.hpp>
#include <connpool/detail/idle/idle_stack.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <utility>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class connector : public pool_part<connector, Connection, Factory, Clock> {
    using base = pool_part<connector, Connection, Factory, Clock>;
    using base::pool;
    using typename base::pool_type;
    using slot_type = slot<Connection>;
    using time_point = typename Clock::time_point;
    using times = slot_times<Clock>;

public:
    explicit connector(const pool_strand& strand) : retry_timer_(strand) {}

    // Under the pool's mutex: reserves slots for the connects the sizing decision wants now, and
    // arranges a retry when a backoff alone holds them back. Returns a chain of slots
    // (next_free) for launch_connects. `refused`: acquirers turned away for max_waiters just
    // now, counted as demand.
    std::uint32_t plan_connects_locked(time_point now, std::size_t refused = 0) noexcept
    {
        auto& p = pool();
        auto& st = p.state_;
        const connect_plan plan = st.plan(p.closed_.load(std::memory_order_relaxed), now, refused);
        if (plan.retry)
            request_retry_locked();
        std::size_t connects = plan.connects;
        if (p.account_) {
            // Every connect needs a unit of the pool's limit (and its ancestors). What is
            // missing is asked for: the pool waits in the limit's FIFO, and launch_connects asks
            // the limit to make room (close another pool's idle surplus) once mtx_ is released.
            // Its place in the limit's FIFO: the arrival of its oldest waiter (or now, for
            // min_size alone), so that units go to the demand that has waited longest.
            const auto* oldest = st.waiters.front();
            const std::size_t granted = p.account_->take(
                connects, pool_type::limit_ns(oldest ? times::at(oldest->enqueued_at) : now));
            if (granted < connects)
                p.room_wanted_.store(true, std::memory_order_relaxed);
            st.awaiting_units = granted < connects;
            connects = granted;
        }
        std::uint32_t chain = nil_index;
        for (std::size_t n = connects; n > 0 && st.free_head != nil_index; --n) {
            slot_type& s = p.slots_[st.free_head];
            st.free_head = s.next_free;
            ++st.size;
            ++st.connecting;
            s.set(slot_state::connecting);
            s.generation = p.generation_.load(std::memory_order_relaxed);
            s.next_free = chain;
            chain = s.index;
        }
        return chain;
    }

    // After plan_connects_locked, with the pool's mutex released.
    void launch_connects(std::uint32_t chain) noexcept
    {
        if (auto& account = pool().account_) {
            account->deliver_grants();  // units take() gave back, now banked for other pools
            // Relaxed: a hint set under the mutex we held; a missed one is set again next plan.
            // A load first: most calls find nothing to do, and skip the read-modify-write.
            if (pool().room_wanted_.load(std::memory_order_relaxed) &&
                pool().room_wanted_.exchange(false, std::memory_order_relaxed))
                account->make_room();
        }
        if (chain == nil_index)
            return;
        auto self = pool().shared_from_this();
        boost::asio::post(pool().strand_, [self, chain] {
            for (std::uint32_t i = chain; i != nil_index;) {
                slot_type& s = self->slots_[i];
                i = s.next_free;
                self->run_connect(s);
            }
        });
    }

    // Under the pool's mutex, after a waiter left the queue with no connect of its own (served by
    // a returned connection, cancelled, expired). While the pool waits for units of its limit,
    // its demand there was counted with that waiter, and placed in the limit's FIFO by the
    // arrival of the oldest waiter, maybe this one: planning again withdraws what is no longer
    // wanted and moves the pool's place to its oldest waiter now. A stale place made the other
    // pools close the connections that came back to them (surplus_on_return) for a demand that
    // was gone, so their own waiters paid a connect instead of getting the connection back.
    // Returns a chain for launch_connects, which the caller calls after unlocking; nil_index (and
    // nothing to launch) when the pool waits for no unit, e.g. has no limit.
    std::uint32_t replan_after_waiter_left_locked() noexcept
    {
        return pool().state_.awaiting_units ? plan_connects_locked(Clock::now()) : nil_index;
    }

    // Starts the connects that the sizing decision wants now. After an offer, so that a waiter
    // just served is no longer counted as demand.
    void replan() noexcept
    {
        std::uint32_t connects;
        {
            std::lock_guard lk(pool().mtx_);
            connects = plan_connects_locked(Clock::now());
        }
        launch_connects(connects);
    }

    void cancel_retry() noexcept { retry_timer_.cancel(); }

    // The most recent connect attempt failed: a hint, read without the pool's mutex.
    bool connect_failing() const noexcept
    {
        return connect_failing_.load(std::memory_order_relaxed);  // see record_connect_failure
    }

private:
    // Under the pool's mutex.
    void request_retry_locked() noexcept
    {
        auto& p = pool();
        if (p.state_.retry_requested)
            return;
        p.state_.retry_requested = true;
        const time_point at = p.state_.tracker.retry_at();
        if (auto self = p.weak_from_this().lock()) {
            boost::asio::post(p.strand_, [self, at] {
                self->retry_timer_.expires_at(at);
                self->retry_timer_.async_wait([self](error_code ec) {
                    std::uint32_t connects = nil_index;
                    {
                        std::lock_guard lk(self->mtx_);
                        self->state_.retry_requested = false;
                        if (!ec)
                            connects = self->plan_connects_locked(Clock::now());
                    }
                    self->launch_connects(connects);
                });
            });
        }
    }

    // On the strand.
    void run_connect(slot_type& s)
    {
        auto& p = pool();
        // The unit was taken when the connect was planned; the strand may get here much later.
        // If set_max lowered a limit of the chain below its count meanwhile, the connect does
        // not start ("no connect starts until the count is below the new max"): the slot and
        // its unit go back, and the plan that follows waits in the limit's FIFO. One relaxed
        // load when no limit of the tree is over its max.
        if (p.account_ && p.account_->over_max()) {
            {
                std::lock_guard lk(p.mtx_);
                --p.state_.connecting;
            }
            return p.free_slot(s);
        }
        auto self = p.shared_from_this();
        const time_point started = Clock::now();  // the create-time histogram's start
        p.observe([](auto& o) { o.on_connect_started(); });
        p.calls_.call(
            self, std::chrono::duration_cast<typename Clock::duration>(p.opts_.connect_timeout),
            [&p](auto handler) { p.factory_.async_connect(std::move(handler)); },
            [&s, &p, started](error_code ec, Connection conn) {
                if (!ec && p.observer_) [[unlikely]]
                    ec = p.after_connect_verdict(conn);
                if (ec != errc::connect_timeout)  // a timeout was reported when it happened
                    p.connect_finished(ec, started);
                if (ec) {
                    // A connect that succeeded after its timeout (a factory that does not
                    // listen to cancellation, e.g. a blocking driver on a worker thread) brings
                    // a live connection with the timeout's error. It counts until its
                    // destructor returns, so it goes now, before on_connect_failed counts the
                    // slot and its limit unit out; not when `conn` leaves this scope. (A
                    // temporary: destroyed at the end of this statement.)
                    static_cast<void>(Connection(std::move(conn)));
                    p.on_connect_failed(s, ec);
                } else
                    p.on_connected(s, std::move(conn));
            },
            // The timer's handler may outlive the call's completion handler: it holds the pool.
            [self, started] {
                self->connect_finished(errc::connect_timeout, started);
                self->record_connect_failure(errc::connect_timeout);
            },
            [&s, &p, started](error_code ec) {
                p.connect_finished(ec, started);
                p.on_connect_failed(s, ec);
            });
    }

    // A connect attempt ended: the create-time histogram, the observer's event.
    void connect_finished(error_code ec, time_point started) noexcept
    {
        auto& p = pool();
        const auto took = Clock::now() - started;
        p.histograms_.record_create(took);
        p.observe([&](auto& o) {
            o.on_connect_finished({ec, std::chrono::duration_cast<std::chrono::nanoseconds>(took)});
        });
    }

    // The observer's after_connect hook: the error that refuses the new connection, if any.
    error_code after_connect_verdict(Connection& conn) noexcept
    {
        try {
            return pool().observer_->after_connect(conn);
        } catch (...) {
            return errc::observer_error;
        }
    }

    // On the strand (is_permanent_error is a factory member): a connect attempt failed, or its
    // connect_timeout passed (its slot then still counts as connecting). Its error is what
    // deadlines report from now on; when no connection is open and the error is permanent, or
    // fail_fast is on, the queued waiters fail with it now (core/waiting.hpp).
    void record_connect_failure(error_code ec) noexcept
    {
        auto& p = pool();
        bool permanent = false;
        if constexpr (pool_type::has_is_permanent_error) {
            try {
                permanent = static_cast<bool>(p.factory_.is_permanent_error(std::as_const(ec)));
            } catch (...) {  // a classification that throws classifies nothing
            }
        }
        pool_counters::bump(p.counters_.connect_failures);
        // Relaxed: a hint for blocking_acquire (skip the spin), which enqueue's verdict under
        // the mutex then confirms or not.
        connect_failing_.store(true, std::memory_order_relaxed);
        typename pool_type::waiter_type* failed = nullptr;
        std::uint32_t connects = nil_index;
        {
            std::lock_guard lk(p.mtx_);
            const time_point now = Clock::now();
            p.state_.on_connect_failure(ec, now, permanent, p.state_.jitter());
            // The failed attempt is still counted as connecting: the open connections are the
            // others.
            if (fail_waiters_on_connect_error(p.state_.outage(now))) {
                failed = p.fail_waiters_on_outage_locked(ec);
                if (failed)  // they leave the limit's FIFO too (see the function)
                    connects = replan_after_waiter_left_locked();
            }
        }
        launch_connects(connects);
        p.notify_all(failed);
    }

    // On the strand.
    void on_connect_failed(slot_type& s, error_code ec) noexcept
    {
        auto& p = pool();
        // Without the source location Asio may have attached (what() would carry ~300
        // characters of a header's path): the error is kept and reported as a plain code.
        ec = error_code(ec.value(), ec.category());
        if (ec != errc::connect_timeout)  // a timeout was recorded when it happened
            record_connect_failure(ec);
        {
            std::lock_guard lk(p.mtx_);
            --p.state_.connecting;
        }
        p.free_slot(s);
    }

    // On the strand.
    void on_connected(slot_type& s, Connection&& conn)
    {
        auto& p = pool();
        const time_point now = Clock::now();
        double draw;
        {
            std::lock_guard lk(p.mtx_);
            --p.state_.connecting;
            p.state_.on_connect_success();  // the backend answers, whatever becomes of this one
            draw = p.state_.jitter();
        }
        // Relaxed: a hint (see record_connect_failure).
        connect_failing_.store(false, std::memory_order_relaxed);
        pool_counters::bump(p.counters_.created);
        s.conn.emplace(std::move(conn));
        // Opened for a pool closed since, or before a clear(): never lent.
        if (auto cause = p.closed_or_cleared(s))
            return p.discard(s, *cause);
        if (p.surplus_on_arrival())  // a max was lowered while it connected
            return p.discard(s, destroy_cause::surplus);
        s.created = times::ticks(now);
        s.expiry = times::ticks(expiry_of<Clock>(p.opts_, now, draw));
        // Relaxed: the strand owns the slot until offer() publishes it.
        s.lends_at_arrival = s.lends.load(std::memory_order_relaxed);
        times::mark_used(s, stamp_clock<Clock>::now());  // every stamp from one clock
        p.offer(s, offer_check::validated);
        replan();         // the connect slot is free again: more waiters or min_size may want it
        p.check_ready();  // async_wait_ready (io/readiness.hpp): one more connection is open
    }

    pool_timer<Clock> retry_timer_;             // strand only
    std::atomic<bool> connect_failing_{false};  // written on the strand, read anywhere
};

}  // namespace connpool::detail

#endif
