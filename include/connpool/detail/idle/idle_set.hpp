// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IDLE_IDLE_SET_HPP
#define CONNPOOL_DETAIL_IDLE_IDLE_SET_HPP

// The idle set: the connections ready to lend, in a lock-free LIFO stack (idle_stack.hpp) with a
// per-thread cache in front of it. The pool decides what to offer (pool_impl::offer); this file
// only keeps what was offered, and hands it out again.
//
// The thread-affine cache in front of the stack. One stack head is one cache line that every
// acquire and every return writes: two cores hammering it reach about 18 M pairs/s together, less
// than one core alone. So a connection returned by a thread is first parked in that thread's
// cache (one entry per thread and pool, thread_cache_for below) instead of being pushed, and the
// thread's next acquire takes it back from there: a CAS on the slot's own line, which stays in
// that core's cache. Threads that return nothing keep nothing.
//  * Nothing is hidden. A cached slot stays in the pool's slot array in state `cached`, and any
//    thread may claim it with a CAS from `cached` (idle_set::claim): its owner on a cache
//    hit, an acquirer that finds the stack empty (it scans the slots and steals), a new waiter (the
//    same scan, see the no-lost-wake-up argument in pool_impl.hpp), the housekeeping sweep
//    (reaping, keepalive, lifetime) and close()/clear(). Exactly one CAS wins.
//  * A cache entry is only a hint: the slot it names may have been stolen, lent, destroyed and
//    re-created since; the CAS from `cached` is what decides.
//  * Order. Each thread reuses the connection it returned last (LIFO per thread); connections no
//    thread holds on to sit in the stack, most recent on top, so surplus ones still sink and age
//    out. A thread that returns a second connection while one is cached pushes the older one.

#include <connpool/detail/idle/idle_stack.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stable_array.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace connpool::detail {

// A thread's cached connection of one pool: the pool's unique id and the slot index.
struct thread_cache_entry {
    std::uint64_t pool_id = 0;
    std::uint32_t index = nil_index;
    std::uint32_t parked_at = 0;  // this thread's park count when last written (eviction order)
};

// A thread's cache entries: a small table shared by all pools (of all types), searched by pool
// id from a home position (the id's low bits), so a thread that uses up to 8 pools keeps one
// connection of each whatever their ids. Pool ids are never reused, so an entry left by a
// destroyed pool matches no other pool.
inline constexpr std::size_t thread_cache_ways = 8;

inline thread_cache_entry* thread_cache_table() noexcept
{
    static thread_local thread_cache_entry table[thread_cache_ways];
    return table;
}

// This thread's entry for `pool_id`, or nullptr. The fast path: usually a hit at the home
// position.
inline thread_cache_entry* thread_cache_find(std::uint64_t pool_id) noexcept
{
    thread_cache_entry* table = thread_cache_table();
    for (std::size_t i = 0; i < thread_cache_ways; ++i) {
        thread_cache_entry& e = table[(pool_id + i) % thread_cache_ways];
        if (e.pool_id == pool_id)
            return &e;
    }
    return nullptr;
}

// The entry to park a connection of `pool_id` in: its own, else one that holds nothing, else the
// least recently parked in. Evicting another pool's entry forgets only a hint: the connection
// it named stays `cached` in its pool's slots, where stealers, waiters and the reaper find it.
inline thread_cache_entry& thread_cache_for(std::uint64_t pool_id) noexcept
{
    static thread_local std::uint32_t parks = 0;
    thread_cache_entry* e = thread_cache_find(pool_id);
    if (!e) {
        thread_cache_entry* table = thread_cache_table();
        for (std::size_t i = 0; i < thread_cache_ways; ++i) {
            thread_cache_entry& c = table[(pool_id + i) % thread_cache_ways];
            if (c.index == nil_index) {
                e = &c;
                break;
            }
            // Unsigned distance: right across the counter's wrap-around.
            if (!e || parks - c.parked_at > parks - e->parked_at)
                e = &c;
        }
    }
    e->parked_at = ++parks;
    return *e;
}

inline std::uint64_t next_pool_id() noexcept
{
    // Relaxed: only uniqueness matters.
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

// The idle connections of one pool: its stack, and its entries in the threads' caches.
// Every slot it returns is in state `idle` and belongs to the caller (to lend, offer or discard).
template <class Connection>
class idle_set {
public:
    using slot_type = slot<Connection>;

    using slot_array = stable_array<slot_type>;

    explicit idle_set(slot_array& slots) : slots_(slots), stack_(slots.capacity()) {}

    // After the pool grew its slots to `n` (under its mutex), before any new slot is offered.
    void grow(std::uint32_t n) { stack_.grow(n); }

    // Takes an idle slot: this thread's cached one, else the top of the stack, else one cached
    // by another thread; nil_index when there is none. Never called with the pool's mutex held.
    std::uint32_t pop() noexcept
    {
        thread_cache_entry* mine = thread_cache_find(id_);
        if (mine && mine->index != nil_index) {
            const std::uint32_t i = std::exchange(mine->index, nil_index);
            if (claim(slots_[i]))
                return i;
        }
        if (const std::uint32_t i = stack_.pop(); i != nil_index)
            return i;
        return steal();
    }

    // Whether the shared stack is empty now (cached connections not counted): a hint.
    bool stack_empty() const noexcept { return stack_.empty(); }

    // Onto the shared stack. seq_cst inside: the offerer's side of the no-lost-wake-up race.
    void push(slot_type& s) noexcept
    {
        s.set(slot_state::idle);
        stack_.push(s.index);
    }

    // This thread's cache entry to park a connection of this pool in (see park); looked up once
    // per return.
    thread_cache_entry& cache_entry() noexcept { return thread_cache_for(id_); }

    // Before parking `s` in `mine`: claims the connection this thread cached there before (one
    // per thread), if it is still cached and is not `s`. The caller offers it to the stack
    // first, then parks `s`: while the older one is offered, `s` is still lent and keeps the pool
    // alive (a pool whose owners are gone is deleted once its last connection is destroyed, and
    // the offer may destroy connections if close() has begun).
    slot_type* unpark_older(thread_cache_entry& mine, const slot_type& s) noexcept
    {
        if (mine.pool_id != id_ || mine.index == nil_index || mine.index == s.index ||
            !claim(slots_[mine.index]))
            return nullptr;
        return &slots_[std::exchange(mine.index, nil_index)];
    }

    // Parks a returned connection in this thread's cache entry `mine`, in state `cached`, with a
    // seq_cst store (the returner's side of the no-lost-wake-up race: the caller loads the
    // waiter count and the closed flag next).
    void park(thread_cache_entry& mine, slot_type& s) noexcept
    {
        mine.pool_id = id_;
        mine.index = s.index;
        // seq_cst: release publishes the slot to its next claimant; seq_cst orders this store
        // before the caller's loads (the returner's side of the no-lost-wake-up race).
        s.state.store(slot_state::cached, std::memory_order_seq_cst);
    }

    // The only way out of state `cached`; exactly one claimant wins.
    static bool claim(slot_type& s) noexcept
    {
        // Relaxed pre-check: no read-modify-write (no exclusive ownership of the line) on a slot
        // that is not cached. The scan in steal() does the seq_cst load the waiter's side of the
        // race needs.
        if (s.state.load(std::memory_order_relaxed) != slot_state::cached)
            return false;
        slot_state expected = slot_state::cached;
        // Acquire on success: we own the slot and must see what its returner wrote (pairs with
        // the release half of park's seq_cst store). seq_cst keeps the claim in the total order
        // of the no-lost-wake-up argument.
        return s.state.compare_exchange_strong(
            expected, slot_state::idle, std::memory_order_seq_cst, std::memory_order_relaxed);
    }

    // Every idle connection, cached and stacked, most recent first (cached ones, then the stack
    // from the top), appended to `taken`. A caller that reserved `count` entries allocates
    // nothing.
    void take_all(std::vector<std::uint32_t>& taken) noexcept
    {
        const std::uint32_t count = slots_.capacity();
        for (std::uint32_t k = 0; k < count; ++k)
            if (claim(slots_[k]))
                taken.push_back(k);
        for (std::uint32_t i = stack_.take_all(); i != nil_index; i = stack_.next(i))
            taken.push_back(i);
    }

private:
    // Scans every slot for one cached by any thread: the stack is empty, so this is the slow
    // path (or a waiter enqueueing, or housekeeping).
    //
    // Which one: the least recently used, so that a thread does not take the connection another
    // running thread is about to take back (at W = 0 a busy thread's connection is cached half
    // of the time, and two threads would steal it from each other in turn); ties are broken by a
    // scan that starts at a per-thread offset, so that stealers spread over the candidates.
    std::uint32_t steal() noexcept
    {
        static thread_local const std::uint32_t offset =
            static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(thread_cache_table()) >> 6);
        for (;;) {
            std::uint32_t best = nil_index;
            std::int64_t best_used = INT64_MAX;
            const std::uint32_t count = slots_.capacity();
            for (std::uint32_t j = 0; j < count; ++j) {
                const std::uint32_t k = (offset + j) % count;
                slot_type& s = slots_[k];
                // seq_cst: the waiter's side of the no-lost-wake-up race (pool_impl.hpp): ordered
                // after its increment of the waiter count, paired with park's store.
                if (s.state.load(std::memory_order_seq_cst) != slot_state::cached)
                    continue;
                const std::int64_t used = s.last_used.load(std::memory_order_relaxed);
                if (used < best_used) {
                    best = k;
                    best_used = used;
                }
            }
            if (best == nil_index || claim(slots_[best]))
                return best;
            // Someone else claimed it first: look again (lock-free: they made progress).
        }
    }

    slot_array& slots_;
    idle_stack stack_;
    const std::uint64_t id_ = next_pool_id();  // keys this pool's thread cache entries
};

}  // namespace connpool::detail

#endif
