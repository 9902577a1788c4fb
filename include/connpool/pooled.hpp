// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POOLED_HPP
#define CONNPOOL_POOLED_HPP

/// \file pooled.hpp
/// The lease of a pooled connection.

#include <connpool/detail/idle/slot.hpp>

#include <cassert>
#include <utility>

namespace connpool {

namespace detail {
struct lease_factory;
}

/// A move-only lease on one connection of a pool. Destroying it, or calling release(), returns the
/// connection to the pool; invalidate() first makes the pool destroy it instead of reusing it.
///
/// A lease may outlive its pool object (the connection is then destroyed when it is returned) and
/// may be returned from any thread. A default-constructed lease is empty (`false`).
/// Thread safety: one lease is not to be used by two threads at once.
template <class Connection>
class pooled {
public:
    using connection_type = Connection;

    pooled() noexcept = default;
    pooled(pooled&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          slot_(std::exchange(other.slot_, nullptr)),
          broken_(std::exchange(other.broken_, false))
    {
    }
    pooled& operator=(pooled&& other) noexcept
    {
        if (this != &other) {
            release();
            owner_ = std::exchange(other.owner_, nullptr);
            slot_ = std::exchange(other.slot_, nullptr);
            broken_ = std::exchange(other.broken_, false);
        }
        return *this;
    }
    pooled(const pooled&) = delete;
    pooled& operator=(const pooled&) = delete;
    ~pooled() { release(); }

    /// The connection. Precondition: the lease is not empty.
    Connection& operator*() const noexcept
    {
        assert(slot_ && "connpool::pooled: dereferencing an empty lease");
        return *slot_->conn;
    }
    Connection* operator->() const noexcept { return &**this; }
    Connection& get() const noexcept { return **this; }

    explicit operator bool() const noexcept { return slot_ != nullptr; }

    /// Marks the connection as broken: when returned it is destroyed, never lent again.
    void invalidate() noexcept { broken_ = true; }

    /// Returns the connection now (or destroys it, after invalidate()); the lease becomes empty.
    /// No effect on an empty lease.
    void release() noexcept
    {
        if (slot_) {
            auto* owner = std::exchange(owner_, nullptr);
            auto* s = std::exchange(slot_, nullptr);
            owner->return_slot(*s, std::exchange(broken_, false));
        }
    }

private:
    friend struct detail::lease_factory;

    pooled(detail::lease_owner<Connection>* owner, detail::slot<Connection>* s) noexcept
        : owner_(owner), slot_(s)
    {
    }

    detail::lease_owner<Connection>* owner_ = nullptr;
    detail::slot<Connection>* slot_ = nullptr;
    bool broken_ = false;
};

namespace detail {
// Constructs leases for the pool's implementation classes.
struct lease_factory {
    template <class Connection>
    static pooled<Connection> make(lease_owner<Connection>* owner, slot<Connection>* s) noexcept
    {
        return pooled<Connection>(owner, s);
    }
};
}  // namespace detail

}  // namespace connpool

#endif
