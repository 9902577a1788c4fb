// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_KEYED_READ_MOSTLY_LOCK_HPP
#define CONNPOOL_DETAIL_KEYED_READ_MOSTLY_LOCK_HPP

// The keyed pool's map lock: a reader-writer lock whose readers write no shared cache line.
//
// Why not std::shared_mutex. Every lookup of a key takes the map's lock shared, and a shared lock
// of std::shared_mutex (a pthread rwlock) is a read-modify-write of one reader count that every
// reader shares: two cores looking keys up at once pass that line back and forth twice per
// lookup, while pool::try_acquire on two cores touches no line the other writes (each thread
// takes back the connection it returned, idle_set.hpp). Measured on the 2-core development VM
// (a scratch loop of lock_shared + unlock_shared, threads pinned to the two cores, CPU time per
// pair, while the machine ran other work, so that the two threads overlapped only part of the
// time): std::shared_mutex 23 ns with one thread, 27 to 30 ns with two; this lock 16 to 18 ns
// with one or two. bench/keyed.cpp compares both in front of a pool (keyed/keyed against
// keyed/shared_mutex, against pool's try_acquire: the budget is within 2x).
//
// The algorithm. Readers count themselves in one of `stripe_count` counters, each on a cache line
// of its own, chosen by the thread (a number each thread draws once): two threads look up at
// once on lines of their own, as they use connections of their own. A writer (a key created or
// forgotten: rare) raises `writing_` and waits until every stripe's count is zero; readers that
// see it raised step back and wait for it to fall. Writers queue on a mutex among themselves.
// Not reentrant (a reader that takes it again while a writer waits would wait for itself);
// readers and writers spin (then yield) rather than sleep: both hold it for a lookup, or for the
// creation or removal of a key.
//
// The race between a reader and a writer is Dekker's, with seq_cst on both sides:
//   reader (lock_shared):  count += 1 in its stripe;   then load writing_
//   writer (lock):         writing_ = true;            then load every stripe's count
// In the single total order of these operations one side comes second and sees the other: either
// the writer sees the reader's count and waits for it, or the reader sees writing_ and steps back.
// The reader's decrement at unlock is a release, which the writer's loads pair with: what a
// reader read under the lock happens before the writer's change. The writer's release of
// writing_ pairs with the readers' loads of it: a reader that enters after a writer sees its
// change. Progress: blocking (a writer waits for the readers inside; readers wait for a writer).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace connpool::detail {

class read_mostly_lock {
public:
    // Enough that the threads of a machine rarely share one (two that do share a count, and its
    // line, as every reader of a std::shared_mutex does); 1 KiB per lock.
    static constexpr std::size_t stripe_count = 16;

    read_mostly_lock() = default;
    read_mostly_lock(const read_mostly_lock&) = delete;
    read_mostly_lock& operator=(const read_mostly_lock&) = delete;

    // SharedLockable: std::shared_lock works with it.
    void lock_shared() noexcept
    {
        stripe& mine = stripes_[this_thread_stripe()];
        for (;;) {
            // seq_cst: the reader's side of the race (file comment): this increment, then the
            // load of writing_.
            mine.readers.fetch_add(1, std::memory_order_seq_cst);
            if (!writing_.load(std::memory_order_seq_cst))
                return;
            // A writer is in or coming: step back (relaxed: nothing was read that the writer
            // must see) and wait until it is done.
            mine.readers.fetch_sub(1, std::memory_order_relaxed);
            for (unsigned spins = 0; writing_.load(std::memory_order_relaxed); ++spins)
                pause(spins);
        }
    }

    void unlock_shared() noexcept
    {
        // Release: pairs with the writer's seq_cst loads of the count (see lock).
        stripes_[this_thread_stripe()].readers.fetch_sub(1, std::memory_order_release);
    }

    // Lockable: std::unique_lock works with it.
    void lock()
    {
        writers_.lock();
        // seq_cst: the writer's side of the race (file comment): this store, then the loads of
        // the counts. Each load is also an acquire: it pairs with the readers' release
        // decrements.
        writing_.store(true, std::memory_order_seq_cst);
        for (const stripe& s : stripes_)
            for (unsigned spins = 0; s.readers.load(std::memory_order_seq_cst) != 0; ++spins)
                pause(spins);
    }

    void unlock() noexcept
    {
        // Release: pairs with the readers' loads of writing_, so a reader that enters now sees
        // what the writer changed.
        writing_.store(false, std::memory_order_release);
        writers_.unlock();
    }

private:
    struct alignas(64) stripe {
        std::atomic<std::uint32_t> readers{0};
    };

    // Each thread draws a number once (relaxed: only its distinctness matters); consecutive
    // threads get different stripes.
    static std::size_t this_thread_stripe() noexcept
    {
        static std::atomic<std::size_t> next{0};
        static thread_local const std::size_t mine =
            next.fetch_add(1, std::memory_order_relaxed) % stripe_count;
        return mine;
    }

    static void pause(unsigned spins) noexcept
    {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            asm volatile("yield");
#endif
        } else {
            std::this_thread::yield();
        }
    }

    stripe stripes_[stripe_count];
    alignas(64) std::atomic<bool> writing_{false};  // read by every reader: a line of its own
    std::mutex writers_;
};

}  // namespace connpool::detail

#endif
