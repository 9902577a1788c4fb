// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ACQUIRE_PARKER_HPP
#define CONNPOOL_DETAIL_ACQUIRE_PARKER_HPP

// Where a thread blocked in pool::acquire() sleeps until a connection is handed to it.
//
// Why not std::binary_semaphore: libstdc++ 12 implements its timed acquire by sleep-polling
// (sleeping for a growing fraction of the time already waited, up to 64 ms at a time) that
// release() cannot cut short, so a thread handed a connection woke up to tens of milliseconds
// late (16 threads on one connection held for no time: a few hundred acquires in seconds).
//
// On Linux the parker is one futex word: the waiter may first spin on it (a handoff that comes
// within microseconds then costs no system call on either side), then announces that it sleeps
// and sleeps in FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline (the clock of
// std::chrono::steady_clock in libstdc++ and libc++); notify() marks it notified and makes the
// wake system call only when the waiter announced its sleep. Elsewhere a mutex and a condition
// variable.
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

    // Wakes the waiter. Called once. No system call when the waiter has not gone to sleep yet
    // (it is still spinning, see spin()).
    void notify() noexcept
    {
#if defined(__linux__)
        // Release: the waiter's acquire load of the state sees everything written before (the
        // waiter's result). Exchange: tells whether the waiter sleeps in the futex.
        if (state_.exchange(notified_state, std::memory_order_release) == sleeping_state)
            ::syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
#else
        {
            std::lock_guard lk(mtx_);
            state_.store(notified_state, std::memory_order_release);
        }
        cv_.notify_one();
#endif
    }

    // True once notify() has been called (acquire: see notify).
    bool notified() const noexcept
    {
        return state_.load(std::memory_order_acquire) == notified_state;
    }

    // Polls for a notify() about to come, `rounds` times with a CPU pause in between, before the
    // caller goes to sleep: a handoff within microseconds then costs neither side a system call.
    bool spin(int rounds) const noexcept
    {
        for (int i = 0; i < rounds; ++i) {
            if (notified())
                return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            asm volatile("yield");
#endif
        }
        return notified();
    }

    // Sleeps until notify(), however long it takes.
    void wait() noexcept
    {
#if defined(__linux__)
        while (!sleep(nullptr)) {
        }
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
        for (;;) {
            if (sleep(&abs))
                return true;
            if (errno == ETIMEDOUT)
                return notified();
        }
#else
        std::unique_lock lk(mtx_);
        return cv_.wait_until(lk, deadline, [this] { return notified(); });
#endif
    }

private:
    static constexpr std::uint32_t waiting_state = 0;   // not notified, not asleep
    static constexpr std::uint32_t notified_state = 1;  // notify() has run
    static constexpr std::uint32_t sleeping_state = 2;  // asleep in the futex (or about to be)

#if defined(__linux__)
    // One futex wait; true once notified. FUTEX_WAIT_BITSET takes an absolute time on
    // CLOCK_MONOTONIC (nullptr: no deadline): spurious wake-ups and signals do not stretch it.
    bool sleep(const timespec* abs) noexcept
    {
        std::uint32_t expected = waiting_state;
        // Acquire on failure: notified, and its writes are visible. (Success only announces
        // that notify() must wake us, and the futex re-checks the word atomically, but the
        // success order may not be weaker than the failure order.)
        if (!state_.compare_exchange_strong(expected, sleeping_state, std::memory_order_acquire,
                                            std::memory_order_acquire) &&
            expected == notified_state)
            return true;
        errno = 0;
        ::syscall(SYS_futex, &state_, FUTEX_WAIT_BITSET_PRIVATE, sleeping_state, abs, nullptr,
                  FUTEX_BITSET_MATCH_ANY);
        return notified();
    }
#endif

    // The futex word must be a 32-bit int.
    static_assert(sizeof(std::atomic<std::uint32_t>) == 4);
    std::atomic<std::uint32_t> state_{waiting_state};
#if !defined(__linux__)
    std::mutex mtx_;
    std::condition_variable cv_;
#endif
};

}  // namespace connpool::detail

#endif
