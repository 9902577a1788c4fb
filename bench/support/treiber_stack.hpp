// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_TREIBER_STACK_HPP
#define CONNPOOL_BENCH_SUPPORT_TREIBER_STACK_HPP

// The floor: the least a lock-free LIFO of connections can cost. A textbook Treiber stack over a
// fixed array of index links, its head a 64-bit word of {top index, tag}; every successful CAS
// bumps the tag, so a pop whose top was popped and pushed again meanwhile fails (ABA). Nothing
// else: no waiter check, no statistics, no clock.
//
// Deliberately not connpool::detail's idle stack: the floor must not move when the library's
// internals change. Ordering: push's successful CAS releases the link it wrote; pop's loads of the
// head acquire it.

#include <atomic>
#include <cstdint>
#include <memory>

namespace connpool_bench {

class treiber_stack {
public:
    static constexpr std::uint32_t nil = UINT32_MAX;

    explicit treiber_stack(std::uint32_t capacity)
        : links_(std::make_unique<std::atomic<std::uint32_t>[]>(capacity))
    {
    }

    void push(std::uint32_t index) noexcept
    {
        std::uint64_t old = head_.load(std::memory_order_relaxed);
        do {
            links_[index].store(top_of(old), std::memory_order_relaxed);
        } while (!head_.compare_exchange_weak(old, pack(index, tag_of(old) + 1),
                                              std::memory_order_release,
                                              std::memory_order_relaxed));
    }

    std::uint32_t pop() noexcept
    {
        std::uint64_t old = head_.load(std::memory_order_acquire);
        for (;;) {
            const std::uint32_t top = top_of(old);
            if (top == nil)
                return nil;
            const std::uint32_t below = links_[top].load(std::memory_order_relaxed);
            if (head_.compare_exchange_weak(old, pack(below, tag_of(old) + 1),
                                            std::memory_order_acquire, std::memory_order_acquire))
                return top;
        }
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

    std::unique_ptr<std::atomic<std::uint32_t>[]> links_;
    alignas(64) std::atomic<std::uint64_t> head_{pack(nil, 0)};
};

}  // namespace connpool_bench

#endif
