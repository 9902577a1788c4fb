// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ADAPTERS_BLOCKING_CALL_TRACKER_HPP
#define CONNPOOL_DETAIL_ADAPTERS_BLOCKING_CALL_TRACKER_HPP

// The blocking calls whose completions go to one execution context (an io_context). A service of
// that context: its shutdown() (when the io_context is destroyed) waits for the calls in flight
// to return, as Asio's resolver joins its own thread, and a call that returns after that
// destroys its handler on its worker instead of posting to a context that is going away.
// Used by blocking_factory (see its run()).

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>

namespace connpool::detail {

class blocking_call_tracker final : public boost::asio::execution_context::service {
public:
    using key_type = blocking_call_tracker;
    static inline boost::asio::execution_context::id id;

    explicit blocking_call_tracker(boost::asio::execution_context& ctx) : service(ctx) {}

    // Counts a call about to start; false once the context is shutting down.
    bool begin() noexcept
    {
        std::lock_guard lk(mtx_);
        if (shut_down_)
            return false;
        ++calls_;
        return true;
    }

    // The call has returned: runs `deliver` (which posts the completion) unless the context is
    // shutting down. Returns whether it ran.
    template <class Deliver>
    bool deliver(Deliver&& fn) noexcept
    {
        std::lock_guard lk(mtx_);
        if (shut_down_)
            return false;
        std::forward<Deliver>(fn)();
        return true;
    }

    // The call and everything it held (its handler, the tracked executor) are gone. The last
    // use of the tracker by that call.
    void end() noexcept
    {
        std::lock_guard lk(mtx_);
        --calls_;
        done_.notify_all();  // under the lock: shutdown() cannot return and free us before
    }

private:
    void shutdown() override
    {
        std::unique_lock lk(mtx_);
        shut_down_ = true;
        done_.wait(lk, [this] { return calls_ == 0; });
    }

    std::mutex mtx_;
    std::condition_variable done_;
    std::size_t calls_ = 0;
    bool shut_down_ = false;
};

// The tracker of the context that runs `ex`, or nullptr for an executor that names none.
template <class Executor>
blocking_call_tracker* tracker_for(const Executor& ex)
{
    if constexpr (requires { boost::asio::query(ex, boost::asio::execution::context); }) {
        boost::asio::execution_context& ctx =
            boost::asio::query(ex, boost::asio::execution::context);
        return &boost::asio::use_service<blocking_call_tracker>(ctx);
    } else if constexpr (requires { ex.context(); }) {
        return &boost::asio::use_service<blocking_call_tracker>(ex.context());
    } else {
        return nullptr;
    }
}

}  // namespace connpool::detail

#endif
