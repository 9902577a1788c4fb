// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_BOUNDED_CALL_HPP
#define CONNPOOL_DETAIL_IO_BOUNDED_CALL_HPP

// A call into the factory (connect, ping, reset) on the pool's strand, bounded by a timeout and
// cancellable by close(). The calls in flight are listed, so that close() can cancel them all.

#include <connpool/detail/adapters/to_error_code.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::detail {

// The completion handler the factory receives. Its associated executor is the strand, so a
// factory that completes through it (asio::dispatch/post, as Asio operations do) lands there.
// One that calls it directly from a thread of its own (a callback-style C driver) is moved onto
// the strand here: the pool's bookkeeping after a factory call is strand-only.
template <class Fn>
struct strand_completion {
    using executor_type = pool_strand;
    pool_strand strand;
    Fn fn;

    executor_type get_executor() const noexcept { return strand; }

    template <class... Args>
    void operator()(Args&&... args)
    {
        if (strand.running_in_this_thread())
            return fn(std::forward<Args>(args)...);
        boost::asio::post(strand, [fn = std::move(fn),
                                   ... a = std::decay_t<Args>(std::forward<Args>(args))]() mutable {
            fn(std::move(a)...);
        });
    }
};

// The calls in flight of one pool; strand only.
template <class Clock>
class bounded_calls {
public:
    explicit bounded_calls(const pool_strand& s) : strand_(s) {}

    // On the strand. start(handler) initiates the factory operation; done(ec, args...) runs on
    // the strand when it completes (ec is connect_timeout if the deadline passed first);
    // on_timeout() runs when the deadline passes; failed(ec) runs instead of done if the
    // initiation throws (a factory bug must not take the executor down, nor leak the slot).
    // `owner` keeps the pool this object belongs to alive until the call is over.
    template <class Owner, class Start, class Done, class OnTimeout, class Failed>
    void call(std::shared_ptr<Owner> owner, typename Clock::duration timeout, Start start,
              Done done, OnTimeout on_timeout, Failed failed)
    {
        auto c = std::make_shared<call_state>(strand_);
        link(*c);
        c->timer.expires_after(timeout);
        c->timer.async_wait([c, on_timeout](error_code ec) mutable {
            // A deadline that passed while the completion was already queued on the strand
            // (both ready at once) lost the race: the call is over, its operation and its
            // cancellation slot are gone. Only an unfinished call times out.
            if (ec || c->finished)
                return;
            c->timed_out = true;
            on_timeout();
            c->signal.emit(boost::asio::cancellation_type::terminal);
        });
        auto completion = [this, owner = std::move(owner), c,
                           done = std::move(done)](error_code ec, auto&&... args) mutable {
            if (std::exchange(c->finished, true))
                return;
            c->timer.cancel();
            unlink(*c);
            if (c->timed_out)
                ec = errc::connect_timeout;
            done(ec, std::forward<decltype(args)>(args)...);
        };
        try {
            start(boost::asio::bind_cancellation_slot(
                c->signal.slot(),
                strand_completion<decltype(completion)>{strand_, std::move(completion)}));
        } catch (...) {
            if (!std::exchange(c->finished, true)) {
                c->timer.cancel();
                unlink(*c);
                failed(to_error_code(std::current_exception()));
            }
        }
    }

    // On the strand: cancels every call in flight (close()). A factory may complete a cancelled
    // call inline, which unlinks (and may free) it: the list is copied first.
    void cancel_all() noexcept
    {
        std::vector<std::shared_ptr<call_state>> calls;
        try {
            for (call_state* c = inflight_; c; c = c->next)
                calls.push_back(c->shared_from_this());
        } catch (...) {  // out of memory: cancel what was copied; the rest time out
        }
        for (auto& c : calls)
            if (!c->finished)
                c->signal.emit(boost::asio::cancellation_type::terminal);
    }

private:
    // Owned by shared_ptrs in the timer's handler and in the factory's completion handler;
    // linked in inflight_ from start to completion.
    struct call_state : std::enable_shared_from_this<call_state> {
        explicit call_state(const pool_strand& s) : timer(s) {}
        pool_timer<Clock> timer;
        boost::asio::cancellation_signal signal;
        bool timed_out = false;
        bool finished = false;  // completed, or the initiation threw: the timer must do nothing
        call_state* prev = nullptr;
        call_state* next = nullptr;
    };

    void link(call_state& c) noexcept
    {
        c.next = inflight_;
        if (inflight_)
            inflight_->prev = &c;
        inflight_ = &c;
    }

    void unlink(call_state& c) noexcept
    {
        (c.prev ? c.prev->next : inflight_) = c.next;
        if (c.next)
            c.next->prev = c.prev;
        c.prev = c.next = nullptr;
    }

    pool_strand strand_;
    call_state* inflight_ = nullptr;
};

}  // namespace connpool::detail

#endif
