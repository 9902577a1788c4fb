// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_POOL_IMPL_HPP
#define CONNPOOL_DETAIL_POOL_IMPL_HPP

// The pool's engine. Three parts meet here:
//  * the idle stack (lock-free, idle_stack.hpp): the fast path of acquire and return;
//  * the waiter queue and the sizing counters, under one mutex: the slow path;
//  * the pool's strand: every call into the factory and every timer.
// The decisions (how many connects, backoff, lifetime, reaping) come from core.hpp.
//
// The race that matters is a connection being offered (make_available) while an acquirer starts to
// wait (enqueue). Both sides store, then load the other side's flag, with seq_cst (Dekker):
//   offer:   push the slot on the idle stack;          then load waiters_count_
//   enqueue: waiters_count_ += 1 (under the mutex);    then pop the idle stack
// In the single total order of these four operations one side comes second and sees the other:
// either the offerer sees a waiter and hands a connection over under the mutex, or the waiter
// pops the connection and hands it to the oldest waiter. So no waiter sleeps while a connection
// sits idle. The same pattern guards close() (closed_ vs push) and clear() (generation_ vs push).
// A connection parked in a thread's cache (idle_stack.hpp) takes part the same way:
//   return:  store state = cached (seq_cst);           then load waiters_count_ and closed_
//   enqueue: waiters_count_ += 1;                       then pop, and scan the slots for `cached`
// so either the returner takes its connection back and offers it, or the waiter steals it.

#include <connpool/detail/core.hpp>
#include <connpool/detail/idle/idle_stack.hpp>
#include <connpool/detail/acquire/parker.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>
#include <connpool/factory.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/stats.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::detail {

// Outstanding work on `ex` for as long as the result lives (Asio's executor_work_guard for the
// older executor model).
template <class Executor>
auto track_work(const Executor& ex)
{
    if constexpr (boost::asio::execution::is_executor<Executor>::value)
        return boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
    else
        return boost::asio::make_work_guard(ex);
}

enum class destroy_cause : std::uint8_t { idle, lifetime, broken, cleared, closed, count_ };

// Monotonic counters. Relaxed: each is a statistic on its own, read by stats() only.
struct pool_counters {
    std::atomic<std::uint64_t> waited{0}, timeouts{0}, cancelled{0}, exhausted{0}, created{0},
        connect_failures{0}, leaks{0}, wait_ns{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(destroy_cause::count_)>
        destroyed{};

    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept
    {
        c.fetch_add(n, std::memory_order_relaxed);
    }
    static std::uint64_t read(const std::atomic<std::uint64_t>& c) noexcept
    {
        return c.load(std::memory_order_relaxed);
    }
};

template <class Connection, class Factory, class Clock>
class pool_impl final : public lease_owner<Connection>,
                        public std::enable_shared_from_this<pool_impl<Connection, Factory, Clock>> {
public:
    using slot_type = slot<Connection>;
    using waiter_type = waiter<Connection>;
    using handle_type = pooled<Connection>;
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;
    using executor_type = boost::asio::any_io_executor;
    using strand_type = boost::asio::strand<executor_type>;
    using timer_type =
        boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, strand_type>;
    using stamps = stamp_clock<Clock>;

    // The blocking acquire's spin before it sleeps (see spin_take). 24 relax rounds poll for
    // about 9 us before the first yield (14 ns pauses): a hold of a microsecond or two ends
    // within them (measured, 2 threads on 1 connection held 1 us: 16 rounds, ~5 us, gave
    // 0.99-1.07x the best peer; 24 gave 1.07-1.15x).
    static constexpr int relax_rounds = 24;
    // The head waiter's poll before it sleeps (see park_spin), in pauses (about 14 ns each on
    // the development machine: 1.8 to 7 us).
    static constexpr int max_park_spin = 512;
    static constexpr int min_park_spin = 128;
    static constexpr int max_yield_rounds = 1024;

    static void cpu_relax() noexcept
    {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    static_assert(sizeof(slot_type) <= 128 + sizeof(Connection),
                  "design budget: at most 128 bytes of pool metadata per connection");

    static constexpr bool has_ping = factory_has_async_ping<Factory, Connection>;
    static constexpr bool has_reset = factory_has_async_reset<Factory, Connection>;
    static constexpr bool has_is_healthy = factory_has_is_healthy<Factory, Connection>;
    static constexpr bool has_is_permanent_error = factory_has_is_permanent_error<Factory>;

    // Use create(): the pool must be owned by a shared_ptr with on_owners_gone as its deleter.
    pool_impl(executor_type ex, Factory factory, const pool_options& opts)
        : opts_(opts),
          factory_(std::move(factory)),
          ex_(std::move(ex)),
          strand_(boost::asio::make_strand(ex_)),
          slots_(std::make_unique<slot_type[]>(opts.max_size)),
          idle_(static_cast<std::uint32_t>(opts.max_size)),
          limiter_(opts),
          housekeeping_timer_(strand_),
          retry_timer_(strand_),
          deadline_timer_(strand_)
    {
        for (std::size_t i = 0; i < opts.max_size; ++i) {
            slots_[i].index = static_cast<std::uint32_t>(i);
            slots_[i].next_free =
                i + 1 < opts.max_size ? static_cast<std::uint32_t>(i + 1) : nil_index;
        }
        free_head_ = opts.max_size ? 0 : nil_index;
        scratch_.reserve(opts.max_size);
        // Which threads may not block in acquire(): those running the pool's execution context,
        // when it is an io_context or a thread_pool, directly or through a strand.
        scheduler_ = scheduler_of(ex_);
    }

    static std::shared_ptr<pool_impl> create(executor_type ex, Factory factory,
                                             const pool_options& opts)
    {
        std::shared_ptr<pool_impl> p(new pool_impl(std::move(ex), std::move(factory), opts),
                                     [](pool_impl* self) { self->on_owners_gone(); });
        p->start();
        return p;
    }

    executor_type get_executor() const noexcept { return ex_; }
    const Factory& factory() const noexcept { return factory_; }
    const pool_options& options() const noexcept { return opts_; }

    // ------------------------------------------------------------------------------ acquiring

    // The fast path: an idle connection, ready to lend, and no waiter to overtake. Reads the
    // clock only when validation or leak detection needs it.
    slot_type* try_take() noexcept
    {
        // Acquire: pairs with enqueue's increment. A waiter that enqueues just after this load
        // raced with us; either order is a valid arrival order.
        if (waiters_count_.load(std::memory_order_acquire) != 0 ||
            closed_.load(std::memory_order_acquire))
            return nullptr;
        const time_point now =
            has_ping || opts_.leak_threshold.count() != 0 ? stamps::now() : time_point{};
        slot_type* s = pop_ready(now);
        if (s)
            lend(*s, now);
        return s;
    }

    std::optional<handle_type> try_acquire() noexcept
    {
        if (slot_type* s = try_take())
            return lease_factory::make<Connection>(this, s);
        return std::nullopt;
    }

    handle_type acquire(std::chrono::milliseconds timeout, error_code& ec)
    {
        ec = {};
        // A thread that runs the pool's executor would wait for work only it can do.
        if (scheduler_ && scheduler_->can_dispatch()) {
            ec = errc::would_deadlock;
            return {};
        }
        if (closed_.load(std::memory_order_acquire)) {
            ec = errc::pool_closed;
            return {};
        }
        if (slot_type* s = try_take())
            return lease_factory::make<Connection>(this, s);
        // The blocking wait is in real time, whatever Clock is.
        timeout = clamp_timeout(timeout);
        const bool timed = timeout < never;
        const auto started = std::chrono::steady_clock::now();
        const auto deadline = started + timeout;  // no overflow: timeout <= a century
        if (slot_type* s = spin_take(deadline, timeout))
            return lease_factory::make<Connection>(this, s);

        const time_point now = Clock::now();
        sync_waiter w;
        const bool expired = timeout == std::chrono::milliseconds::zero() ||
                             (timed && std::chrono::steady_clock::now() >= deadline);
        if (enqueue(w, now, expired)) {
            serve_from_idle(now);
            const bool done = park_spin(w.ready) ||
                              (timed ? w.ready.wait_until(deadline) : (w.ready.wait(), true));
            if (!done) {
                std::unique_lock lk(mtx_);
                if (w.linked) {
                    expire_locked(w);
                    lk.unlock();
                } else {
                    // Claimed by someone else at the deadline: its notify is on the way.
                    lk.unlock();
                    w.ready.wait();
                }
            }
        }
        ec = w.result_ec;
        return w.result_slot ? lease_factory::make<Connection>(this, w.result_slot) : handle_type{};
    }

    // The blocking acquire's spin before it sleeps. A connection returned within microseconds is
    // taken without a futex sleep and wake-up on both sides, and threads that outnumber the
    // cores keep the connections busy instead of queueing behind a sleeping waiter (a handoff
    // to a thread that is not running leaves the connection unused until it is scheduled).
    // First cpu_relax() rounds, then yield() rounds, which let a preempted holder run (within
    // the timeout). A yield burns CPU only when nothing else wants the core, and then costs well
    // under a microsecond. Adaptive, as in adaptive mutexes: the yield budget grows while spins
    // succeed and shrinks by an eighth each time one fails, so that when connections are held
    // long (slow queries) acquirers go to sleep at once instead of spinning. Only while nobody
    // waits: a spinner never overtakes a waiter.
    slot_type* spin_take(std::chrono::steady_clock::time_point until,
                         std::chrono::milliseconds timeout) noexcept
    {
        if (timeout == std::chrono::milliseconds::zero())
            return nullptr;  // a zero timeout fails at once
        // Relaxed: a heuristic; a lost update only makes one spin a little longer or shorter.
        const int budget = yield_budget_.load(std::memory_order_relaxed);
        for (int round = 0; round < relax_rounds + budget; ++round) {
            if (waiters_count_.load(std::memory_order_relaxed) != 0)
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
            if (slot_type* s = try_take()) {
                if (round >= relax_rounds)  // the yields paid off: allow more of them
                    yield_budget_.store(std::min(max_yield_rounds, budget + budget / 4 + 8),
                                        std::memory_order_relaxed);
                return s;
            }
        }
        yield_budget_.store(budget - budget / 8 - 1 > 0 ? budget - budget / 8 - 1 : 0,
                            std::memory_order_relaxed);
        return nullptr;
    }

    // A blocked thread at the head of the queue gets the next connection returned, often within
    // microseconds (a short hold): it polls its parker a moment before it sleeps, so that neither
    // side makes a system call (see parker). Only the head: a thread further back would burn a
    // core that a holder may need. Adaptive, as spin_take: the budget grows while such polls
    // succeed and shrinks when they fail (long holds), down to min_park_spin, which a handoff
    // after a hold of a microsecond or so still catches (measured: with no floor, 2 threads on
    // one connection held 1 us fell to 0.13x the mutex pool once the budget had shrunk to zero).
    // A failed poll costs at most min_park_spin pauses on top of the sleep it precedes.
    bool park_spin(parker& ready) noexcept
    {
        if (waiters_count_.load(std::memory_order_relaxed) > 1)
            return false;
        // Relaxed: a heuristic, as yield_budget_.
        const int budget = park_spin_budget_.load(std::memory_order_relaxed);
        const bool got = ready.spin(budget);
        park_spin_budget_.store(got ? std::min(max_park_spin, budget + budget / 4 + 8)
                                    : std::max(min_park_spin, budget - budget / 8 - 1),
                                std::memory_order_relaxed);
        return got;
    }

    template <class Handler>
    void start_async_acquire(Handler&& handler, std::chrono::milliseconds timeout)
    {
        using decayed = std::decay_t<Handler>;
        auto ex = boost::asio::get_associated_executor(handler, ex_);
        if (closed_.load(std::memory_order_acquire))
            return post_result(ex, std::forward<Handler>(handler), errc::pool_closed, {});
        if (slot_type* s = try_take())
            return post_result(ex, std::forward<Handler>(handler), {},
                               lease_factory::make<Connection>(this, s));
        // A decayed copy: an lvalue handler (a named lambda passed as the token) is copied.
        acquire_op<decayed>::start(this->shared_from_this(),
                                   decayed(std::forward<Handler>(handler)), clamp_timeout(timeout),
                                   Clock::now());
    }

    // ------------------------------------------------------------------------------ returning

    void return_slot(slot_type& s, bool broken) noexcept override
    {
        if (broken)
            return discard(s, destroy_cause::broken);
        const time_point now = stamps::now();
        if (auto cause = unusable(s, now))
            return discard(s, *cause);
        mark_used(s, now);
        if constexpr (has_reset)
            start_maintenance(s, &pool_impl::run_reset);
        else
            park_in_thread_cache(s);
    }

    // ------------------------------------------------------------------------------ lifecycle

    void clear() noexcept
    {
        // A connection offered concurrently may still be pushed with the old generation after the
        // drain below; pop_ready and the housekeeping sweep check the generation and discard it.
        // Under mtx_: make_available checks it there before handing a connection to a waiter.
        {
            std::lock_guard lk(mtx_);
            generation_.fetch_add(1, std::memory_order_seq_cst);
        }
        drain_idle();
    }

    void close() noexcept
    {
        // seq_cst: pairs with make_available's "push, then load closed_" (see file comment).
        if (closed_.exchange(true, std::memory_order_seq_cst))
            return finish_close_if_done();
        waiter_type* failed;
        {
            std::lock_guard lk(mtx_);
            failed = fail_waiters_locked(errc::pool_closed);
        }
        notify_failed(failed);
        drain_idle();
        if (auto self = this->weak_from_this().lock()) {
            boost::asio::post(strand_, [self] {
                self->housekeeping_timer_.cancel();
                self->retry_timer_.cancel();
                self->deadline_timer_.cancel();
                self->cancel_inflight();
            });
        }
        finish_close_if_done();
    }

    template <class Handler>
    void start_async_close(Handler&& handler)
    {
        // Until it completes, the close keeps work counted on the handler's executor, as any
        // Asio operation does: that io_context's run() does not return while leases are out.
        boost::asio::any_completion_executor work;
        using handler_executor =
            boost::asio::associated_executor_t<std::decay_t<Handler>, executor_type>;
        if constexpr (boost::asio::execution::is_executor<handler_executor>::value)
            work = boost::asio::prefer(boost::asio::get_associated_executor(handler, ex_),
                                       boost::asio::execution::outstanding_work.tracked);
        {
            std::lock_guard lk(mtx_);
            close_handlers_.push_back(
                close_waiter{std::forward<Handler>(handler), std::move(work)});
        }
        close();
    }

    pool_stats stats() const noexcept
    {
        pool_stats st;
        for (std::size_t i = 0; i < opts_.max_size; ++i) {
            st.acquired += slots_[i].lends.load(std::memory_order_relaxed);
            switch (slots_[i].state.load(std::memory_order_relaxed)) {
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
        using C = pool_counters;
        st.waiters = waiters_count_.load(std::memory_order_relaxed);
        st.waited = C::read(counters_.waited);
        st.timeouts = C::read(counters_.timeouts);
        st.cancelled = C::read(counters_.cancelled);
        st.exhausted = C::read(counters_.exhausted);
        st.created = C::read(counters_.created);
        st.connect_failures = C::read(counters_.connect_failures);
        st.leaks_suspected = C::read(counters_.leaks);
        st.destroyed_idle = destroyed(destroy_cause::idle);
        st.destroyed_lifetime = destroyed(destroy_cause::lifetime);
        st.destroyed_broken = destroyed(destroy_cause::broken);
        st.destroyed_cleared = destroyed(destroy_cause::cleared);
        st.destroyed_closed = destroyed(destroy_cause::closed);
        st.total_wait_time = std::chrono::nanoseconds(C::read(counters_.wait_ns));
        std::lock_guard lk(mtx_);
        st.last_connect_error = last_connect_error_;
        return st;
    }

private:
    // ------------------------------------------------------------------------------ waiters

    // A thread blocked in acquire().
    struct sync_waiter : waiter_type {
        sync_waiter() noexcept : waiter_type(&on_notify) {}
        static void on_notify(waiter_type* w) noexcept
        {
            static_cast<sync_waiter*>(w)->ready.notify();
        }
        parker ready;
    };

    // An async_acquire that has to wait. Allocated with the handler's allocator.
    //
    // Ownership. While queued, the op belongs to the queue; whoever unlinks it (a returner
    // handing it a connection, the pool's deadline timer, its cancellation, close()) posts
    // complete() to the handler's executor, and that posted function owns it (an op_ref). A
    // posted function destroyed without running (the io_context was shut down or destroyed)
    // gives the op back through op_ref's destructor: the op and its handler are then freed, the
    // handler never invoked, and a connection already handed over is returned to the pool.
    //
    // Outstanding work. Like every Asio operation, a pending acquire keeps work counted on the
    // handler's executor (`work`), so that the io_context that will run the handler does not
    // run out of work while the acquire waits.
    template <class Handler>
    struct acquire_op final : waiter_type {
        using allocator_type = typename std::allocator_traits<
            boost::asio::associated_allocator_t<Handler>>::template rebind_alloc<acquire_op>;
        using handler_executor_type = boost::asio::associated_executor_t<Handler, executor_type>;
        using work_type = decltype(track_work(std::declval<handler_executor_type>()));

        acquire_op(std::shared_ptr<pool_impl> p, Handler&& h)
            : waiter_type(&on_notify),
              pool(std::move(p)),
              handler(std::move(h)),
              work(track_work(boost::asio::get_associated_executor(handler, pool->ex_)))
        {
        }

        handler_executor_type handler_executor() const noexcept
        {
            return boost::asio::get_associated_executor(handler, pool->ex_);
        }

        // The ownership of a claimed op, held by the function posted to run complete().
        class op_ref {
        public:
            explicit op_ref(acquire_op* o) noexcept : op_(o) {}
            op_ref(op_ref&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
            op_ref& operator=(op_ref&&) = delete;
            ~op_ref()
            {
                if (op_)
                    op_->abandon();
            }
            acquire_op* release() noexcept { return std::exchange(op_, nullptr); }

        private:
            acquire_op* op_;
        };

        static void start(std::shared_ptr<pool_impl> p, Handler&& h,
                          std::chrono::milliseconds timeout, time_point now)
        {
            static_assert(sizeof(acquire_op) <= 256 + sizeof(Handler),
                          "design budget: at most 256 bytes of pool metadata per waiter");
            allocator_type alloc(boost::asio::get_associated_allocator(h));
            acquire_op* op = std::allocator_traits<allocator_type>::allocate(alloc, 1);
            std::allocator_traits<allocator_type>::construct(alloc, op, p, std::move(h));
            pool_impl& pl = *p;
            if (timeout < never)
                op->deadline = ticks(now + std::chrono::duration_cast<duration>(timeout));
            // Connect the cancellation slot before the op is visible to others: after enqueue,
            // another thread may claim it and post complete(), which clears the slot.
            auto slot = boost::asio::get_associated_cancellation_slot(op->handler);
            if (slot.is_connected())
                slot.template emplace<cancel_handler>(op);
            if (pl.enqueue(*op, now))
                pl.serve_from_idle(now);
            else
                on_notify(op);  // refused (closed, too many waiters, expired): result already set
        }

        struct cancel_handler {
            explicit cancel_handler(acquire_op* o) noexcept : op(o) {}
            acquire_op* op;
            void operator()(boost::asio::cancellation_type type) const noexcept
            {
                using ct = boost::asio::cancellation_type;
                if ((type & (ct::terminal | ct::partial | ct::total)) != ct::none)
                    op->pool->cancel(*op);
            }
        };

        // Called by whoever unlinked the op, after releasing the mutex.
        static void on_notify(waiter_type* w) noexcept
        {
            auto* op = static_cast<acquire_op*>(w);
            post_unwrapped(op->handler_executor(),
                           [ref = op_ref(op)]() mutable { ref.release()->complete(); });
        }

        void clear_cancellation_slot() noexcept
        {
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected())
                slot.clear();
        }

        // On the handler's executor. Frees the op before the handler runs (Asio's rule), keeping
        // the work count until the handler has been dispatched.
        void complete() noexcept
        {
            clear_cancellation_slot();
            allocator_type alloc(boost::asio::get_associated_allocator(handler));
            auto e = handler_executor();
            Handler h(std::move(handler));
            work_type w(std::move(work));
            error_code ec = this->result_ec;
            slot_type* s = this->result_slot;
            auto p = std::move(pool);
            std::allocator_traits<allocator_type>::destroy(alloc, this);
            std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
            handle_type lease = s ? lease_factory::make<Connection>(p.get(), s) : handle_type{};
            p.reset();
            boost::asio::dispatch(e, boost::asio::append(std::move(h), ec, std::move(lease)));
        }

        // The executor that would run the handler is gone: destroy the handler without invoking
        // it, and give back a connection it was handed.
        void abandon() noexcept
        {
            clear_cancellation_slot();
            allocator_type alloc(boost::asio::get_associated_allocator(handler));
            slot_type* s = this->result_slot;
            auto p = std::move(pool);
            std::allocator_traits<allocator_type>::destroy(alloc, this);
            std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
            if (s)
                lease_factory::make<Connection>(p.get(), s).release();
        }

        std::shared_ptr<pool_impl> pool;
        Handler handler;
        work_type work;
    };

    template <class Executor, class Handler>
    static void post_result(const Executor& ex, Handler&& handler, error_code ec, handle_type lease)
    {
        post_unwrapped(ex,
                       boost::asio::append(std::forward<Handler>(handler), ec, std::move(lease)));
    }

    // asio::post, but a type-erased io_context executor (the usual case) is posted to directly:
    // through any_io_executor the function would be type-erased and allocated twice (measured:
    // about twice the instructions of a plain post).
    template <class Executor, class Fn>
    static void post_unwrapped(const Executor& ex, Fn&& fn)
    {
        if constexpr (std::is_same_v<Executor, executor_type>) {
            using io_executor = boost::asio::io_context::executor_type;
            if (const io_executor* io = ex.template target<io_executor>())
                return void(boost::asio::post(*io, std::forward<Fn>(fn)));
        }
        boost::asio::post(ex, std::forward<Fn>(fn));
    }

    // Queues `w`, or refuses it with its result set: the pool is closed, the backend refuses us
    // for good, `expired` (the deadline has passed already, e.g. a zero timeout), its deadline
    // or cancellation fired before this call, or max_waiters are waiting already. Only a queued
    // waiter, or one refused for max_waiters (the demand is real: with max_waiters 0 no acquire
    // ever waits, and connects must still open on demand), starts connects.
    bool enqueue(waiter_type& w, time_point now, bool expired = false)
    {
        w.enqueued_at = ticks(now);
        std::uint32_t connects = nil_index;
        bool queued = false;
        bool rearm = false;
        {
            std::lock_guard lk(mtx_);
            w.decided = true;
            if (closed_.load(std::memory_order_relaxed)) {
                w.result_ec = errc::pool_closed;
            } else if (w.cancelled_early) {
                pool_counters::bump(counters_.cancelled);
                w.result_ec = boost::asio::error::operation_aborted;
            } else if (expired || w.deadline <= w.enqueued_at) {
                pool_counters::bump(counters_.timeouts);
                w.result_ec = deadline_error_locked();
            } else if (size_ == connecting_ && tracker_.failed_permanently() &&
                       tracker_.backing_off(now)) {
                // Fail fast while the backend refuses us for good (see on_connect_failed): the
                // next attempt runs when the backoff allows, and an acquire then waits for it.
                w.result_ec = tracker_.last_failure();
            } else if (waiters_.size() >= opts_.max_waiters) {
                pool_counters::bump(counters_.exhausted);
                w.result_ec = errc::pool_exhausted;
                connects = plan_connects_locked(now, /*refused=*/1);
            } else {
                waiters_.push_back(w);
                if (w.deadline != waiter_type::no_deadline) {
                    deadlines_.insert(w);
                    if (w.deadline < timer_deadline_) {  // the pool's timer must fire sooner
                        timer_deadline_ = w.deadline;
                        rearm = true;
                    }
                }
                pool_counters::bump(counters_.waited);
                // seq_cst: acquire side of the no-lost-wake-up race (file comment): this
                // increment precedes our pop in serve_from_idle, and pairs with
                // make_available's load.
                waiters_count_.fetch_add(1, std::memory_order_seq_cst);
                connects = plan_connects_locked(now);
                queued = true;
            }
        }
        if (rearm)
            boost::asio::post(strand_,
                              [self = this->shared_from_this()] { self->arm_deadlines(); });
        launch_connects(connects);
        return queued;
    }

    // Under mtx_: what a waiter whose deadline passed reports: the most recent connect error if
    // the most recent attempt failed, else errc::acquire_timeout.
    error_code deadline_error_locked() const noexcept
    {
        const error_code last = tracker_.last_failure();
        return last ? last : make_error_code(errc::acquire_timeout);
    }

    // After enqueueing: a connection that was pushed while we enqueued goes to the oldest waiter.
    void serve_from_idle(time_point now) noexcept
    {
        if (slot_type* s = pop_ready(now))
            make_available(*s, offer_check::validated);
    }

    // Under mtx_: unlinks every waiter with `ec` as its result; returns them chained by `next`
    // for notify_failed() after the mutex is released. Once unlinked (linked == false), a waiter
    // is touched by nobody else (its deadline and cancellation see it claimed), so the chain may
    // reuse its link.
    waiter_type* fail_waiters_locked(error_code ec) noexcept
    {
        waiter_type* chain = nullptr;
        waiter_type** tail = &chain;
        while (waiter_type* w = waiters_.pop_front()) {
            left_queue_locked(*w);
            w->result_ec = ec;
            *tail = w;
            tail = &w->next;
        }
        return chain;
    }

    static void notify_failed(waiter_type* chain) noexcept
    {
        while (chain) {
            waiter_type* w = std::exchange(chain, chain->next);
            w->notify(w);  // may free w: its successor was read first
        }
    }

    // Under mtx_: the waiter's deadline passed.
    void expire_locked(waiter_type& w) noexcept
    {
        waiters_.erase(w);
        left_queue_locked(w);
        pool_counters::bump(counters_.timeouts);
        w.result_ec = deadline_error_locked();
    }

    // On the strand: (re)arms the pool's deadline timer for the earliest deadline of a queued
    // async waiter. Any number of requests may be pending; each arms for the earliest there is
    // now (expires_at cancels the previous wait, whose handler then does nothing).
    void arm_deadlines() noexcept
    {
        std::int64_t at;
        {
            std::lock_guard lk(mtx_);
            at = deadlines_.earliest();
            timer_deadline_ = at;
        }
        if (at == waiter_type::no_deadline || closed_.load(std::memory_order_acquire))
            return;
        deadline_timer_.expires_at(from_ticks(at));
        deadline_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
            if (!ec)
                self->expire_due();
        });
    }

    // On the strand, when the deadline timer fires: every waiter whose deadline has passed
    // leaves the queue with its deadline error; then the timer is armed for the next one.
    void expire_due() noexcept
    {
        waiter_type* chain = nullptr;
        waiter_type** tail = &chain;
        {
            std::lock_guard lk(mtx_);
            const std::int64_t now = ticks(Clock::now());
            while (waiter_type* w = deadlines_.due(now)) {
                expire_locked(*w);
                *tail = w;
                tail = &w->next;
            }
        }
        notify_failed(chain);
        arm_deadlines();
    }

    void cancel(waiter_type& w) noexcept
    {
        {
            std::lock_guard lk(mtx_);
            if (!w.linked) {
                if (!w.decided)  // not queued yet: enqueue() will refuse it (see waiter)
                    w.cancelled_early = true;
                return;  // already claimed or refused: it completes with what it was given
            }
            waiters_.erase(w);
            left_queue_locked(w);
            pool_counters::bump(counters_.cancelled);
            w.result_ec = boost::asio::error::operation_aborted;
        }
        w.notify(&w);
    }

    // ------------------------------------------------------------------------------ the idle set

    // `now` is only read with leak detection on (try_take passes no time otherwise).
    void lend(slot_type& s, time_point now) noexcept
    {
        s.set(slot_state::lent);
        if (opts_.leak_threshold.count() != 0)
            s.lent_at.store(ticks(now), std::memory_order_relaxed);
        // The owner's private count (see slot::lends): a plain load and store.
        s.lends.store(s.lends.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    // Why a connection may not be kept, if it may not: unusable for lending, or past its
    // lifetime (checked when it comes back and by the housekeeping sweep, not when it is lent).
    std::optional<destroy_cause> unusable(slot_type& s, time_point now) noexcept
    {
        if (now >= from_ticks(s.expiry)) {
            std::lock_guard lk(mtx_);
            if (limiter_.may_retire(now, from_ticks(s.created), from_ticks(s.expiry)))
                return destroy_cause::lifetime;
        }
        return unusable(s);
    }

    // Why a connection may not be lent, if it may not.
    std::optional<destroy_cause> unusable(slot_type& s) noexcept
    {
        if (closed_.load(std::memory_order_acquire))
            return destroy_cause::closed;
        if (s.generation != generation_.load(std::memory_order_acquire))
            return destroy_cause::cleared;
        if constexpr (has_is_healthy) {
            bool healthy = false;
            try {
                healthy = static_cast<bool>(factory_.is_healthy(std::as_const(*s.conn)));
            } catch (...) {
            }
            if (!healthy)
                return destroy_cause::broken;
        }
        return std::nullopt;
    }

    // Pops until a connection that can be lent now is found. Connections due for validation go
    // to be pinged (they come back through make_available); unusable ones are destroyed.
    // Never called with mtx_ held.
    // `now` is only read when the factory can ping.
    slot_type* pop_ready(time_point now) noexcept
    {
        for (;;) {
            const std::uint32_t idx = pop_index();
            if (idx == nil_index)
                return nullptr;
            slot_type& s = slots_[idx];
            if (auto cause = unusable(s)) {
                discard(s, *cause);
                continue;
            }
            if constexpr (has_ping) {
                // Plus the stamp clock's error: validate when it may be due, not only when it
                // surely is.
                if (needs_validation<Clock>(opts_, now + stamps::error(), last_checked(s))) {
                    start_maintenance(s, &pool_impl::run_ping);
                    continue;
                }
            }
            return &s;
        }
    }

    // What is already known of a connection being offered (make_available).
    enum class offer_check : std::uint8_t {
        none,       // nothing: judge whether it is usable and whether it is due for validation
        usable,     // unusable() has just said no (a return, the sweep): validate when due
        validated,  // a connect, ping or reset has just succeeded on it, or pop_ready judged it
    };

    // Offers a ready connection: to the oldest waiter if there is one, else to the idle stack.
    // Never called with mtx_ held.
    //
    // A connection handed straight to a waiter is judged as pop_ready judges one it lends:
    // usable, and validated when due, as far as `known` does not say so already. Its generation
    // is checked under the mutex, which clear() also takes to bump it: a waiter that arrived
    // after clear() returned is never handed an older connection.
    void make_available(slot_type& first, offer_check known) noexcept
    {
        slot_type* s = &first;
        while (s) {
            // seq_cst: see the next comment; a zero here is re-checked after the push.
            if (waiters_count_.load(std::memory_order_seq_cst) != 0) {
                if (known == offer_check::none) {
                    if (auto cause = unusable(*s))
                        return discard(*s, *cause);
                }
                if (known != offer_check::validated && due_for_validation(*s))
                    return start_maintenance(*s, &pool_impl::run_ping);
                std::unique_lock lk(mtx_);
                if (s->generation != generation_.load(std::memory_order_relaxed)) {
                    lk.unlock();
                    return discard(*s, destroy_cause::cleared);
                }
                if (waiter_type* w = waiters_.pop_front()) {
                    left_queue_locked(*w);
                    w->result_slot = s;
                    lend(*s, stamps::now());
                    lk.unlock();
                    w->notify(w);
                    return;
                }
            }
            s->set(slot_state::idle);
            idle_.push(s->index);  // seq_cst inside: release side of the no-lost-wake-up race
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

    // Whether a connection must be pinged before it is lent (never without async_ping).
    bool due_for_validation(const slot_type& s) const noexcept
    {
        if constexpr (has_ping) {
            // Plus the stamp clock's error: validate when it may be due, not only when it
            // surely is.
            return needs_validation<Clock>(opts_, stamps::now() + stamps::error(), last_checked(s));
        } else {
            return false;
        }
    }

    // ------------------------------------------------------------------------ the thread cache

    // Takes an idle slot: this thread's cached one, else the top of the stack, else one cached
    // by another thread. The slot is then in state idle and ours. Never called with mtx_ held.
    std::uint32_t pop_index() noexcept
    {
        thread_cache_entry* mine = thread_cache_find(id_);
        if (mine && mine->index != nil_index) {
            const std::uint32_t i = std::exchange(mine->index, nil_index);
            if (claim_cached(slots_[i]))
                return i;
        }
        if (const std::uint32_t i = idle_.pop(); i != nil_index)
            return i;
        return steal_cached();
    }

    // The only way out of state `cached`; exactly one claimant wins.
    static bool claim_cached(slot_type& s) noexcept
    {
        // Relaxed pre-check: no read-modify-write (no exclusive ownership of the line) on a slot
        // that is not cached. The scan in steal_cached does the seq_cst load the waiter's side
        // of the race needs.
        if (s.state.load(std::memory_order_relaxed) != slot_state::cached)
            return false;
        slot_state expected = slot_state::cached;
        // Acquire on success: we own the slot and must see what its returner wrote (pairs with
        // the release half of park_in_thread_cache's seq_cst store). seq_cst keeps the claim in
        // the total order of the no-lost-wake-up argument.
        return s.state.compare_exchange_strong(
            expected, slot_state::idle, std::memory_order_seq_cst, std::memory_order_relaxed);
    }

    // Scans every slot for one cached by any thread: the stack is empty, so this is the slow
    // path (or a waiter enqueueing, or housekeeping).
    //
    // Which one: the least recently used, so that a thread does not take the connection another
    // running thread is about to take back (at W = 0 a busy thread's connection is cached half of
    // the time, and two threads would steal it from each other in turn); ties are broken by a
    // scan that starts at a per-thread offset, so that stealers spread over the candidates.
    std::uint32_t steal_cached() noexcept
    {
        const std::uint32_t n = static_cast<std::uint32_t>(opts_.max_size);
        static thread_local const std::uint32_t offset =
            static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(thread_cache_table()) >> 6);
        for (;;) {
            std::uint32_t best = nil_index;
            std::int64_t best_used = INT64_MAX;
            for (std::uint32_t j = 0; j < n; ++j) {
                const std::uint32_t k = (offset + j) % n;
                slot_type& s = slots_[k];
                // seq_cst: the waiter's side of the no-lost-wake-up race (file comment): ordered
                // after its increment of waiters_count_, paired with park_in_thread_cache's store.
                if (s.state.load(std::memory_order_seq_cst) != slot_state::cached)
                    continue;
                const std::int64_t used = s.last_used.load(std::memory_order_relaxed);
                if (used < best_used) {
                    best = k;
                    best_used = used;
                }
            }
            if (best == nil_index || claim_cached(slots_[best]))
                return best;
            // Someone else claimed it first: look again (lock-free: they made progress).
        }
    }

    // A returned connection, ready to lend again: into this thread's cache, unless someone waits.
    void park_in_thread_cache(slot_type& s) noexcept
    {
        if (waiters_count_.load(std::memory_order_relaxed) != 0)
            return make_available(s, offer_check::usable);  // straight to the oldest waiter
        thread_cache_entry& mine = thread_cache_for(id_);
        if (mine.pool_id == id_ && mine.index != nil_index && mine.index != s.index) {
            slot_type& older = slots_[mine.index];
            // One cached connection per thread: the older one goes to the shared stack.
            if (claim_cached(older))
                make_available(older, offer_check::none);
        }
        mine.pool_id = id_;
        mine.index = s.index;
        // seq_cst: release publishes the slot to its next claimant; seq_cst orders this store
        // before the loads below (the returner's side of the no-lost-wake-up race).
        s.state.store(slot_state::cached, std::memory_order_seq_cst);
        if (waiters_count_.load(std::memory_order_seq_cst) != 0 ||
            closed_.load(std::memory_order_seq_cst)) {
            // Someone started waiting (or close() began) meanwhile: offer it properly, unless a
            // waiter's scan stole it first.
            if (claim_cached(s))
                make_available(s, offer_check::usable);
        }
    }

    // Under mtx_, after `w` was unlinked: the counter and the wait-time statistic.
    void left_queue_locked(waiter_type& w) noexcept
    {
        deadlines_.erase(w);
        // Relaxed: only a hint for the fast path; decrements need no ordering (a stale non-zero
        // sends an acquirer to the slow path, which re-checks under the mutex).
        waiters_count_.fetch_sub(1, std::memory_order_relaxed);
        const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(
            Clock::now() - from_ticks(w.enqueued_at));
        pool_counters::bump(counters_.wait_ns,
                            static_cast<std::uint64_t>(std::max<std::int64_t>(0, waited.count())));
    }

    // Takes the whole idle stack: destroys what is unusable (closed, cleared), offers the rest
    // again (bottom first, so that the order is kept).
    // Cached connections are taken too: they are the most recent, so they go on top.
    void drain_idle() noexcept
    {
        std::vector<std::uint32_t> taken;
        take_all_idle(taken);
        std::vector<slot_type*> keep;
        for (std::uint32_t idx : taken) {
            slot_type& s = slots_[idx];
            if (closed_.load(std::memory_order_acquire))
                discard(s, destroy_cause::closed);
            else if (s.generation != generation_.load(std::memory_order_acquire))
                discard(s, destroy_cause::cleared);
            else
                keep.push_back(&s);
        }
        for (auto it = keep.rbegin(); it != keep.rend(); ++it)
            make_available(**it, offer_check::none);
    }

    // Every idle connection, stacked and cached, most recent first (cached ones, then the stack
    // from the top). They are ours (state idle) until offered or discarded.
    // Appends to `taken`; a caller that reserved max_size entries (scratch_) allocates nothing.
    void take_all_idle(std::vector<std::uint32_t>& taken) noexcept
    {
        for (std::uint32_t k = 0; k < opts_.max_size; ++k)
            if (claim_cached(slots_[k]))
                taken.push_back(k);
        for (std::uint32_t i = idle_.take_all(); i != nil_index; i = idle_.next(i))
            taken.push_back(i);
    }

    // ------------------------------------------------------------------------------ slots

    void discard(slot_type& s, destroy_cause cause) noexcept
    {
        s.set(slot_state::destroying);
        pool_counters::bump(counters_.destroyed[static_cast<std::size_t>(cause)]);
        s.conn.reset();  // the connection's destructor; it counts in size() until it returns
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
        std::uint32_t connects = nil_index;
        close_handler_list done;
        executor_type done_ex;
        bool orphan_done = false;
        {
            std::lock_guard lk(mtx_);
            s.set(slot_state::free);
            s.next_free = free_head_;
            free_head_ = s.index;
            --size_;
            if (!closed_.load(std::memory_order_relaxed) && (self = this->weak_from_this().lock()))
                connects = plan_connects_locked(Clock::now());
            done = take_close_handlers_locked();
            if (!done.empty())
                done_ex = ex_;
            orphan_done = orphaned_ && size_ == 0;
        }
        if (self)
            launch_connects(connects);
        complete_close(std::move(done), done_ex);
        if (orphan_done)
            delete this;
    }

    // ------------------------------------------------------------------------------ connecting

    // Under mtx_: reserves slots for the connects the sizing decision wants now, and arranges a
    // retry when a backoff holds them back. Returns a chain of slots (next_free) to launch.
    // `refused`: acquirers turned away for max_waiters just now, counted as demand.
    std::uint32_t plan_connects_locked(time_point now, std::size_t refused = 0) noexcept
    {
        sizing_state st{size_,
                        connecting_,
                        in_transit_,
                        waiters_.size() + refused,
                        closed_.load(std::memory_order_relaxed),
                        tracker_.backing_off(now)};
        std::size_t n = connects_to_start(opts_, st);
        if (n == 0 && st.backing_off) {
            st.backing_off = false;
            if (connects_to_start(opts_, st) != 0)
                request_retry_locked();
        }
        std::uint32_t chain = nil_index;
        for (; n > 0 && free_head_ != nil_index; --n) {
            slot_type& s = slots_[free_head_];
            free_head_ = s.next_free;
            ++size_;
            ++connecting_;
            s.set(slot_state::connecting);
            s.generation = generation_.load(std::memory_order_relaxed);
            s.next_free = chain;
            chain = s.index;
        }
        return chain;
    }

    void launch_connects(std::uint32_t chain) noexcept
    {
        if (chain == nil_index)
            return;
        auto self = this->shared_from_this();
        boost::asio::post(strand_, [self, chain] {
            for (std::uint32_t i = chain; i != nil_index;) {
                slot_type& s = self->slots_[i];
                i = s.next_free;
                self->run_connect(s);
            }
        });
    }

    void request_retry_locked() noexcept
    {
        if (retry_requested_)
            return;
        retry_requested_ = true;
        const time_point at = tracker_.retry_at();
        if (auto self = this->weak_from_this().lock()) {
            boost::asio::post(strand_, [self, at] {
                self->retry_timer_.expires_at(at);
                self->retry_timer_.async_wait([self](error_code ec) {
                    std::uint32_t connects = nil_index;
                    {
                        std::lock_guard lk(self->mtx_);
                        self->retry_requested_ = false;
                        if (!ec)
                            connects = self->plan_connects_locked(Clock::now());
                    }
                    self->launch_connects(connects);
                });
            });
        }
    }

    // A factory call on the strand, bounded by connect_timeout and cancellable by close().
    // Owned by shared_ptrs in the timer's handler and in the factory's completion handler;
    // linked in inflight_ (strand only) from start to completion.
    struct bounded_call : std::enable_shared_from_this<bounded_call> {
        explicit bounded_call(const strand_type& s) : timer(s) {}
        timer_type timer;
        boost::asio::cancellation_signal signal;
        bool timed_out = false;
        bool finished = false;  // completed, or the initiation threw: the timer must do nothing
        bounded_call* prev = nullptr;
        bounded_call* next = nullptr;
    };

    // The completion handler the factory receives. Its associated executor is the strand, so a
    // factory that completes through it (asio::dispatch/post, as Asio operations do) lands there.
    // One that calls it directly from a thread of its own (a callback-style C driver) is moved
    // onto the strand here: the pool's bookkeeping after a factory call is strand-only.
    template <class Fn>
    struct strand_completion {
        using executor_type = strand_type;
        strand_type strand;
        Fn fn;

        executor_type get_executor() const noexcept { return strand; }

        template <class... Args>
        void operator()(Args&&... args)
        {
            if (strand.running_in_this_thread())
                return fn(std::forward<Args>(args)...);
            boost::asio::post(strand,
                              [fn = std::move(fn), ... a = std::decay_t<Args>(std::forward<Args>(
                                                       args))]() mutable { fn(std::move(a)...); });
        }
    };

    // On the strand. start(handler) initiates the factory operation; done(ec, args...) runs on
    // the strand when it completes (ec is connect_timeout if the deadline passed first);
    // on_timeout() runs when the deadline passes; failed(ec) runs instead of done if the
    // initiation throws (a factory bug must not take the executor down, nor leak the slot).
    template <class Start, class Done, class OnTimeout, class Failed>
    void call_bounded(Start start, Done done, OnTimeout on_timeout, Failed failed)
    {
        auto call = std::make_shared<bounded_call>(strand_);
        link_inflight(*call);
        call->timer.expires_after(std::chrono::duration_cast<duration>(opts_.connect_timeout));
        call->timer.async_wait([call, on_timeout](error_code ec) mutable {
            // A deadline that passed while the completion was already queued on the strand
            // (both ready at once) lost the race: the call is over, its operation and its
            // cancellation slot are gone. Only an unfinished call times out.
            if (ec || call->finished)
                return;
            call->timed_out = true;
            on_timeout();
            call->signal.emit(boost::asio::cancellation_type::terminal);
        });
        auto self = this->shared_from_this();
        auto completion = [self, call, done = std::move(done)](error_code ec,
                                                               auto&&... args) mutable {
            if (std::exchange(call->finished, true))
                return;
            call->timer.cancel();
            self->unlink_inflight(*call);
            if (call->timed_out)
                ec = errc::connect_timeout;
            done(ec, std::forward<decltype(args)>(args)...);
        };
        try {
            start(boost::asio::bind_cancellation_slot(
                call->signal.slot(),
                strand_completion<decltype(completion)>{strand_, std::move(completion)}));
        } catch (...) {
            if (!std::exchange(call->finished, true)) {
                call->timer.cancel();
                unlink_inflight(*call);
                failed(to_error_code(std::current_exception()));
            }
        }
    }

    // On the strand: cancels every factory call in flight (close()). A factory may complete a
    // cancelled call inline, which unlinks (and may free) it: the list is copied first.
    void cancel_inflight() noexcept
    {
        std::vector<std::shared_ptr<bounded_call>> calls;
        try {
            for (bounded_call* c = inflight_; c; c = c->next)
                calls.push_back(c->shared_from_this());
        } catch (...) {  // out of memory: cancel what was copied; the rest time out
        }
        for (auto& c : calls)
            if (!c->finished)
                c->signal.emit(boost::asio::cancellation_type::terminal);
    }

    void link_inflight(bounded_call& c) noexcept
    {
        c.next = inflight_;
        if (inflight_)
            inflight_->prev = &c;
        inflight_ = &c;
    }

    void unlink_inflight(bounded_call& c) noexcept
    {
        (c.prev ? c.prev->next : inflight_) = c.next;
        if (c.next)
            c.next->prev = c.prev;
        c.prev = c.next = nullptr;
    }

    // On the strand.
    void run_connect(slot_type& s)
    {
        auto self = this->shared_from_this();
        call_bounded([this](auto handler) { factory_.async_connect(std::move(handler)); },
                     [self, &s](error_code ec, Connection conn) {
                         if (ec)
                             self->on_connect_failed(s, ec);
                         else
                             self->on_connected(s, std::move(conn));
                     },
                     [self] { self->record_connect_failure(errc::connect_timeout); },
                     [self, &s](error_code ec) { self->on_connect_failed(s, ec); });
    }

    // On the strand (is_permanent_error is a factory member).
    void record_connect_failure(error_code ec) noexcept
    {
        bool permanent = false;
        if constexpr (has_is_permanent_error) {
            try {
                permanent = static_cast<bool>(factory_.is_permanent_error(std::as_const(ec)));
            } catch (...) {  // a classification that throws classifies nothing
            }
        }
        pool_counters::bump(counters_.connect_failures);
        std::lock_guard lk(mtx_);
        tracker_.on_failure(opts_, ec, Clock::now(), jitter_(), permanent);
        last_connect_error_ = ec;
    }

    // On the strand.
    void on_connect_failed(slot_type& s, error_code ec) noexcept
    {
        // Without the source location Asio may have attached (what() would carry ~300
        // characters of a header's path): the error is kept and reported as a plain code.
        ec = error_code(ec.value(), ec.category());
        if (ec != errc::connect_timeout)  // a timeout was recorded when it happened
            record_connect_failure(ec);
        waiter_type* failed = nullptr;
        {
            std::lock_guard lk(mtx_);
            --connecting_;
            // A permanent error (bad credentials, unknown database) will not go away by waiting:
            // when no connection exists that could come back to them, the waiters fail now with
            // it instead of at their deadlines. `s` still counts in size_ until free_slot.
            if (tracker_.failed_permanently() && size_ - connecting_ == 1)
                failed = fail_waiters_locked(ec);
        }
        notify_failed(failed);
        free_slot(s);
    }

    // On the strand.
    void on_connected(slot_type& s, Connection&& conn)
    {
        const time_point now = Clock::now();
        double draw;
        {
            std::lock_guard lk(mtx_);
            --connecting_;
            tracker_.on_success();  // the backend answers, whatever becomes of this connection
            draw = jitter_();
        }
        pool_counters::bump(counters_.created);
        s.conn.emplace(std::move(conn));
        if (closed_.load(std::memory_order_acquire))
            return discard(s, destroy_cause::closed);  // opened for a pool closed since
        if (s.generation != generation_.load(std::memory_order_acquire))
            return discard(s, destroy_cause::cleared);  // opened before a clear(): never lent
        s.created = ticks(now);
        s.expiry = ticks(expiry_of<Clock>(opts_, now, draw));
        mark_used(s, stamps::now());  // every last_used/last_checked stamp from one clock
        make_available(s, offer_check::validated);
        replan();  // the connect slot is free again: more waiters or min_size may want it
    }

    // Starts the connects that the sizing decision wants now. After make_available, so that a
    // waiter just served is no longer counted as demand.
    void replan() noexcept
    {
        std::uint32_t connects;
        {
            std::lock_guard lk(mtx_);
            connects = plan_connects_locked(Clock::now());
        }
        launch_connects(connects);
    }

    // ------------------------------------------------------------------------------ maintenance

    // Takes `s` out of circulation for a ping or a reset (run on the strand); it comes back
    // through offer(), or is destroyed if the call fails.
    void start_maintenance(slot_type& s, void (pool_impl::*run)(slot_type&)) noexcept
    {
        auto self = this->weak_from_this().lock();
        if (!self)  // orphaned: the pool is closed and nobody will run the strand for it
            return discard(s, destroy_cause::closed);
        s.set(slot_state::maintenance);
        {
            std::lock_guard lk(mtx_);
            ++in_transit_;
        }
        boost::asio::post(strand_, [self, &s, run] { ((*self).*run)(s); });
    }

    void run_ping(slot_type& s)
    {
        if constexpr (has_ping)
            run_check(s, [this, &s](auto h) { factory_.async_ping(*s.conn, std::move(h)); });
    }

    void run_reset(slot_type& s)
    {
        if constexpr (has_reset)
            run_check(s, [this, &s](auto h) { factory_.async_reset(*s.conn, std::move(h)); });
    }

    // A ping or a reset: success offers the connection again, failure destroys it.
    template <class Start>
    void run_check(slot_type& s, Start start)
    {
        auto self = this->shared_from_this();
        auto done = [self, &s](error_code ec) { self->end_maintenance(s, ec); };
        call_bounded(std::move(start), done, [] {}, done);
    }

    void end_maintenance(slot_type& s, error_code ec) noexcept
    {
        {
            std::lock_guard lk(mtx_);
            --in_transit_;
        }
        if (ec)  // a call cut short by close() failed for that reason, not a broken connection
            return discard(s, closed_.load(std::memory_order_acquire) ? destroy_cause::closed
                                                                      : destroy_cause::broken);
        const time_point now = Clock::now();
        if (auto cause = unusable(s, now))
            return discard(s, *cause);
        // Known good now; last_used stays, so a pinged surplus connection still ages out.
        // A successful reset is a round trip to the server too: it counts as a validation.
        s.last_checked.store(ticks(stamps::now()), std::memory_order_relaxed);
        make_available(s, offer_check::validated);
        replan();
    }

    // ------------------------------------------------------------------------------ housekeeping

    void start()
    {
        replan();  // pre-warm min_size
        auto self = this->shared_from_this();
        boost::asio::post(strand_, [self] { self->arm_housekeeping(); });
    }

    void arm_housekeeping()
    {
        if (closed_.load(std::memory_order_acquire))
            return;
        housekeeping_timer_.expires_after(
            std::chrono::duration_cast<duration>(housekeeping_period(opts_)));
        housekeeping_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
            if (ec || self->closed_.load(std::memory_order_acquire))
                return;
            self->housekeep();
            self->arm_housekeeping();
        });
    }

    // On the strand: reaping, retirement, keepalive, leak detection, min_size upkeep.
    void housekeep()
    {
        const time_point now = Clock::now();
        scratch_.clear();
        for (std::size_t i = 0; i < opts_.max_size; ++i) {
            slot_type& s = slots_[i];
            const slot_state st = s.state.load(std::memory_order_relaxed);
            if (st == slot_state::idle || st == slot_state::cached) {
                scratch_.push_back(s.index);
            } else if (st == slot_state::lent && opts_.leak_threshold.count() != 0) {
                const std::int64_t since = s.lent_at.load(std::memory_order_relaxed);
                if (now - from_ticks(since) >= opts_.leak_threshold &&
                    s.leak_reported_for != since) {
                    s.leak_reported_for = since;
                    pool_counters::bump(counters_.leaks);
                }
            }
        }
        if (idle_sweep_due(now))
            sweep_idle(now);
        replan();
    }

    // Whether sweep_idle would act on any of the idle connections in scratch_. Taking the stack
    // disturbs acquirers, so housekeeping sweeps only when there is something to do. The stack
    // order is (nearly) last_used order, so sorting by it tells which connections are the surplus.
    bool idle_sweep_due(time_point now)
    {
        std::sort(scratch_.begin(), scratch_.end(), [this](std::uint32_t a, std::uint32_t b) {
            return last_used(slots_[a]) < last_used(slots_[b]);
        });
        std::size_t surplus;
        {
            std::lock_guard lk(mtx_);
            surplus = size_ > opts_.min_size ? size_ - opts_.min_size : 0;
            // Under mtx_: a slot seen idle may since have been freed and reserved for a new
            // connect, which writes its generation under mtx_.
            const std::uint64_t gen = generation_.load(std::memory_order_acquire);
            for (std::uint32_t i : scratch_) {
                const slot_type& s = slots_[i];
                if (s.generation != gen ||
                    limiter_.would_retire(now, from_ticks(s.created), from_ticks(s.expiry)))
                    return true;
            }
        }
        for (std::uint32_t i : scratch_) {
            const slot_type& s = slots_[i];
            const bool is_surplus = surplus > 0;
            if (is_surplus)
                --surplus;
            if ((is_surplus && idle_expired<Clock>(opts_, now, last_used(s))) ||
                (!is_surplus && has_ping && needs_keepalive<Clock>(opts_, now, last_checked(s))))
                return true;
        }
        return false;
    }

    // Takes the idle stack and judges each connection, oldest (bottom) first. The oldest
    // connections beyond min_size are the surplus: closed once idle past idle_timeout, never
    // keepalive-pinged (a ping puts a connection back on top of the stack, where it would be
    // reused and never age out; validation on acquire covers them). The connections the pool keeps
    // are pinged past keepalive_interval. Any connection past its lifetime retires.
    // Concurrent acquirers see an empty stack for these microseconds and wait instead; the
    // offers below serve them.
    void sweep_idle(time_point now)
    {
        scratch_.clear();
        take_all_idle(scratch_);
        // Oldest first: the surplus are the least recently used (stack order alone would miss
        // the cached connections).
        std::stable_sort(scratch_.begin(), scratch_.end(),
                         [this](std::uint32_t a, std::uint32_t b) {
                             return last_used(slots_[a]) < last_used(slots_[b]);
                         });
        std::size_t surplus;
        {
            std::lock_guard lk(mtx_);
            surplus = size_ > opts_.min_size ? size_ - opts_.min_size : 0;
        }
        for (std::uint32_t idx : scratch_) {
            slot_type& s = slots_[idx];
            const bool is_surplus = surplus > 0;
            if (is_surplus)
                --surplus;
            if (auto cause = unusable(s, now))
                discard(s, *cause);
            else if (is_surplus && idle_expired<Clock>(opts_, now, last_used(s)))
                discard(s, destroy_cause::idle);
            else if (!is_surplus && has_ping && needs_keepalive<Clock>(opts_, now, last_checked(s)))
                start_maintenance(s, &pool_impl::run_ping);
            else
                make_available(s, offer_check::usable);
        }
    }

    // ------------------------------------------------------------------------------ ownership

    // The last shared_ptr is gone: the pool object is destroyed and no internal operation is
    // pending (each holds a shared_ptr while it runs). Leases may still be out: the pool then
    // lives on until the last of them is returned. A slot still connecting or in maintenance now
    // belongs to an operation whose handler was destroyed without running (its io_context was
    // shut down): nothing will bring it back, so its connection is destroyed here.
    void on_owners_gone() noexcept
    {
        close();
        std::vector<slot_type*> abandoned;
        for (std::size_t i = 0; i < opts_.max_size; ++i) {
            const slot_state st = slots_[i].state.load(std::memory_order_acquire);
            if (st == slot_state::connecting || st == slot_state::maintenance)
                abandoned.push_back(&slots_[i]);
        }
        for (slot_type* sl : abandoned) {
            sl->set(slot_state::destroying);
            if (sl->conn) {  // in maintenance; a connecting slot has none yet
                pool_counters::bump(
                    counters_.destroyed[static_cast<std::size_t>(destroy_cause::closed)]);
                sl->conn.reset();
            }
            sl->set(slot_state::free);
        }
        bool last;
        {
            std::lock_guard lk(mtx_);
            size_ -= abandoned.size();
            last = size_ == 0;
            orphaned_ = !last;
        }
        if (last)
            delete this;
    }

    struct close_waiter {
        boost::asio::any_completion_handler<void(error_code)> handler;
        boost::asio::any_completion_executor work;  // tracked; released once it is posted
    };
    using close_handler_list = std::vector<close_waiter>;

    // Under mtx_: the async_close handlers to complete, once the pool is closed and empty.
    close_handler_list take_close_handlers_locked() noexcept
    {
        if (size_ != 0 || !closed_.load(std::memory_order_relaxed))
            return {};
        return std::exchange(close_handlers_, {});
    }

    static void complete_close(close_handler_list done, const executor_type& ex) noexcept
    {
        for (auto& w : done)  // post() runs each through its own associated executor
            boost::asio::post(ex, boost::asio::append(std::move(w.handler), error_code{}));
    }

    // Only with a live pool (an owner's call, or on_owners_gone itself).
    void finish_close_if_done() noexcept
    {
        close_handler_list done;
        {
            std::lock_guard lk(mtx_);
            done = take_close_handlers_locked();
        }
        complete_close(std::move(done), ex_);
    }

    // ------------------------------------------------------------------------------ helpers

    // The scheduler behind `ex` when it is Asio's own: that of an io_context or a thread_pool,
    // whatever the executor's type (plain, work-tracking, with an allocator, a strand of any of
    // these, type-erased at any level), found through the execution context the executor names.
    // A thread inside that scheduler's run() may not block in acquire(): scheduler::can_dispatch()
    // tells, as io_context::executor_type::running_in_this_thread() does. This is Asio's detail
    // API, stable since Boost 1.66; with IOCP (Windows) the scheduler is another type and the
    // detection is off.
    static boost::asio::detail::scheduler* scheduler_of(const executor_type& ex) noexcept
    {
#if !defined(BOOST_ASIO_HAS_IOCP)
        try {
            boost::asio::execution_context& ctx =
                boost::asio::query(ex, boost::asio::execution::context);
            if (boost::asio::has_service<boost::asio::detail::scheduler>(ctx))
                return &boost::asio::use_service<boost::asio::detail::scheduler>(ctx);
        } catch (...) {// no such service after all: no detection
        }
#else
        (void)ex;
#endif
        return nullptr;
    }

    static std::int64_t ticks(time_point t) noexcept
    {
        return static_cast<std::int64_t>(t.time_since_epoch().count());
    }
    static time_point from_ticks(std::int64_t v) noexcept
    {
        return time_point(duration(static_cast<typename duration::rep>(v)));
    }
    static time_point last_used(const slot_type& s) noexcept
    {
        return from_ticks(s.last_used.load(std::memory_order_relaxed));
    }
    static time_point last_checked(const slot_type& s) noexcept
    {
        return from_ticks(s.last_checked.load(std::memory_order_relaxed));
    }
    static void mark_used(slot_type& s, time_point now) noexcept
    {
        s.last_used.store(ticks(now), std::memory_order_relaxed);
        s.last_checked.store(ticks(now), std::memory_order_relaxed);
    }
    std::uint64_t destroyed(destroy_cause c) const noexcept
    {
        return pool_counters::read(counters_.destroyed[static_cast<std::size_t>(c)]);
    }

    const pool_options opts_;
    const std::uint64_t id_ = next_pool_id();  // keys this pool's thread cache entries
    Factory factory_;
    executor_type ex_;
    strand_type strand_;
    std::unique_ptr<slot_type[]> slots_;
    idle_stack idle_;

    std::atomic<int> yield_budget_{max_yield_rounds / 4};  // see spin_take
    std::atomic<int> park_spin_budget_{min_park_spin};     // see park_spin

    // The Dekker flags (see the file comment).
    alignas(64) std::atomic<std::size_t> waiters_count_{0};
    std::atomic<bool> closed_{false};
    std::atomic<std::uint64_t> generation_{0};

    pool_counters counters_;

    // Guarded by mtx_.
    alignas(64) mutable std::mutex mtx_;
    waiter_queue<Connection> waiters_;
    deadline_set<Connection> deadlines_;
    std::int64_t timer_deadline_ = waiter<Connection>::no_deadline;  // deadline_timer_'s aim
    std::uint32_t free_head_ = nil_index;
    std::size_t size_ = 0;
    std::size_t connecting_ = 0;
    std::size_t in_transit_ = 0;
    connect_tracker<Clock> tracker_;
    retire_limiter<Clock> limiter_;
    error_code last_connect_error_;
    jitter_source jitter_;
    bool retry_requested_ = false;
    bool orphaned_ = false;
    close_handler_list close_handlers_;

    // Used on the strand only.
    timer_type housekeeping_timer_;
    timer_type retry_timer_;
    timer_type deadline_timer_;  // see arm_deadlines
    bounded_call* inflight_ = nullptr;
    std::vector<std::uint32_t> scratch_;

    boost::asio::detail::scheduler* scheduler_ = nullptr;  // see scheduler_of
};

}  // namespace connpool::detail

#endif
