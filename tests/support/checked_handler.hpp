// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_CHECKED_HANDLER_HPP
#define CONNPOOL_TESTS_SUPPORT_CHECKED_HANDLER_HPP

/// \file checked_handler.hpp
/// Completion handlers that record what they were called with and how often.
///
///     checked<error_code, handle> r;          // lives in the test
///     pool.async_acquire(r.handler());
///     CHECK(r.calls() == 0);                  // never invoked inside the initiating function
///     ioc.poll();
///     REQUIRE(r.called_once());
///     CHECK(!r.ec());
///
/// The checker's destructor fails the test if the handler ran more than once, and also if it
/// never ran when constructed with `must_complete` (checked<...> r{must_complete}).
/// The handler itself may run on any thread: it only touches atomics and a mutex, never Catch2.

#include <boost/system/error_code.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace connpool::test {

struct must_complete_t {
    explicit must_complete_t() = default;
};
inline constexpr must_complete_t must_complete{};

template <class... Args>
class checked {
    struct state {
        std::atomic<int> calls{0};
        std::mutex mtx;
        std::optional<std::tuple<std::decay_t<Args>...>> args;
        std::thread::id thread;
        std::function<void()> on_call;
    };

public:
    /// The handler: copyable and movable; every copy records into the same state.
    class handler_type {
    public:
        explicit handler_type(std::shared_ptr<state> s) : s_(std::move(s)) {}
        void operator()(Args... args)
        {
            std::function<void()> hook;
            {
                std::lock_guard lk(s_->mtx);
                if (!s_->args)  // keep the first call's arguments
                    s_->args.emplace(std::move(args)...);
                s_->thread = std::this_thread::get_id();
                hook = s_->on_call;
            }
            s_->calls.fetch_add(1, std::memory_order_release);
            if (hook)
                hook();
        }

    private:
        std::shared_ptr<state> s_;
    };

    checked() = default;
    explicit checked(must_complete_t) : must_complete_(true) {}
    checked(const checked&) = delete;
    checked& operator=(const checked&) = delete;
    ~checked()
    {
        const int n = calls();
        CHECK(n <= 1);  // a completion handler must never run twice
        if (must_complete_)
            CHECK(n == 1);
    }

    handler_type handler() const { return handler_type(s_); }

    /// Runs `f` (on the completing thread) after each call has been recorded.
    void on_call(std::function<void()> f)
    {
        std::lock_guard lk(s_->mtx);
        s_->on_call = std::move(f);
    }

    int calls() const { return s_->calls.load(std::memory_order_acquire); }
    bool called() const { return calls() > 0; }
    bool called_once() const { return calls() == 1; }
    std::thread::id thread() const
    {
        std::lock_guard lk(s_->mtx);
        return s_->thread;
    }

    /// The first argument of the first call (usually the error_code).
    const auto& ec() const { return std::get<0>(args()); }
    /// The second argument of the first call (e.g. the handle), mutable so it can be moved out.
    auto& value() { return std::get<1>(args()); }

    std::tuple<std::decay_t<Args>...>& args() const
    {
        std::lock_guard lk(s_->mtx);
        REQUIRE(s_->args.has_value());
        return *s_->args;
    }

private:
    std::shared_ptr<state> s_ = std::make_shared<state>();
    bool must_complete_ = false;
};

/// A checker for a completion signature void(error_code, T).
template <class T>
using checked_result = checked<boost::system::error_code, T>;

/// A checker for a completion signature void(error_code).
using checked_ec = checked<boost::system::error_code>;

}  // namespace connpool::test

#endif
