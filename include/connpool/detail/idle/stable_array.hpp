// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IDLE_STABLE_ARRAY_HPP
#define CONNPOOL_DETAIL_IDLE_STABLE_ARRAY_HPP

// An array that grows without moving its elements: the pool's slots and the idle stack's links.
//
// Why. An index names a slot for the pool's whole life (the idle stack links indices, a lease
// points at its slot, a lock-free pop may read the link of a slot another thread popped long
// ago), so slots may never move or be freed while the pool lives. resize() may raise max_size
// beyond its initial value, so the storage cannot be one allocation of max_size either.
//
// How. Segment 0 holds `base` elements (the initial capacity rounded up to a power of two);
// segment k >= 1 holds base << (k - 1), so indices [base << (k-1), base << k) live in segment k
// and the capacity doubles with each segment. Nothing is copied when it grows, nothing is freed
// before the array. The fast path keeps its cost: an index below `base` (every index of a pool
// that never grew) is one predictable compare in front of the old array access; an index above
// it is a shift, a bit_width and a second load.
//
// Concurrency. grow() has one caller at a time (the pool's mutex); readers on any thread.
//  * A reader that got an index through the pool's own handoffs (free list under the mutex, the
//    idle stack's acquire/release, a slot's state) is ordered after the grow() that created it:
//    the relaxed load of the segment pointer is enough (the chain of release/acquire pairs that
//    brought the index also brought the pointer, stored before the index was ever published).
//  * A reader that scans every element (housekeeping, stats(), a waiter stealing a cached slot,
//    close()) reads capacity() with acquire, which pairs with grow()'s release store of the new
//    capacity, made after the new segment pointers: it sees every segment up to the capacity it
//    read.

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace connpool::detail {

template <class T>
class stable_array {
public:
    // Room for at least `initial` elements (at least one).
    explicit stable_array(std::uint32_t initial)
        : base_(std::bit_ceil(initial == 0 ? std::uint32_t{1} : initial)),
          shift_(static_cast<unsigned>(std::countr_zero(base_))),
          first_(std::make_unique<T[]>(base_)),
          capacity_(base_)
    {
    }

    stable_array(const stable_array&) = delete;
    stable_array& operator=(const stable_array&) = delete;

    ~stable_array()
    {
        for (auto& seg : segments_)
            delete[] seg.load(std::memory_order_relaxed);
    }

    T& operator[](std::uint32_t i) noexcept
    {
        if (i < base_) [[likely]]
            return first_[i];
        return in_segment(i);
    }
    const T& operator[](std::uint32_t i) const noexcept
    {
        return const_cast<stable_array&>(*this)[i];
    }

    // Elements that exist now; see the file comment for when to read it.
    std::uint32_t capacity() const noexcept
    {
        // Acquire: pairs with grow()'s release store; the segments up to it are visible.
        return capacity_.load(std::memory_order_acquire);
    }

    // Room for at least `n` elements (n < 2^32). One caller at a time. Returns the capacity
    // before: elements [before, capacity()) are new (default-constructed).
    std::uint32_t grow(std::uint32_t n)
    {
        const std::uint32_t before = capacity_.load(std::memory_order_relaxed);
        std::uint64_t cap = before;
        while (cap < n) {
            const unsigned k = static_cast<unsigned>(std::bit_width(cap >> shift_));
            // Relaxed: published by the release store of the capacity below (or, for an index
            // reached through the pool's handoffs, by the release that published the index).
            segments_[k].store(new T[cap](), std::memory_order_relaxed);  // value-initialised
            cap *= 2;
        }
        // Indices are 32-bit and UINT32_MAX is no index: the last segment is never full.
        const auto published = static_cast<std::uint32_t>(cap > UINT32_MAX ? UINT32_MAX : cap);
        capacity_.store(published, std::memory_order_release);
        return before;
    }

private:
    T& in_segment(std::uint32_t i) const noexcept
    {
        // i >= base: segment k = bit_width(i / base), offset i - (base << (k - 1)).
        const unsigned k = static_cast<unsigned>(std::bit_width(i >> shift_));
        // Relaxed: see the file comment (the index was published after the segment).
        return segments_[k].load(std::memory_order_relaxed)[i - (base_ << (k - 1))];
    }

    const std::uint32_t base_;
    const unsigned shift_;
    const std::unique_ptr<T[]> first_;
    std::atomic<std::uint32_t> capacity_;
    std::atomic<T*> segments_[33] = {};  // [0] unused: segment 0 is first_
};

}  // namespace connpool::detail

#endif
