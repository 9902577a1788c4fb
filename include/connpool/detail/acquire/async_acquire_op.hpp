// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ACQUIRE_ASYNC_ACQUIRE_OP_HPP
#define CONNPOOL_DETAIL_ACQUIRE_ASYNC_ACQUIRE_OP_HPP

// The asynchronous way in, once the fast path found nothing: an async_acquire that waits in the
// FIFO. Allocated with the handler's allocator.
//
// Ownership. While queued, the op belongs to the queue; whoever unlinks it (a returner handing it
// a connection, the pool's deadline timer, its cancellation, close()) posts complete() to the
// handler's executor, and that posted function owns it (an op_ref). A posted function destroyed
// without running (the io_context was shut down or destroyed) gives the op back through
// op_ref's destructor: the op and its handler are then freed, the handler never invoked, and a
// connection already handed over is returned to the pool.
//
// Outstanding work. Like every Asio operation, a pending acquire keeps work counted on the
// handler's executor (`work`), so that the io_context that will run the handler does not run
// out of work while the acquire waits.

#include <connpool/call_site.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/io/executors.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/waiters/waiter_queue.hpp>
#include <connpool/error.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>

#include <chrono>
#include <memory>
#include <utility>

namespace connpool::detail {

template <class Pool, class Handler>
struct async_acquire_op final : waiter<typename Pool::connection_type> {
    using connection_type = typename Pool::connection_type;
    using waiter_type = waiter<connection_type>;
    using slot_type = slot<connection_type>;
    using allocator_type = typename std::allocator_traits<
        boost::asio::associated_allocator_t<Handler>>::template rebind_alloc<async_acquire_op>;
    using handler_executor_type = boost::asio::associated_executor_t<Handler, pool_executor>;
    using work_type = decltype(track_work(std::declval<handler_executor_type>()));
    using times = slot_times<typename Pool::clock_type>;

    async_acquire_op(std::shared_ptr<Pool> p, Handler&& h)
        : waiter_type(&on_notify),
          pool(std::move(p)),
          handler(std::move(h)),
          work(track_work(boost::asio::get_associated_executor(handler, pool->get_executor())))
    {
    }

    handler_executor_type handler_executor() const noexcept
    {
        return boost::asio::get_associated_executor(handler, pool->get_executor());
    }

    // The ownership of a claimed op, held by the function posted to run complete().
    class op_ref {
    public:
        explicit op_ref(async_acquire_op* o) noexcept : op_(o) {}
        op_ref(op_ref&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
        op_ref& operator=(op_ref&&) = delete;
        ~op_ref()
        {
            if (op_)
                op_->abandon();
        }
        async_acquire_op* release() noexcept { return std::exchange(op_, nullptr); }

    private:
        async_acquire_op* op_;
    };

    static void start(std::shared_ptr<Pool> p, Handler&& h, std::chrono::milliseconds timeout,
                      typename Pool::time_point now, call_site where)
    {
        static_assert(sizeof(async_acquire_op) <= 256 + sizeof(Handler),
                      "design budget: at most 256 bytes of pool metadata per waiter");
        allocator_type alloc(boost::asio::get_associated_allocator(h));
        async_acquire_op* op = std::allocator_traits<allocator_type>::allocate(alloc, 1);
        std::allocator_traits<allocator_type>::construct(alloc, op, p, std::move(h));
        Pool& pl = *p;
        op->where = where;
        if (timeout < never)
            op->deadline =
                times::ticks(now + std::chrono::duration_cast<typename Pool::duration>(timeout));
        // Connect the cancellation slot before the op is visible to others: after enqueue,
        // another thread may claim it and post complete(), which clears the slot.
        auto slot = boost::asio::get_associated_cancellation_slot(op->handler);
        if (slot.is_connected())
            slot.template emplace<cancel_handler>(op);
        if (const auto q = pl.enqueue(*op, now))
            pl.serve_from_idle(now, q.plan_deferred);
        else
            on_notify(op);  // refused (closed, too many waiters, expired): result already set
    }

    struct cancel_handler {
        explicit cancel_handler(async_acquire_op* o) noexcept : op(o) {}
        async_acquire_op* op;
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
        auto* op = static_cast<async_acquire_op*>(w);
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
        const std::int64_t waited_since = this->enqueued_at;
        const call_site site = this->where;
        auto p = std::move(pool);
        std::allocator_traits<allocator_type>::destroy(alloc, this);
        std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
        pooled<connection_type> lease =
            s ? lease_factory::make<connection_type>(p.get(), s) : pooled<connection_type>{};
        p->observe_acquire(ec, &waited_since, site);
        p.reset();
        boost::asio::dispatch(e, boost::asio::append(std::move(h), ec, std::move(lease)));
    }

    // The executor that would run the handler is gone: destroy the handler without invoking it,
    // and give back a connection it was handed.
    void abandon() noexcept
    {
        clear_cancellation_slot();
        allocator_type alloc(boost::asio::get_associated_allocator(handler));
        slot_type* s = this->result_slot;
        auto p = std::move(pool);
        std::allocator_traits<allocator_type>::destroy(alloc, this);
        std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
        if (s)
            lease_factory::make<connection_type>(p.get(), s).release();
    }

    std::shared_ptr<Pool> pool;
    Handler handler;
    work_type work;
};

}  // namespace connpool::detail

#endif
