// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_CONNECTION_LIMIT_HPP
#define CONNPOOL_CONNECTION_LIMIT_HPP

/// \file connection_limit.hpp
/// connection_limit: a cap on live connections shared by several pools.

#include <connpool/detail/limit/limit_account.hpp>
#include <connpool/detail/limit/limit_member.hpp>
#include <connpool/detail/limit/limit_tree.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace connpool {

/// A cap on live connections shared by several pools: an exchange's limit per account or per IP,
/// a database's max_connections shared by the pools of a process. Give it to the pools through
/// pool_options::limit.
///
/// The connections of all pools under a limit (connecting or open, until their destructor has
/// returned) never exceed its max, nor the max of any ancestor. A pool that needs a connect while
/// a limit of its chain is full waits for a unit; units go to the waiting pools in the order they
/// asked, and idle connections above a pool's min_size are closed to serve another pool's demand.
///
/// Limits nest: a connection counted by a child limit is counted by its parent too; a child keeps
/// its parent alive. Create limits with std::make_shared. A limit may outlive its pools or be
/// outlived by them.
///
/// Thread safety: every member may be called from any thread at once.
class connection_limit : public std::enable_shared_from_this<connection_limit> {
public:
    /// A limit of `max` connections, counted by `parent` too when there is one.
    /// \throws std::invalid_argument if `max` is 0.
    explicit connection_limit(std::size_t max, std::shared_ptr<connection_limit> parent = nullptr)
        : parent_(std::move(parent)),
          node_(checked_max(max), parent_ ? &parent_->node_ : nullptr,
                parent_ ? parent_->node_.tree : std::make_shared<detail::limit_tree>())
    {
    }
    connection_limit(const connection_limit&) = delete;
    connection_limit& operator=(const connection_limit&) = delete;

    /// Changes the max at run time. Raising it lets waiting pools connect at once. Lowering it
    /// below in_use(): no connect starts under this limit until in_use() is below the new max,
    /// idle connections of its pools are closed at once (least recently used first, until
    /// in_use() is within the max or none is left), lent ones when they come back.
    /// \throws std::invalid_argument if `max` is 0 (the max stays as it was).
    void set_max(std::size_t max) { tree().set_max(node_, checked_max(max)); }

    /// The max now.
    std::size_t max() const noexcept
    {
        // Acquire: pairs with the release store of the mirror (see limit_node_state).
        return node_.max_seen.load(std::memory_order_acquire);
    }

    /// Connections counted now (connecting or open, in every pool under this limit or under a
    /// child of it), plus units granted to a waiting pool that has not started its connect yet.
    std::size_t in_use() const noexcept
    {
        // Acquire: pairs with the release store of the mirror (see limit_node_state).
        return node_.in_use_seen.load(std::memory_order_acquire);
    }

    /// For pools: an account for `member` at this limit. The limit keeps only the weak_ptr: it
    /// never calls a member whose owner is gone, and does not wait for one.
    /// \throws std::bad_weak_ptr if this limit is not owned by a std::shared_ptr.
    std::shared_ptr<detail::limit_account> join(std::weak_ptr<detail::limit_member> member)
    {
        return std::make_shared<detail::limit_account>(
            std::shared_ptr<detail::limit_node_state>(shared_from_this(), &node_),
            std::move(member));
    }

private:
    static std::size_t checked_max(std::size_t max)
    {
        if (max == 0)
            throw std::invalid_argument("connpool::connection_limit::max: must be at least 1");
        return max;
    }

    detail::limit_tree& tree() const noexcept { return *node_.tree; }

    std::shared_ptr<connection_limit> parent_;  // keeps the chain alive; before node_
    detail::limit_node_state node_;
};

}  // namespace connpool

#endif
