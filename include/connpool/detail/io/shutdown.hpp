// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_SHUTDOWN_HPP
#define CONNPOOL_DETAIL_IO_SHUTDOWN_HPP

// The end of a pool: close() (fail the waiters and the async_wait_ready waits, destroy the idle
// connections, stop the timers, cancel the calls in flight), async_close's handlers (completed once
// the last connection is gone), and the pool's ownership once its last owner is gone
// (on_owners_gone).

#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/io/executors.hpp>
#include <connpool/detail/limit/limit_account.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class shutdown : public pool_part<shutdown, Connection, Factory, Clock> {
    using base = pool_part<shutdown, Connection, Factory, Clock>;
    using base::pool;
    using slot_type = slot<Connection>;

    struct close_waiter {
        boost::asio::any_completion_handler<void(error_code)> handler;
        boost::asio::any_completion_executor work;  // tracked; released once it is posted
    };

public:
    using close_handler_list = std::vector<close_waiter>;

    void close() noexcept
    {
        auto& p = pool();
        // seq_cst: pairs with offer's "push, then load closed_" (see pool_impl.hpp).
        if (p.closed_.exchange(true, std::memory_order_seq_cst))
            return finish_close_if_done();
        typename base::pool_type::waiter_type* failed;
        {
            std::lock_guard lk(p.mtx_);
            failed = p.fail_waiters_locked(errc::pool_closed);
            if (p.account_)
                p.account_->take(0, 0);  // a closed pool waits for no unit of its limit
        }
        if (p.account_)
            p.account_->deliver_grants();
        p.notify_all(failed);
        p.drain_idle();
        if (auto self = p.weak_from_this().lock()) {
            boost::asio::post(p.strand_, [self] {
                self->cancel_housekeeping();
                self->cancel_retry();
                self->cancel_deadlines();
                self->fail_ready_waits(errc::pool_closed);
                self->calls_.cancel_all();
            });
        }
        finish_close_if_done();
    }

    template <class Handler>
    void start_async_close(Handler&& handler)
    {
        auto& p = pool();
        // Until it completes, the close keeps work counted on the handler's executor, as any
        // Asio operation does: that io_context's run() does not return while leases are out.
        boost::asio::any_completion_executor work;
        using handler_executor =
            boost::asio::associated_executor_t<std::decay_t<Handler>, pool_executor>;
        if constexpr (boost::asio::execution::is_executor<handler_executor>::value)
            work = track_work(boost::asio::get_associated_executor(handler, p.ex_));
        {
            std::lock_guard lk(p.mtx_);
            close_handlers_.push_back(
                close_waiter{std::forward<Handler>(handler), std::move(work)});
        }
        close();
    }

    // Under the pool's mutex: the async_close handlers to complete, once the pool is closed and
    // empty.
    close_handler_list take_close_handlers_locked() noexcept
    {
        auto& p = pool();
        if (p.state_.size != 0 || !p.closed_.load(std::memory_order_relaxed))
            return {};
        return std::exchange(close_handlers_, {});
    }

    // `ex` is a copy: the pool may be gone by now (see pool_impl::free_slot).
    static void complete_close(close_handler_list done, const pool_executor& ex) noexcept
    {
        for (auto& w : done)  // post() runs each through its own associated executor
            boost::asio::post(ex, boost::asio::append(std::move(w.handler), error_code{}));
    }

    // The last shared_ptr is gone: the pool object is destroyed and no internal operation is
    // pending (each holds a shared_ptr while it runs). Leases may still be out: the pool then
    // lives on until the last of them is returned. A slot still connecting or in maintenance now
    // belongs to an operation whose handler was destroyed without running (its io_context was
    // shut down): nothing will bring it back, so its connection is destroyed here.
    void on_owners_gone() noexcept
    {
        auto& p = pool();
        close();
        std::vector<slot_type*> abandoned;
        const std::uint32_t count = p.slots_.capacity();
        for (std::uint32_t i = 0; i < count; ++i) {
            const slot_state st = p.slots_[i].state.load(std::memory_order_acquire);
            if (st == slot_state::connecting || st == slot_state::maintenance)
                abandoned.push_back(&p.slots_[i]);
        }
        for (slot_type* sl : abandoned) {
            sl->set(slot_state::destroying);
            if (sl->conn) {  // in maintenance; a connecting slot has none yet
                p.counters_.destroyed_by(destroy_cause::closed);
                sl->conn.reset();
                p.observe([](auto& o) { o.on_destroyed(destroy_cause::closed); });
            }
            sl->set(slot_state::free);
        }
        // A copy: once orphaned, the pool may be deleted by the last returning lease at any time.
        const std::shared_ptr<limit_account> account = p.account_;
        bool last;
        {
            std::lock_guard lk(p.mtx_);
            p.state_.size -= abandoned.size();
            last = p.state_.size == 0;
            p.state_.orphaned = !last;
        }
        if (account && !abandoned.empty())  // their units go back to the limit
            account->release(abandoned.size());
        if (last)
            delete &p;
    }

private:
    // Only with a live pool (an owner's call, or on_owners_gone itself).
    void finish_close_if_done() noexcept
    {
        auto& p = pool();
        close_handler_list done;
        {
            std::lock_guard lk(p.mtx_);
            done = take_close_handlers_locked();
        }
        complete_close(std::move(done), p.ex_);
    }

    close_handler_list close_handlers_;  // guarded by the pool's mutex
};

}  // namespace connpool::detail

#endif
