// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_PARKER_HPP
#define CONNPOOL_DETAIL_PARKER_HPP

// Where a thread blocked in pool::acquire() sleeps until a connection is handed to it.
//
// Why not std::binary_semaphore: libstdc++ 12 implements its timed acquire by sleep-polling
// (sleeping for a growing fraction of the time already waited, up to 64 ms at a time) that
// release() cannot cut short, so a thread handed a connection woke up to tens of milliseconds
// late (16 threads on one connection held for no time: a few hundred acquires in seconds).
//
// On Linux the parker is one futex word: notify() stores 1 and wakes the sleeper at once; the
// waiter sleeps in FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline (the clock of
// std::chrono::steady_clock in libstdc++ and libc++). Elsewhere a mutex and a condition variable.
//
// One notify() per parker, from one thread; one waiter. After notify() has stored the flag the
// waiter may return and destroy the parker while the notifier is still inside the wake syscall:
// FUTEX_WAKE only uses the address as a key (it never reads or writes the memory), so at worst
// another futex that reuses the address sees a spurious wake-up, which every futex user tolerates
// (glibc's own semaphores and std::atomic::notify_one have the same property).

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__linux__)
#include <cerrno>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <condition_variable>
#include <mutex>
#endif

namespace connpool::detail {

class parker {
public:
    using clock = std::chrono::steady_clock;

    // Wakes the waiter. Called once.
    void notify() noexcept
    {
#if defined(__linux__)
        // Release: the waiter's acquire load of the flag sees everything written before (the
        // waiter's result).
        flag_.store(1, std::memory_order_release);
        ::syscall(SYS_futex, &flag_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
#else
        {
            std::lock_guard lk(mtx_);
            flag_.store(1, std::memory_order_release);
        }
        cv_.notify_one();
#endif
    }

    // True once notify() has been called (acquire: see notify).
    bool notified() const noexcept { return flag_.load(std::memory_order_acquire) != 0; }

    // Sleeps until notify(), however long it takes.
    void wait() noexcept
    {
#if defined(__linux__)
        while (!notified())
            ::syscall(SYS_futex, &flag_, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
#else
        std::unique_lock lk(mtx_);
        cv_.wait(lk, [this] { return notified(); });
#endif
    }

    // Sleeps until notify() or `deadline`; true if notified.
    bool wait_until(clock::time_point deadline) noexcept
    {
#if defined(__linux__)
        const auto since_epoch = deadline.time_since_epoch();
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        timespec abs{};
        abs.tv_sec = static_cast<std::time_t>(secs.count());
        abs.tv_nsec = static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
        while (!notified()) {
            // FUTEX_WAIT_BITSET takes an absolute time on CLOCK_MONOTONIC: spurious wake-ups
            // and signals do not stretch the deadline. Returns at once if the flag is not 0.
            const long rc = ::syscall(SYS_futex, &flag_, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs,
                                      nullptr, FUTEX_BITSET_MATCH_ANY);
            if (rc != 0 && errno == ETIMEDOUT)
                return notified();
        }
        return true;
#else
        std::unique_lock lk(mtx_);
        return cv_.wait_until(lk, deadline, [this] { return notified(); });
#endif
    }

private:
#if defined(__linux__)
    // The futex word must be a 32-bit int.
    static_assert(sizeof(std::atomic<std::uint32_t>) == 4);
    std::atomic<std::uint32_t> flag_{0};
#else
    std::atomic<std::uint32_t> flag_{0};
    std::mutex mtx_;
    std::condition_variable cv_;
#endif
};

}  // namespace connpool::detail

#endif
