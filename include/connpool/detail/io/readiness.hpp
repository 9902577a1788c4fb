// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_READINESS_HPP
#define CONNPOOL_DETAIL_IO_READINESS_HPP

// pool::async_wait_ready: a wait until min_size connections are open, the start-up gate of a
// service that must not take traffic cold. A connection is open from the end of its successful
// connect until its destructor has returned (idle, lent, being reset or validated); a connect in
// flight is not.
//
// Every wait lives on the pool's strand, in a list that only the strand touches: it is
// registered there, checked there after each successful connect (connector::on_connected, the
// only event that opens a connection: the acquire and return paths pay nothing) and after a
// resize() (which may lower min_size), expired there
// by a timer of its own, failed there by close(), and taken out there when cancelled. Its
// handler then runs on its own associated executor, never inside the initiating call.
//
// Ownership. A wait (ready_wait_op, allocated with its handler's allocator) is owned by a
// wait_ptr: in the function posted to register it, then in the strand's list. Whoever takes it
// out completes it: the op is freed, then its handler is posted to its executor. A wait_ptr
// destroyed otherwise (the io_context shut down before the registration ran, the pool deleted
// with waits listed) destroys the handler without invoking it.
//
// Cancellation. The slot's handler holds the pool weakly and the wait's id, never a pointer to
// the wait: it posts the removal to the strand, where a wait that has ended meanwhile is simply
// not found. The slot is cleared on the handler's executor, where the caller emits, before the
// handler runs.

#include <connpool/detail/core/options.hpp>
#include <connpool/detail/io/executors.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
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

// A pending wait, whatever its handler.
template <class Clock>
struct ready_wait {
    // Frees the wait; with a result, then posts its handler with it, else destroys the handler.
    using finish_fn = void (*)(ready_wait*, const error_code* result) noexcept;

    ready_wait(std::uint64_t wait_id, finish_fn f) noexcept : id(wait_id), finish(f) {}
    ready_wait(const ready_wait&) = delete;
    ready_wait& operator=(const ready_wait&) = delete;

    std::uint64_t id;
    finish_fn finish;
    std::optional<pool_timer<Clock>> deadline;  // strand only; none when it has no deadline
};

template <class Clock>
struct abandon_wait {
    void operator()(ready_wait<Clock>* w) const noexcept { w->finish(w, nullptr); }
};

template <class Clock>
using wait_ptr = std::unique_ptr<ready_wait<Clock>, abandon_wait<Clock>>;

template <class Clock, class Handler>
struct ready_wait_op final : ready_wait<Clock> {
    using allocator_type = typename std::allocator_traits<
        boost::asio::associated_allocator_t<Handler>>::template rebind_alloc<ready_wait_op>;
    using alloc_traits = std::allocator_traits<allocator_type>;
    using handler_executor_type = boost::asio::associated_executor_t<Handler, pool_executor>;
    using work_type = decltype(track_work(std::declval<handler_executor_type>()));

    ready_wait_op(std::uint64_t wait_id, Handler&& h, const pool_executor& fallback)
        : ready_wait<Clock>(wait_id, &finish_op),
          handler(std::move(h)),
          executor(boost::asio::get_associated_executor(handler, fallback)),
          work(track_work(executor))
    {
    }

    static wait_ptr<Clock> create(std::uint64_t wait_id, Handler&& h, const pool_executor& fallback)
    {
        allocator_type alloc(boost::asio::get_associated_allocator(h));
        ready_wait_op* op = alloc_traits::allocate(alloc, 1);
        try {
            alloc_traits::construct(alloc, op, wait_id, std::move(h), fallback);
        } catch (...) {
            alloc_traits::deallocate(alloc, op, 1);
            throw;
        }
        return wait_ptr<Clock>(op);
    }

    // Frees the op before the handler runs (Asio's rule); the work count lasts until then.
    static void finish_op(ready_wait<Clock>* base, const error_code* result) noexcept
    {
        auto* op = static_cast<ready_wait_op*>(base);
        allocator_type alloc(boost::asio::get_associated_allocator(op->handler));
        Handler h(std::move(op->handler));
        handler_executor_type ex(std::move(op->executor));
        work_type w(std::move(op->work));
        alloc_traits::destroy(alloc, op);
        alloc_traits::deallocate(alloc, op, 1);
        if (!result)
            return;  // abandoned: the handler is destroyed uninvoked
        post_unwrapped(ex, [h = std::move(h), w = std::move(w), ec = *result]() mutable {
            auto slot = boost::asio::get_associated_cancellation_slot(h);
            if (slot.is_connected())
                slot.clear();
            auto keep = std::move(w);  // released once the handler has returned
            std::move(h)(ec);
        });
    }

    Handler handler;
    handler_executor_type executor;
    work_type work;
};

template <class Connection, class Factory, class Clock>
class readiness : public pool_part<readiness, Connection, Factory, Clock> {
    using base = pool_part<readiness, Connection, Factory, Clock>;
    using base::pool;
    using typename base::pool_type;
    using time_point = typename Clock::time_point;

public:
    // Any thread: the initiation of async_wait_ready. It connects the cancellation slot and posts
    // the wait to the strand, nothing else.
    template <class Handler>
    void start_wait_ready(Handler&& handler)
    {
        using op_type = ready_wait_op<Clock, std::decay_t<Handler>>;
        auto& p = pool();
        const time_point started = Clock::now();  // the deadline counts from the call
        // Relaxed: an id only has to differ from the others, which fetch_add guarantees alone.
        const std::uint64_t id = next_wait_id_.fetch_add(1, std::memory_order_relaxed);
        wait_ptr<Clock> w =
            op_type::create(id, std::decay_t<Handler>(std::forward<Handler>(handler)), p.ex_);
        auto slot =
            boost::asio::get_associated_cancellation_slot(static_cast<op_type&>(*w).handler);
        if (slot.is_connected())
            slot.template emplace<cancel_wait>(p.weak_from_this(), id);
        boost::asio::post(p.strand_,
                          [self = p.shared_from_this(), w = std::move(w), started]() mutable {
                              self->register_wait(std::move(w), started);
                          });
    }

    // On the strand, after a connect succeeded: completes the waits if min_size connections are
    // open now. With nobody waiting, one test of an empty list.
    void check_ready()
    {
        if (!waits_.empty() && ready())
            complete_all(error_code{});
    }

    // Any thread, after resize() changed min_size: the waits are checked again on the strand.
    void recheck_ready()
    {
        auto& p = pool();
        if (auto self = p.weak_from_this().lock())
            boost::asio::post(p.strand_, [self] { self->check_ready(); });
    }

    // On the strand: close() fails every wait with errc::pool_closed.
    void fail_ready_waits(error_code ec) { complete_all(ec); }

private:
    // The cancellation slot's handler (see the file comment).
    struct cancel_wait {
        std::weak_ptr<pool_type> owner;
        std::uint64_t id;

        cancel_wait(std::weak_ptr<pool_type> p, std::uint64_t wait_id)
            : owner(std::move(p)), id(wait_id)
        {
        }

        void operator()(boost::asio::cancellation_type type) const
        {
            using ct = boost::asio::cancellation_type;
            if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none)
                return;
            if (auto p = owner.lock())
                boost::asio::post(p->strand_, [p, wait_id = id] {
                    p->end_wait(wait_id, boost::asio::error::operation_aborted);
                });
        }
    };

    // Open connections: those that exist and are not connecting (see the file comment).
    bool ready() const
    {
        const auto& p = pool();
        std::lock_guard lk(p.mtx_);
        return p.state_.size - p.state_.connecting >= p.state_.opts.min_size;  // as resized
    }

    // On the strand.
    void register_wait(wait_ptr<Clock> w, time_point started)
    {
        auto& p = pool();
        // close() sets closed_ before it posts fail_ready_waits: a wait registered after that
        // post ran sees closed_ here.
        if (p.closed_.load(std::memory_order_acquire))
            return complete(std::move(w), errc::pool_closed);
        if (ready())
            return complete(std::move(w), error_code{});
        const std::chrono::milliseconds timeout = p.opts_.acquire_timeout;  // at most `never`
        if (timeout < never) {
            auto& timer = w->deadline.emplace(p.strand_);
            timer.expires_at(started +
                             std::chrono::duration_cast<typename Clock::duration>(timeout));
            timer.async_wait([self = p.shared_from_this(), id = w->id](error_code ec) {
                if (!ec)  // a wait that ended otherwise destroyed its timer: operation_aborted
                    self->expire_wait(id);
            });
        }
        waits_.push_back(std::move(w));
    }

    // On the strand: the deadline of wait `id` passed (it may have ended meanwhile).
    void expire_wait(std::uint64_t id)
    {
        auto& p = pool();
        error_code ec;
        {
            std::lock_guard lk(p.mtx_);
            ec = p.state_.deadline_error();  // as an acquire's deadline: the last connect error
        }
        end_wait(id, ec);
    }

    // On the strand: wait `id`, unless it has ended already, completes with `ec`.
    void end_wait(std::uint64_t id, error_code ec)
    {
        auto it = std::find_if(waits_.begin(), waits_.end(),
                               [id](const wait_ptr<Clock>& w) { return w->id == id; });
        if (it == waits_.end())
            return;
        wait_ptr<Clock> w = std::move(*it);
        waits_.erase(it);
        complete(std::move(w), ec);
    }

    // On the strand, in arrival order.
    void complete_all(error_code ec)
    {
        std::vector<wait_ptr<Clock>> done;
        done.swap(waits_);
        for (wait_ptr<Clock>& w : done)
            complete(std::move(w), ec);
    }

    // Frees the wait (its timer with it: a pending deadline ends with operation_aborted) and
    // posts its handler.
    static void complete(wait_ptr<Clock> w, error_code ec) noexcept
    {
        ready_wait<Clock>* raw = w.release();
        raw->finish(raw, &ec);
    }

    std::vector<wait_ptr<Clock>> waits_;          // strand only; freed uninvoked with the pool
    std::atomic<std::uint64_t> next_wait_id_{0};  // any thread (the initiation)
};

}  // namespace connpool::detail

#endif
