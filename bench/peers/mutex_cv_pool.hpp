// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_PEERS_MUTEX_CV_POOL_HPP
#define CONNPOOL_BENCH_PEERS_MUTEX_CV_POOL_HPP

// The baseline: the pool most code bases write first. A mutex, a vector of idle connections used
// as a LIFO stack, one condition variable. acquire() takes the top connection or waits for one
// with a deadline; release() pushes it back and wakes one waiter, after unlocking (so the woken
// thread does not block on the mutex the releaser still holds). The clock is read only when a
// wait is needed. Not strictly FIFO: a thread that arrives while a woken waiter is still on its
// way to the mutex may take the connection first, as with any condition variable.

#include "../support/fake_connection.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace connpool_bench {

class mutex_cv_pool {
public:
    using lease = fake_connection*;
    static constexpr const char* name = "mutex";

    explicit mutex_cv_pool(std::size_t connections) : storage_(connections)
    {
        for (std::size_t i = 0; i < connections; ++i) {
            storage_[i].id = i + 1;
            idle_.push_back(&storage_[i]);
        }
    }

    // nullptr when the deadline passes first.
    lease acquire(std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        std::unique_lock lk(mtx_);
        if (idle_.empty()) {
            ++waiters_;
            const bool got = cv_.wait_until(lk, std::chrono::steady_clock::now() + timeout,
                                            [this] { return !idle_.empty(); });
            --waiters_;
            if (!got)
                return nullptr;
        }
        lease c = idle_.back();
        idle_.pop_back();
        return c;
    }

    void release(lease& c)
    {
        {
            std::lock_guard lk(mtx_);
            idle_.push_back(c);
        }
        c = nullptr;
        cv_.notify_one();
    }

    static bool ok(lease c) noexcept { return c != nullptr; }

    // Threads inside acquire() waiting on the condition variable (for the handoff benchmark).
    std::size_t waiters() const
    {
        std::lock_guard lk(mtx_);
        return waiters_;
    }

private:
    mutable std::mutex mtx_;
    std::condition_variable cv_;
    std::vector<lease> idle_;
    std::size_t waiters_ = 0;
    std::vector<fake_connection> storage_;
};

}  // namespace connpool_bench

#endif
