// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IDLE_SLOT_HPP
#define CONNPOOL_DETAIL_IDLE_SLOT_HPP

// A slot is the pool's stable home for one connection: the pool allocates max_size of them up
// front, so an index names a slot for the pool's whole life (the idle stack links indices) and a
// lease is a pointer to its slot. Pool metadata per connection is sizeof(slot) - sizeof(Connection)
// (checked by a static_assert in pool_impl.hpp against the 128-byte budget).

#include <connpool/call_site.hpp>

#include <atomic>
#include <cstdint>
#include <optional>

namespace connpool::detail {

enum class slot_state : std::uint8_t {
    free,         // no connection; counts nothing
    connecting,   // a connect is in flight
    idle,         // in the idle stack (or being taken out of it)
    cached,       // idle in a thread's cache; whoever CASes it out of this state owns it
    lent,         // held by a lease
    maintenance,  // being reset, validated or keepalive-pinged
    destroying,   // its connection's destructor is running
};

// The call site of the acquire that took a slot's current lease: stored by lend() only with
// leak detection or an observer. Three relaxed words, as the times: the housekeeping scan and
// stats() read them while a new lease of the slot may be storing them, and may then see parts of
// two leases' sites. That matters only for a lease held long (past leak_threshold, or the
// oldest), whose site was stored long before: only one returned and lent again at the very
// moment of the read could be misnamed, and the next read names it right.
struct lease_site {
    std::atomic<const char*> file{""};
    std::atomic<const char*> function{""};
    std::atomic<std::uint_least32_t> line{0};

    void store(const call_site& s) noexcept
    {
        file.store(s.file_name(), std::memory_order_relaxed);
        function.store(s.function_name(), std::memory_order_relaxed);
        line.store(s.line(), std::memory_order_relaxed);
    }
    call_site load() const noexcept
    {
        return {file.load(std::memory_order_relaxed), function.load(std::memory_order_relaxed),
                line.load(std::memory_order_relaxed)};
    }
};

template <class Connection>
struct slot {
    std::optional<Connection> conn;

    // Times are Clock ticks. last_used: when the connection was last returned (idle reaping);
    // last_checked: when it was last known good, returned or pinged (validation, keepalive);
    // lent_at: when its current lease began. Atomic because the housekeeping scan reads them
    // while the owner of the slot writes them; relaxed everywhere (a stale value only delays a
    // reap or a keepalive by one housekeeping period). lent_at and lent_where are stored before
    // the state becomes `lent` (release), so that a scan that sees `lent` sees the lease's own.
    std::atomic<std::int64_t> last_used{0};
    std::atomic<std::int64_t> last_checked{0};
    std::atomic<std::int64_t> lent_at{0};
    lease_site lent_where;     // the acquire of the current lease (see lease_site)
    std::int64_t created = 0;  // written before the slot is first published, then read-only
    std::int64_t expiry = 0;   // likewise
    // `lends` when the current connection arrived (likewise): it has never been lent while
    // lends == lends_at_arrival (before_lend is not asked about a connection's first lease).
    std::uint64_t lends_at_arrival = 0;
    std::uint64_t generation = 0;

    // How many leases this slot has handed out. Written only by the slot's current owner (a load
    // and a store, no read-modify-write: no locked instruction on the fast path), read by stats().
    std::atomic<std::uint64_t> lends{0};

    // Read by stats() and the housekeeping scan (relaxed: gauges only). Also the claim word of a
    // cached slot: see idle_set::claim.
    std::atomic<slot_state> state{slot_state::free};
    // The lent_at of the lease last counted as a suspected leak; housekeeping (strand) only.
    std::int64_t leak_reported_for = INT64_MIN;
    std::uint32_t index = 0;
    std::uint32_t next_free = 0;  // free list, under the pool's mutex

    bool is(slot_state s) const noexcept { return state.load(std::memory_order_relaxed) == s; }
    void set(slot_state s) noexcept { state.store(s, std::memory_order_relaxed); }
};

// What a lease needs from its pool: a way back. Type-erased so that pooled<Connection> does not
// depend on the factory or the clock.
template <class Connection>
class lease_owner {
public:
    // Returns the connection in `s` to the pool; `broken` after invalidate(). Any thread.
    virtual void return_slot(slot<Connection>& s, bool broken) noexcept = 0;

protected:
    ~lease_owner() = default;
};

}  // namespace connpool::detail

#endif
