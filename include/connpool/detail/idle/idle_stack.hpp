// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IDLE_IDLE_STACK_HPP
#define CONNPOOL_DETAIL_IDLE_IDLE_STACK_HPP

// The idle stack: a LIFO stack of slot indices (idle_set.hpp puts a thread cache in front).
//
// Algorithm. A Treiber stack over an array of links that never moves (stable_array.hpp: it grows
// when the pool's max_size does, without moving or freeing a link). Nodes are not allocated: node
// i is slot i of the pool, and links_[i] holds the index of the node below it. The head packs the
// top index (low 32 bits) and a tag (high 32 bits) into one 64-bit atomic word.
//
// ABA. A pop reads head = {i, t} and links_[i] = j, then CASes head from {i, t} to {j, t+1}.
// Between the read and the CAS, i may be popped, lent, returned and pushed again with a different
// link; the CAS then fails because every successful CAS on the head (push, pop, take_all) bumps
// the tag. A false success needs 2^32 head changes inside one pop's read-CAS window. Because
// links live in a stable array (never freed), a stale read of links_[i] is a valid read of an
// atomic, never a use-after-free.
//
// Progress. Lock-free: a CAS fails only because another thread's CAS succeeded.
//
// Memory ordering contract (what the pool relies on).
//  * push() publishes: everything the pusher wrote to the slot before push() happens-before
//    whatever the popper of that index does after pop() (successful CAS in push is a release,
//    pop's loads of the head are acquires).
//  * push() and pop() are sequentially consistent with respect to the pool's waiter counter: the
//    pool's no-lost-wake-up argument (see pool_impl::offer and pool_impl::enqueue) is a
//    Dekker-style "store, then load the other flag" on both sides, which needs a single total
//    order over {push's CAS, pop's first head load, the counter's increment and load}. Both are
//    therefore memory_order_seq_cst.
//
// CONNPOOL_MUTEX_IDLE_STACK=1 swaps in a mutex-based stack with the same interface and the same
// contract (it adds seq_cst fences to honour the second point); the stress suite runs both.
//
#include <connpool/detail/idle/stable_array.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

namespace connpool::detail {

inline constexpr std::uint32_t nil_index = UINT32_MAX;

// One link per slot, on its own atomic; shared by both stack variants.
class idle_links {
public:
    explicit idle_links(std::uint32_t capacity) : links_(capacity) {}

    // Links for slots [0, n): called before a slot beyond the old capacity is ever pushed (the
    // pool grows its slots and the links together, under its mutex).
    void grow(std::uint32_t n) { links_.grow(n); }

    // Walks a chain detached by take_all(). Relaxed: the detaching acquire made the links visible.
    std::uint32_t next(std::uint32_t index) const noexcept
    {
        return links_[index].load(std::memory_order_relaxed);
    }

protected:
    stable_array<std::atomic<std::uint32_t>> links_;
};

class lock_free_idle_stack : public idle_links {
public:
    explicit lock_free_idle_stack(std::uint32_t capacity) : idle_links(capacity) {}

    void push(std::uint32_t index) noexcept
    {
        // Relaxed: a load of the head only needs to see some recent value; the CAS validates it.
        std::uint64_t old = head_.load(std::memory_order_relaxed);
        for (;;) {
            // Relaxed: published by the release half of the CAS below.
            links_[index].store(top_of(old), std::memory_order_relaxed);
            // seq_cst: release publishes the slot and its link to the popper (pairs with the
            // acquire loads in pop); seq_cst orders this push before the pool's later load of its
            // waiter counter (no-lost-wake-up argument, see the file comment).
            if (head_.compare_exchange_weak(old, pack(index, tag_of(old) + 1),
                                            std::memory_order_seq_cst, std::memory_order_relaxed))
                return;
        }
    }

    // Returns nil_index when empty.
    std::uint32_t pop() noexcept
    {
        // seq_cst: a waiter's pop must be ordered after its increment of the waiter counter
        // (Dekker, see the file comment); acquire pairs with push's release.
        std::uint64_t old = head_.load(std::memory_order_seq_cst);
        for (;;) {
            const std::uint32_t top = top_of(old);
            if (top == nil_index)
                return nil_index;
            // Relaxed: the acquire load of the head that showed `top` made its link visible;
            // if the link has changed since, the tag has too and the CAS fails.
            const std::uint32_t below = links_[top].load(std::memory_order_relaxed);
            // Acquire on success: we own the slot and must see what its pusher wrote.
            // Acquire on failure: the retry reads the link of the new top.
            if (head_.compare_exchange_weak(old, pack(below, tag_of(old) + 1),
                                            std::memory_order_acquire, std::memory_order_acquire))
                return top;
        }
    }

    // Detaches the whole stack at once; walk it with next(). Returns nil_index when empty.
    std::uint32_t take_all() noexcept
    {
        std::uint64_t old = head_.load(std::memory_order_relaxed);
        // seq_cst: acquire to read the detached slots; seq_cst so that close()'s "set closed,
        // then take_all" and a returner's "push, then load closed" cannot both miss each other.
        while (!head_.compare_exchange_weak(old, pack(nil_index, tag_of(old) + 1),
                                            std::memory_order_seq_cst, std::memory_order_relaxed)) {
        }
        return top_of(old);
    }

    bool empty() const noexcept
    {
        // Acquire: a caller that sees a node may go on to pop it.
        return top_of(head_.load(std::memory_order_acquire)) == nil_index;
    }

private:
    static constexpr std::uint64_t pack(std::uint32_t top, std::uint32_t tag) noexcept
    {
        return (std::uint64_t{tag} << 32) | top;
    }
    static constexpr std::uint32_t top_of(std::uint64_t v) noexcept
    {
        return static_cast<std::uint32_t>(v);
    }
    static constexpr std::uint32_t tag_of(std::uint64_t v) noexcept
    {
        return static_cast<std::uint32_t>(v >> 32);
    }

    // alignas(64) also rounds the class up to whole lines: the head's line is its own.
    alignas(64) std::atomic<std::uint64_t> head_{pack(nil_index, 0)};
};

// Same contract, a mutex instead of the CAS loop. Used to cross-check the lock-free stack.
class mutex_idle_stack : public idle_links {
public:
    explicit mutex_idle_stack(std::uint32_t capacity) : idle_links(capacity) {}

    void push(std::uint32_t index) noexcept
    {
        {
            std::lock_guard lk(mtx_);
            links_[index].store(top_, std::memory_order_relaxed);
            top_ = index;
        }
        // The unlock is only a release; the contract wants push ordered before the caller's
        // next seq_cst load.
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }

    std::uint32_t pop() noexcept
    {
        // Orders the caller's preceding seq_cst store before our read of the stack.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        std::lock_guard lk(mtx_);
        const std::uint32_t top = top_;
        if (top != nil_index)
            top_ = links_[top].load(std::memory_order_relaxed);
        return top;
    }

    std::uint32_t take_all() noexcept
    {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        std::lock_guard lk(mtx_);
        return std::exchange(top_, nil_index);
    }

    bool empty() const noexcept
    {
        std::lock_guard lk(mtx_);
        return top_ == nil_index;
    }

private:
    mutable std::mutex mtx_;
    std::uint32_t top_ = nil_index;
};

#if defined(CONNPOOL_MUTEX_IDLE_STACK) && CONNPOOL_MUTEX_IDLE_STACK
using idle_stack = mutex_idle_stack;
#else
using idle_stack = lock_free_idle_stack;
#endif

}  // namespace connpool::detail

#endif
