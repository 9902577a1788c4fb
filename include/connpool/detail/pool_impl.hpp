// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_POOL_IMPL_HPP
#define CONNPOOL_DETAIL_POOL_IMPL_HPP

// The pool's coordinator: the entry points, and the handoff where the pool's three concurrency
// domains meet:
//  * the idle set (lock-free, idle/idle_set.hpp): the fast path of acquire and return;
//  * the waiters and the bookkeeping, under one mutex (core/pool_state.hpp): the slow path;
//  * the pool's strand: every call into the factory and every timer (io/).
// Everything else is a part with a header of its own, a base class of this one: the ways in
// (acquire/), the operations on the strand (io/). The decisions they carry out are in core/.
//
// The race that matters is a connection being offered (offer) while an acquirer starts to wait
// (enqueue). Both sides store, then load the other side's flag, with seq_cst (Dekker):
//   offer:   push the slot on the idle stack;          then load waiters_count_
//   enqueue: waiters_count_ += 1 (under the mutex);    then pop the idle stack
// In the single total order of these four operations one side comes second and sees the other:
// either the offerer sees a waiter and hands a connection over under the mutex, or the waiter
// pops the connection and hands it to the oldest waiter. So no waiter sleeps while a connection
// sits idle. The same pattern guards close() (closed_ vs push) and clear() (generation_ vs push).
// A connection parked in a thread's cache (idle_set::park) takes part the same way:
//   return:  store state = cached (seq_cst);           then load waiters_count_ and closed_
//   enqueue: waiters_count_ += 1;                       then pop, and scan the slots for `cached`
// so either the returner takes its connection back and offers it, or the waiter steals it.

#include <connpool/connection_limit.hpp>
#include <connpool/detail/acquire/async_acquire_op.hpp>
#include <connpool/detail/acquire/blocking_acquire.hpp>
#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/core/pool_state.hpp>
#include <connpool/detail/core/waiting.hpp>
#include <connpool/detail/counters.hpp>
#include <connpool/detail/histogram_recorder.hpp>
#include <connpool/detail/idle/idle_set.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stable_array.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/io/bounded_call.hpp>
#include <connpool/detail/io/connector.hpp>
#include <connpool/detail/io/deadline_timer.hpp>
#include <connpool/detail/io/housekeeping.hpp>
#include <connpool/detail/io/maintenance.hpp>
#include <connpool/detail/io/readiness.hpp>
#include <connpool/detail/io/shutdown.hpp>
#include <connpool/detail/limit/limit_account.hpp>
#include <connpool/detail/limit/limit_member.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/waiters/waiter_exits.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>
#include <connpool/factory.hpp>
#include <connpool/histogram.hpp>
#include <connpool/observer.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/stats.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class pool_impl final : public lease_owner<Connection>,
                        public limit_member,
                        public std::enable_shared_from_this<pool_impl<Connection, Factory, Clock>>,
                        public pool_executors,
                        public blocking_acquire<Connection, Factory, Clock>,
                        public connector<Connection, Factory, Clock>,
                        public maintenance<Connection, Factory, Clock>,
                        public housekeeping<Connection, Factory, Clock>,
                        public deadline_timer<Connection, Factory, Clock>,
                        public waiter_exits<Connection, Factory, Clock>,
                        public shutdown<Connection, Factory, Clock>,
                        public readiness<Connection, Factory, Clock> {
public:
    using connection_type = Connection;
    using clock_type = Clock;
    using slot_type = slot<Connection>;
    using waiter_type = waiter<Connection>;
    using handle_type = pooled<Connection>;
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;
    using executor_type = pool_executor;
    using stamps = stamp_clock<Clock>;
    using times = slot_times<Clock>;
    using observer_type = pool_observer<Connection>;

    static_assert(sizeof(slot_type) <= 128 + sizeof(Connection),
                  "design budget: at most 128 bytes of pool metadata per connection");

    static constexpr bool has_ping = factory_has_async_ping<Factory, Connection>;
    static constexpr bool has_reset = factory_has_async_reset<Factory, Connection>;
    static constexpr bool has_is_healthy = factory_has_is_healthy<Factory, Connection>;
    static constexpr bool has_is_permanent_error = factory_has_is_permanent_error<Factory>;

    // Use create(): the pool must be owned by a shared_ptr with on_owners_gone as its deleter.
    // `strand`: the strand of its factory calls and timers (one of its own, or one it shares
    // with the other keys of a keyed_pool).
    pool_impl(executor_type ex, pool_strand strand, Factory factory, const pool_options& opts,
              std::shared_ptr<observer_type> observer)
        : pool_executors(std::move(ex), std::move(strand)),
          blocking_acquire<Connection, Factory, Clock>(ex_),
          connector<Connection, Factory, Clock>(strand_),
          housekeeping<Connection, Factory, Clock>(strand_),
          deadline_timer<Connection, Factory, Clock>(strand_),
          opts_(opts),
          observer_(observer.get()),
          lease_marks_(lease_marks_for(opts, observer_ != nullptr)),
          observer_owner_(std::move(observer)),
          factory_(std::move(factory)),
          slots_(static_cast<std::uint32_t>(opts.max_size)),
          idle_(slots_),
          calls_(strand_),
          state_(opts_)
    {
        add_free_slots(0);
    }

    static std::shared_ptr<pool_impl> create(executor_type ex, Factory factory,
                                             const pool_options& opts,
                                             std::shared_ptr<observer_type> observer = {})
    {
        pool_strand strand = boost::asio::make_strand(ex);
        return create(std::move(ex), std::move(strand), std::move(factory), opts,
                      std::move(observer));
    }

    static std::shared_ptr<pool_impl> create(executor_type ex, pool_strand strand, Factory factory,
                                             const pool_options& opts,
                                             std::shared_ptr<observer_type> observer = {})
    {
        std::shared_ptr<pool_impl> p(new pool_impl(std::move(ex), std::move(strand),
                                                   std::move(factory), opts, std::move(observer)),
                                     [](pool_impl* self) { self->on_owners_gone(); });
        if (opts.limit) {  // before any connect: every connection counts from its connect on
            p->account_ = opts.limit->join(std::weak_ptr<limit_member>(p));
            p->limit_attention_ = &p->account_->attention();
        }
        p->replan();  // pre-warm min_size
        p->start_housekeeping();
        return p;
    }

    executor_type get_executor() const noexcept { return ex_; }
    const Factory& factory() const noexcept { return factory_; }
    const pool_options& options() const noexcept { return opts_; }

    // ------------------------------------------------------------------------------ acquiring

    // The fast path: an idle connection, ready to lend, and no waiter to overtake. Reads the
    // clock only when validation or leak detection needs it. `where`: the acquire's call site.
    slot_type* try_take(call_site where) noexcept
    {
        // Acquire: pairs with enqueue's increment. A waiter that enqueues just after this load
        // raced with us; either order is a valid arrival order.
        if (waiters_count_.load(std::memory_order_acquire) != 0 ||
            closed_.load(std::memory_order_acquire))
            return nullptr;
        const time_point now =
            has_ping || opts_.leak_threshold.count() != 0 ? stamps::now() : time_point{};
        slot_type* s = pop_ready(now);
        if (s && observer_) [[unlikely]]
            s = vetted_before_lend(s, now);
        if (s)
            lend(*s, now, where);
        return s;
    }

    std::optional<handle_type> try_acquire(call_site where) noexcept
    {
        if (slot_type* s = try_take(where)) {
            observe_acquire(error_code{}, nullptr, where);
            return lease_factory::make<Connection>(this, s);
        }
        return std::nullopt;
    }

    // acquire(timeout, ec), the blocking way in: acquire/blocking_acquire.hpp.

    template <class Handler>
    void start_async_acquire(Handler&& handler, std::chrono::milliseconds timeout, call_site where)
    {
        using decayed = std::decay_t<Handler>;
        auto ex = boost::asio::get_associated_executor(handler, ex_);
        if (closed_.load(std::memory_order_acquire))
            return complete_at_once(ex, std::forward<Handler>(handler), errc::pool_closed,
                                    handle_type{}, where);
        if (slot_type* s = try_take(where))
            return complete_at_once(ex, std::forward<Handler>(handler), error_code{},
                                    lease_factory::make<Connection>(this, s), where);
        // A decayed copy: an lvalue handler (a named lambda passed as the token) is copied.
        async_acquire_op<pool_impl, decayed>::start(this->shared_from_this(),
                                                    decayed(std::forward<Handler>(handler)),
                                                    clamp_timeout(timeout), Clock::now(), where);
    }

    // An async_acquire that completed at once (an idle connection, or a closed pool): its
    // handler is posted to its executor. With an observer, the acquire is reported there, just
    // before the handler runs, as one that waited is (observer.hpp), not on the calling thread.
    template <class Executor, class Handler>
    void complete_at_once(const Executor& ex, Handler&& handler, error_code ec, handle_type lease,
                          call_site where)
    {
        if (observer_) [[unlikely]] {
            auto alloc = boost::asio::get_associated_allocator(handler);
            return post_unwrapped(
                ex, boost::asio::bind_allocator(
                        alloc, [self = this->shared_from_this(),
                                h = std::decay_t<Handler>(std::forward<Handler>(handler)), ec,
                                lease = std::move(lease), where]() mutable {
                            // The pool is let go before the handler runs (as async_acquire_op).
                            std::exchange(self, nullptr)->observe_acquire(ec, nullptr, where);
                            std::move(h)(ec, std::move(lease));
                        }));
        }
        post_unwrapped(ex,
                       boost::asio::append(std::forward<Handler>(handler), ec, std::move(lease)));
    }

    // ------------------------------------------------------------------------------ returning

    void return_slot(slot_type& s, bool broken) noexcept override
    {
        if (lease_marks_ & lease_mark::precise_time) [[unlikely]]  // use time, or an observer
            if (!observe_return(s, broken))
                return discard(s, destroy_cause::vetoed);
        if (surplus_check_due() && surplus_on_return()) [[unlikely]]
            return discard(s, destroy_cause::surplus);
        time_point now{};  // read once, for the judgement and the stamps; not for a broken one
        const return_verdict v = judge_return(
            broken,
            [&] {
                now = stamps::now();
                return why_not_kept(s, now);
            },
            has_reset);
        switch (v.action) {
        case return_action::discard:
            return discard(s, v.cause);
        case return_action::reset:
            times::mark_used(s, now);
            return this->start_maintenance(s, maintenance_kind::reset);
        case return_action::offer:
            times::mark_used(s, now);
            return park_in_thread_cache(s);
        }
    }

    // ------------------------------------------------------------------------------ lifecycle

    void clear() noexcept
    {
        // A connection offered concurrently may still be pushed with the old generation after the
        // drain below; pop_ready and the housekeeping sweep check the generation and discard it.
        // Under mtx_: offer() checks it there before handing a connection to a waiter.
        {
            std::lock_guard lk(mtx_);
            generation_.fetch_add(1, std::memory_order_seq_cst);
        }
        drain_idle();
    }

    // close() and async_close: io/shutdown.hpp.

    // Takes effect at once: growing starts the connects waiters (and the new min_size) want;
    // shrinking closes idle connections above the new max now, least recently used first, and
    // lent ones above it when they come back (return_slot). The slots grow with max_size (never
    // shrink: a slot's index must stay valid, see stable_array.hpp).
    void resize(std::size_t min_size, std::size_t max_size)
    {
        validate_sizes(min_size, max_size);
        std::uint32_t connects = nil_index;
        std::size_t above_max = 0;
        {
            std::lock_guard lk(mtx_);
            if (max_size > slots_.capacity()) {
                const std::uint32_t before = slots_.grow(static_cast<std::uint32_t>(max_size));
                idle_.grow(slots_.capacity());  // links first: a new slot may be pushed soon
                add_free_slots(before);
            }
            state_.opts.min_size = min_size;
            state_.opts.max_size = max_size;
            above_max = state_.size > max_size ? state_.size - max_size : 0;
            // Relaxed: read by return_slot as a hint; the decision is taken under mtx_.
            above_max_.store(above_max != 0, std::memory_order_relaxed);
            connects = this->plan_connects_locked(Clock::now());
        }
        this->launch_connects(connects);
        if (above_max != 0)
            close_least_recently_used(above_max, /*above_min_only=*/false);
        this->recheck_ready();  // a lower min_size may be met already (io/readiness.hpp)
    }

    pool_stats stats() const noexcept
    {
        pool_stats st = counters_.snapshot(slots_, waiters_count_.load(std::memory_order_relaxed));
        if (opts_.leak_threshold.count() != 0)
            add_overdue_leases(st);
        std::lock_guard lk(mtx_);
        st.last_connect_error = state_.last_connect_error;
        st.min_size = state_.opts.min_size;
        st.max_size = state_.opts.max_size;
        return st;
    }

    pool_histograms histograms() const noexcept
    {
        return histograms_.snapshot(opts_.measure_use_time);
    }

    // Whether the pool has no connection (connecting, idle, lent, being reset or destroyed) and
    // no waiter: what a keyed_pool asks before it forgets a key. Exact at the moment of the call;
    // the caller makes sure nobody can start an acquire meanwhile.
    bool holds_nothing() const noexcept
    {
        std::lock_guard lk(mtx_);
        return state_.size == 0 && state_.waiters.empty();
    }

    // ------------------------------------------------------------------------ the handoff
    // What the parts call. Every function here is safe from any thread; none is called with
    // mtx_ held unless its name ends in _locked.

    // What enqueue did: queued the waiter (then call serve_from_idle), and whether it left the
    // sizing decision to serve_from_idle.
    struct enqueued {
        bool queued = false;
        bool plan_deferred = false;
        explicit operator bool() const noexcept { return queued; }
    };

    // Queues `w`, or refuses it with its result set (see core/waiting.hpp's admit). Only a
    // queued waiter, or one refused for max_waiters (the demand is real: with max_waiters 0 no
    // acquire ever waits, and connects must still open on demand), starts connects.
    // A waiter queued while the idle stack holds a connection plans no connect here: that
    // connection is about to serve it (serve_from_idle), or to be validated (then it counts as
    // on its way); counting the waiter as unserved would open a connection nobody needs.
    // serve_from_idle plans once it has looked.
    enqueued enqueue(waiter_type& w, time_point now, bool expired = false)
    {
        bool plan_deferred = false;
        w.enqueued_at = times::ticks(now);
        std::uint32_t connects = nil_index;
        bool rearm = false;
        admission verdict;
        {
            std::lock_guard lk(mtx_);
            w.decided = true;
            verdict = admit({.closed = closed_.load(std::memory_order_relaxed),
                             .cancelled = w.cancelled_early,
                             .expired = expired || w.deadline <= w.enqueued_at,
                             .backend_refuses = state_.backend_refuses(now),
                             .waiters = state_.waiters.size(),
                             .max_waiters = opts_.max_waiters});
            switch (verdict) {
            case admission::closed:
                w.result_ec = errc::pool_closed;
                break;
            case admission::cancelled:
                pool_counters::bump(counters_.cancelled);
                w.result_ec = boost::asio::error::operation_aborted;
                break;
            case admission::expired:
                pool_counters::bump(counters_.timeouts);
                w.result_ec = state_.deadline_error();
                break;
            case admission::backend_refuses:
                // Fail fast (core/waiting.hpp). The pool goes on retrying in the background for
                // this demand (refused_demand), with the backoff.
                w.result_ec = state_.tracker.last_failure();
                state_.refused_demand = true;
                connects = this->plan_connects_locked(now);
                break;
            case admission::exhausted:
                pool_counters::bump(counters_.exhausted);
                w.result_ec = errc::pool_exhausted;
                connects = this->plan_connects_locked(now, /*refused=*/1);
                break;
            case admission::queue:
                state_.waiters.push_back(w);
                rearm = this->track_deadline_locked(w);
                pool_counters::bump(counters_.waited);
                // seq_cst: acquire side of the no-lost-wake-up race (file comment): this
                // increment precedes our pop in serve_from_idle, and pairs with offer's load.
                waiters_count_.fetch_add(1, std::memory_order_seq_cst);
                plan_deferred = !idle_.stack_empty();
                if (!plan_deferred)
                    connects = this->plan_connects_locked(now);
                break;
            }
        }
        if (rearm)
            this->request_arm();
        this->launch_connects(connects);
        return {verdict == admission::queue, plan_deferred};
    }

    // After enqueueing: a connection that was pushed while we enqueued goes to the oldest waiter.
    // Then the sizing decision enqueue deferred, if it did (it sees a connection sent to
    // validation as on its way).
    void serve_from_idle(time_point now, bool plan_deferred) noexcept
    {
        if (slot_type* s = pop_ready(now))
            offer(*s, offer_check::validated);
        if (plan_deferred)
            this->replan();
    }

    // Offers a ready connection: to the oldest waiter if there is one, else to the idle set.
    // A connection handed straight to a waiter is judged as pop_ready judges one it lends
    // (judge_lend), as far as `known` does not say so already. Its generation is checked under
    // the mutex, which clear() also takes to bump it: a waiter that arrived after clear()
    // returned is never handed an older connection.
    void offer(slot_type& first, offer_check known) noexcept
    {
        slot_type* s = &first;
        while (s) {
            // seq_cst: see the next comment; a zero here is re-checked after the push.
            if (waiters_count_.load(std::memory_order_seq_cst) != 0) {
                const lend_verdict v = judge_lend(
                    known, [&] { return unusable(*s); }, [&] { return due_for_validation(*s); });
                if (v.action == lend_action::discard)
                    return discard(*s, v.cause);
                if (v.action == lend_action::validate)
                    return this->start_maintenance(*s, maintenance_kind::ping);
                if (observer_ && !before_lend_allows(*s)) [[unlikely]]
                    return discard(*s, destroy_cause::vetoed);
                std::unique_lock lk(mtx_);
                if (s->generation != generation_.load(std::memory_order_relaxed)) {
                    lk.unlock();
                    return discard(*s, destroy_cause::cleared);
                }
                if (waiter_type* w = state_.waiters.pop_front()) {
                    this->left_queue_locked(*w);
                    w->result_slot = s;
                    lend(*s, stamps::now(), w->where);
                    const std::uint32_t connects = this->replan_after_waiter_left_locked();
                    lk.unlock();
                    // Before the notify: the waiter's lease may come back at once and, in a
                    // closed pool, let the pool be deleted.
                    this->launch_connects(connects);
                    w->notify(w);
                    return;
                }
            }
            idle_.push(*s);  // seq_cst inside: release side of the no-lost-wake-up race
            // [no lost wake-up] We pushed, then load the counter; enqueue increments it, then
            // pops. If a waiter came in between, one of us sees the other: here we take a
            // connection back (maybe another one: LIFO) and hand it over on the next turn.
            if (closed_.load(std::memory_order_seq_cst)) {
                drain_idle();  // close() may have drained before our push
                return;
            }
            if (waiters_count_.load(std::memory_order_seq_cst) == 0)
                return;
            s = pop_ready(stamps::now());
            known = offer_check::validated;  // pop_ready judged it
        }
    }

    // Pops until a connection that can be lent now is found. Connections due for validation go
    // to be pinged (they come back through offer); unusable ones are destroyed.
    // `now` is only read when the factory can ping.
    slot_type* pop_ready(time_point now) noexcept
    {
        for (;;) {
            const std::uint32_t idx = idle_.pop();
            if (idx == nil_index)
                return nullptr;
            slot_type& s = slots_[idx];
            const lend_verdict v = judge_lend(
                offer_check::none, [&] { return unusable(s); },
                [&] { return due_for_validation(s, now); });
            if (v.action == lend_action::lend)
                return &s;
            if (v.action == lend_action::discard)
                discard(s, v.cause);
            else
                this->start_maintenance(s, maintenance_kind::ping);
        }
    }

    // A returned connection, ready to lend again: into this thread's cache, unless someone waits.
    void park_in_thread_cache(slot_type& s) noexcept
    {
        if (waiters_count_.load(std::memory_order_relaxed) != 0)
            return offer(s, offer_check::usable);  // straight to the oldest waiter
        thread_cache_entry& mine = idle_.cache_entry();
        if (slot_type* older = idle_.unpark_older(mine, s))
            offer(*older, offer_check::none);  // the thread-local entry stays valid meanwhile
        idle_.park(mine, s);
        // park's seq_cst store, then these loads: the returner's side of the race.
        if (waiters_count_.load(std::memory_order_seq_cst) != 0 ||
            closed_.load(std::memory_order_seq_cst)) {
            // Someone started waiting (or close() began) meanwhile: offer it properly, unless a
            // waiter's scan stole it first.
            if (idle_.claim(s))
                offer(s, offer_check::usable);
        }
    }

    // Takes every idle connection: destroys what is unusable (closed, cleared), offers the rest
    // again (oldest first, so that the order is kept).
    void drain_idle() noexcept
    {
        std::vector<std::uint32_t> taken;
        idle_.take_all(taken);
        std::vector<slot_type*> keep;
        for (std::uint32_t idx : taken) {
            slot_type& s = slots_[idx];
            if (auto cause = closed_or_cleared(s))
                discard(s, *cause);
            else
                keep.push_back(&s);
        }
        for (auto it = keep.rbegin(); it != keep.rend(); ++it)
            offer(**it, offer_check::none);
    }

    void discard(slot_type& s, destroy_cause cause) noexcept
    {
        s.set(slot_state::destroying);
        counters_.destroyed_by(cause);
        s.conn.reset();  // the connection's destructor; it counts in size() until it returns
        observe([cause](observer_type& o) { o.on_destroyed(cause); });
        free_slot(s);
    }

    // The slot's connection is gone: count it out, replace it if needed. May delete the pool
    // when it is orphaned (see on_owners_gone): nothing may touch `this` after this call.
    //
    // Called from a lease's return too, which holds no reference to the pool: once the mutex is
    // released, a closed pool may be deleted by on_owners_gone (on another thread) as soon as its
    // size is 0. So everything after the unlock works on locals, or on `self`, a reference taken
    // under the mutex when connects are to be launched (declared first: released last).
    void free_slot(slot_type& s) noexcept
    {
        std::shared_ptr<pool_impl> self;
        std::shared_ptr<limit_account> account;  // outlives `this` if need be (see above)
        std::uint32_t connects = nil_index;
        waiter_type* failed = nullptr;  // the last open connection is gone while connects fail
        typename shutdown<Connection, Factory, Clock>::close_handler_list done;
        executor_type done_ex;
        bool orphan_done = false;
        {
            std::lock_guard lk(mtx_);
            s.set(slot_state::free);
            s.next_free = state_.free_head;
            state_.free_head = s.index;
            --state_.size;
            account = account_;
            if (!closed_.load(std::memory_order_relaxed) &&
                (self = this->weak_from_this().lock())) {
                const time_point now = Clock::now();
                failed = this->fail_waiters_if_refused_locked(now);
                connects = this->plan_connects_locked(now);
            }
            done = this->take_close_handlers_locked();
            if (!done.empty())
                done_ex = ex_;
            orphan_done = state_.orphaned && state_.size == 0;
        }
        this->notify_all(failed);
        if (account)  // the unit goes to the limit's next waiter (this pool's own plan came first)
            account->release(1);
        if (self)
            this->launch_connects(connects);
        this->complete_close(std::move(done), done_ex);
        if (orphan_done)
            delete this;
    }

    // Closes up to `n` idle connections, least recently used first (above min_size only, when
    // `above_min_only`); offers the others again, oldest first, so that the LIFO order is kept.
    // Returns how many were closed. Connections lent or cached meanwhile are not seen: the
    // caller's rule for returns (surplus_on_return) covers those.
    std::size_t close_least_recently_used(std::size_t n, bool above_min_only) noexcept
    {
        std::vector<std::uint32_t> taken;
        idle_.take_all(taken);
        std::stable_sort(taken.begin(), taken.end(), [this](std::uint32_t a, std::uint32_t b) {
            return times::last_used(slots_[a]) < times::last_used(slots_[b]);
        });
        if (above_min_only) {
            std::lock_guard lk(mtx_);
            n = std::min(n, surplus_of(state_.size, state_.opts.min_size));
        }
        std::size_t closed = 0;
        std::vector<slot_type*> keep;
        for (std::uint32_t idx : taken) {
            if (closed < n) {
                discard(slots_[idx], destroy_cause::surplus);
                ++closed;
            } else {
                keep.push_back(&slots_[idx]);
            }
        }
        for (slot_type* k : keep)
            offer(*k, offer_check::none);
        return closed;
    }

    // Whether a connection coming back may have to be closed as surplus (surplus_on_return
    // decides): one relaxed load without a limit, two with one (its tree's attention word).
    bool surplus_check_due() const noexcept
    {
        return above_max_.load(std::memory_order_relaxed) ||
               (limit_attention_ && limit_attention_->load(std::memory_order_relaxed));
    }

    // A connection coming back is closed instead of kept while the pool is above its max_size
    // (resize lowered it), while a limit it counts against is above its max (set_max lowered
    // it), or, above min_size, while another pool under its limit has waited for a unit longer
    // than this pool's oldest waiter (design.md, "Shared limits": the freed unit goes to it).
    bool surplus_on_return() noexcept
    {
        std::lock_guard lk(mtx_);
        if (state_.size > state_.opts.max_size)
            return true;
        above_max_.store(false, std::memory_order_relaxed);
        if (!account_)
            return false;
        if (account_->over_max())
            return true;
        const waiter_type* oldest = state_.waiters.front();
        return state_.size > state_.opts.min_size &&
               account_->others_waiting_before(oldest ? limit_ns(times::at(oldest->enqueued_at))
                                                      : INT64_MAX);
    }

    // A connection that comes into circulation other than by a return (a connect that completed,
    // a ping or reset that succeeded) while the pool is above its max_size (resize lowered it
    // while the connection was connecting or in maintenance) or a limit of its chain is above
    // its max (set_max, the same): it is surplus. Neither idle nor lent when the max was
    // lowered, it was offered as any other and, with no waiter, stayed idle above the max (kept
    // by min_size or a long idle_timeout); now it is closed as a lent one is when it comes
    // back. One relaxed load each while no max was lowered.
    bool surplus_on_arrival() noexcept
    {
        if (!above_max_.load(std::memory_order_relaxed) && !(account_ && account_->over_max()))
            return false;
        std::lock_guard lk(mtx_);
        return state_.size > state_.opts.max_size || (account_ && account_->over_max());
    }

    // ------------------------------------------------------------------ as a limit's member
    // (detail/limit/limit_member.hpp): called by the limit from any thread, with no lock held,
    // while this pool's owners live.

    // Units were banked for this pool: plan again, which takes them.
    void on_units_granted() noexcept override { this->replan(); }

    // The last use of the idle connection close_idle would close, if there is one.
    std::optional<std::int64_t> idle_to_close(bool above_min_only) noexcept override
    {
        if (above_min_only) {
            std::lock_guard lk(mtx_);
            if (surplus_of(state_.size, state_.opts.min_size) == 0)
                return std::nullopt;
        }
        std::optional<std::int64_t> oldest;
        const std::uint32_t count = slots_.capacity();
        for (std::uint32_t i = 0; i < count; ++i) {
            const slot_type& s = slots_[i];
            if (!s.is(slot_state::idle) && !s.is(slot_state::cached))
                continue;
            const std::int64_t used = limit_ns(times::last_used(s));
            if (!oldest || used < *oldest)
                oldest = used;
        }
        return oldest;
    }

    bool close_idle(bool above_min_only) noexcept override
    {
        return close_least_recently_used(1, above_min_only) == 1;
    }

    // A time as the limit compares them across pools: nanoseconds of the clock's epoch.
    static std::int64_t limit_ns(time_point t) noexcept
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }

    // The part of why_unusable that asks the factory nothing: the pool is closed, or clear()
    // was called since the connection was opened (a drain, a connection just opened).
    std::optional<destroy_cause> closed_or_cleared(const slot_type& s) const noexcept
    {
        return why_unusable(closed_.load(std::memory_order_acquire), current_generation(s),
                            [] { return true; });
    }

    // Why a connection may not be lent, if it may not (judge_lend's question).
    std::optional<destroy_cause> unusable(slot_type& s) noexcept
    {
        return why_unusable(closed_.load(std::memory_order_acquire), current_generation(s),
                            [&] { return healthy(s); });
    }

    // Why a connection coming back (or found idle by the sweep) may not be kept, if it may not:
    // past its lifetime, when its turn to retire has come (claimed here), or unusable.
    std::optional<destroy_cause> why_not_kept(slot_type& s, time_point now) noexcept
    {
        if (now >= times::at(s.expiry)) {
            std::lock_guard lk(mtx_);
            if (state_.limiter.may_retire(now, times::at(s.created), times::at(s.expiry)))
                return destroy_cause::lifetime;
        }
        return unusable(s);
    }

    // Whether a connection must be pinged before it is lent (never without async_ping: then
    // no clock is read).
    bool due_for_validation(const slot_type& s, time_point now) const noexcept
    {
        // Plus the stamp clock's error: validate when it may be due, not only when it surely is.
        return has_ping &&
               needs_validation<Clock>(opts_, now + stamps::error(), times::last_checked(s));
    }
    bool due_for_validation(const slot_type& s) const noexcept
    {
        if constexpr (has_ping)
            return due_for_validation(s, stamps::now());
        else
            return false;
    }

private:
    template <class, class, class>
    friend class blocking_acquire;
    template <class, class, class>
    friend class connector;
    template <class, class, class>
    friend class maintenance;
    template <class, class, class>
    friend class housekeeping;
    template <class, class, class>
    friend class deadline_timer;
    template <class, class, class>
    friend class shutdown;
    template <class, class, class>
    friend class waiter_exits;
    template <class, class, class>
    friend class readiness;
    template <class, class>
    friend struct async_acquire_op;

    // Slots [from, capacity) are new: number them and put them on the free list (constructor,
    // or resize under mtx_).
    void add_free_slots(std::uint32_t from) noexcept
    {
        const std::uint32_t count = slots_.capacity();
        for (std::uint32_t i = count; i-- > from;) {
            slots_[i].index = i;
            slots_[i].next_free = state_.free_head;
            state_.free_head = i;
        }
    }

    // What lend() records of a lease besides its count: nothing unless measure_use_time, leak
    // detection or an observer asks (one test of lease_marks_ on the fast path otherwise).
    struct lease_mark {
        static constexpr std::uint8_t precise_time = 1;  // lent_at from Clock: a use time
        static constexpr std::uint8_t coarse_time = 2;   // lent_at from the stamp clock: leaks
        static constexpr std::uint8_t where = 4;         // the acquire's call site
    };
    static std::uint8_t lease_marks_for(const pool_options& o, bool observed) noexcept
    {
        const bool leaks = o.leak_threshold.count() != 0;
        std::uint8_t m = 0;
        if (o.measure_use_time || observed)
            m |= lease_mark::precise_time;
        else if (leaks)
            m |= lease_mark::coarse_time;
        if (leaks || observed)
            m |= lease_mark::where;
        return m;
    }

    // `now` is only read with leak detection on (try_take passes no time otherwise).
    void lend(slot_type& s, time_point now, call_site where) noexcept
    {
        if (lease_marks_ != 0) [[unlikely]] {
            if (lease_marks_ & lease_mark::precise_time)  // Clock, not the coarse stamp clock
                s.lent_at.store(times::ticks(Clock::now()), std::memory_order_relaxed);
            else if (lease_marks_ & lease_mark::coarse_time)
                s.lent_at.store(times::ticks(now), std::memory_order_relaxed);
            if (lease_marks_ & lease_mark::where)
                s.lent_where.store(where);
            // Release, after the marks: a scan that loads `lent` with acquire (the leak scan,
            // stats()) sees this lease's start and site, not the previous lease's (nor 0, for a
            // slot never lent), which made a lease just taken look held for long: overdue.
            s.state.store(slot_state::lent, std::memory_order_release);
        } else {
            s.set(slot_state::lent);
        }
        // The owner's private count (see slot::lends): a plain load and store.
        s.lends.store(s.lends.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    // ------------------------------------------------------------------ the observer
    // Every call into it is guarded by one test of observer_ and made with no lock held;
    // what an event member throws is swallowed, a hook that throws vetoes (observer.hpp).

    template <class Call>
    void observe(Call&& call) const noexcept
    {
        if (observer_) [[unlikely]] {
            try {
                call(*observer_);
            } catch (...) {  // an observer's failure is not the pool's: ignored
            }
        }
    }

    // An acquire completed; `enqueued_at` (Clock ticks) when it waited in the queue.
    void observe_acquire(error_code ec, const std::int64_t* enqueued_at,
                         call_site where) const noexcept
    {
        observe([&](observer_type& o) {
            const std::chrono::nanoseconds wait =
                enqueued_at ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  Clock::now() - times::at(*enqueued_at))
                            : std::chrono::nanoseconds::zero();
            o.on_acquire({ec, wait, where});
        });
    }

    // A lease came back (lent_at holds Clock ticks): its use time, the release event and the
    // after_return hook. False: the hook vetoes keeping the connection.
    bool observe_return(slot_type& s, bool broken) noexcept
    {
        const auto held = Clock::now() - times::at(s.lent_at.load(std::memory_order_relaxed));
        if (opts_.measure_use_time)
            histograms_.record_use(s.index, held);
        if (!observer_)
            return true;
        observe([&](observer_type& o) {
            o.on_release({std::chrono::duration_cast<std::chrono::nanoseconds>(held), broken,
                          s.lent_where.load()});
        });
        if (broken)  // destroyed anyway
            return true;
        try {
            return observer_->after_return(*s.conn);
        } catch (...) {
            return false;
        }
    }

    // A connection never lent yet is not asked about: it has just passed after_connect, and a
    // before_lend that refused every connection would otherwise have the pool reconnect in a
    // loop, as fast as the server accepts, while acquirers wait (each refusal frees the slot
    // for the next connect, with no backoff: a refusal is not a failed connect).
    bool before_lend_allows(slot_type& s) noexcept
    {
        // Relaxed: the slot's owner (the caller) is the only writer of `lends`.
        if (s.lends.load(std::memory_order_relaxed) == s.lends_at_arrival)
            return true;
        try {
            return observer_->before_lend(*s.conn);
        } catch (...) {
            return false;
        }
    }

    // The fast path's before_lend: a vetoed connection is destroyed and the next one popped.
    slot_type* vetted_before_lend(slot_type* s, time_point now) noexcept
    {
        while (s && !before_lend_allows(*s)) {
            discard(*s, destroy_cause::vetoed);
            s = pop_ready(now);
        }
        return s;
    }

    // stats(): the leases held past leak_threshold now, and the oldest lease.
    void add_overdue_leases(pool_stats& st) const noexcept
    {
        const time_point now = Clock::now();
        std::optional<std::int64_t> oldest;
        const std::uint32_t count = slots_.capacity();
        for (std::uint32_t i = 0; i < count; ++i) {
            const slot_type& s = slots_[i];
            // Acquire: pairs with lend()'s release; lent_at is this lease's, or a later one's.
            if (s.state.load(std::memory_order_acquire) != slot_state::lent)
                continue;
            const std::int64_t since = s.lent_at.load(std::memory_order_relaxed);
            if (now - times::at(since) >= opts_.leak_threshold)
                ++st.leases_overdue;
            if (!oldest || since < *oldest) {
                oldest = since;
                st.oldest_lease_where = s.lent_where.load();
            }
        }
        if (oldest)
            st.oldest_lease_held = std::max(
                std::chrono::nanoseconds::zero(),
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - times::at(*oldest)));
    }

    bool current_generation(const slot_type& s) const noexcept
    {
        return s.generation == generation_.load(std::memory_order_acquire);
    }

    bool healthy(slot_type& s) noexcept
    {
        if constexpr (has_is_healthy) {
            try {
                return static_cast<bool>(factory_.is_healthy(std::as_const(*s.conn)));
            } catch (...) {
                return false;
            }
        } else {
            (void)s;
            return true;
        }
    }

    const pool_options opts_;
    observer_type* const observer_;   // null without one; tested on the fast paths
    const std::uint8_t lease_marks_;  // see lease_mark
    const std::shared_ptr<observer_type> observer_owner_;
    Factory factory_;
    // This pool's account at opts_.limit (null without a limit): set by create(), then const.
    std::shared_ptr<limit_account> account_;
    const std::atomic<bool>* limit_attention_ = nullptr;  // account_->attention(), or null
    stable_array<slot_type> slots_;  // grows with max_size, never moves (see stable_array.hpp)
    idle_set<Connection> idle_;
    bounded_calls<Clock> calls_;  // strand only

    // The Dekker flags (see the file comment).
    alignas(64) std::atomic<std::size_t> waiters_count_{0};
    std::atomic<bool> closed_{false};
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> above_max_{false};    // resize() lowered max_size below size: see return_slot
    std::atomic<bool> room_wanted_{false};  // the limit left a connect waiting: see launch_connects

    pool_counters counters_;
    histogram_recorder histograms_;  // cache-line aligned: shares no line with the flags above

    alignas(64) mutable std::mutex mtx_;
    pool_state<Connection, Clock> state_;  // guarded by mtx_
};

}  // namespace connpool::detail

#endif
