// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_LIMIT_LIMIT_ACCOUNT_HPP
#define CONNPOOL_DETAIL_LIMIT_LIMIT_ACCOUNT_HPP

// A member's account at a shared limit: what a pool (or one key of a keyed pool) calls to count
// its connections against the limit it was created with and every ancestor of it.

#include <connpool/detail/limit/limit_member.hpp>
#include <connpool/detail/limit/limit_tree.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace connpool::detail {

// One member's account at a limit (the leaf limit the member was created with; every ancestor
// counts its units too). Thread-safe. Made by connection_limit::join; destroying it leaves.
// Calls marked "with the member's mutex" may be made while the member holds its own mutex; the
// others must not be (they call members, the caller's own included).
class limit_account {
public:
    // `leaf`: the leaf limit's node, owning the limit (so it, its tree and its ancestors live as
    // long as the account).
    limit_account(std::shared_ptr<limit_node_state> leaf, std::weak_ptr<limit_member> member)
        : leaf_(std::move(leaf)), entry_(*leaf_, std::move(member))
    {
        tree().join(entry_);
    }
    limit_account(const limit_account&) = delete;
    limit_account& operator=(const limit_account&) = delete;

    // Without the member's mutex: withdraws its demand and gives banked units back (the waiters
    // that get them are told at once). Every held unit must have been released (asserted in
    // debug builds; given back otherwise).
    ~limit_account() { tree().leave(entry_); }

    // With the member's mutex. Takes up to `wanted` units now: banked grants first, then free
    // room in the leaf and every ancestor. Returns how many were taken (each counted now in
    // in_use() of the leaf and every ancestor; the member owes a release(1) for each when the
    // connection it opened with it is gone, or at once if it does not use it).
    // If fewer than `wanted`: the member is (or stays) queued for the rest, in the FIFO place of
    // `since_ns` (member clock ns): since when its oldest unmet demand has waited; see
    // limit_ledger::take.
    // take(0) withdraws the member's demand and gives banked units back (they go to the next
    // waiters). Never grants more than the member's wanted; surplus banked units are given back.
    // Units given back here are granted to waiters at once, but their members are told only by
    // deliver_grants() (or the next release): call it after unlocking.
    std::size_t take(std::size_t wanted, std::int64_t since_ns) noexcept
    {
        return tree().take(entry_, wanted, since_ns);
    }

    // Without the member's mutex: tells the members for whom units were banked by take() (of any
    // account of the tree) and who were not told yet. One relaxed load when there are none.
    void deliver_grants() noexcept { tree().deliver(); }

    // Without the member's mutex: `n` connections counted by this account are gone. Frees the
    // units along the chain, grants freed units to the waiting members in FIFO order (a waiter
    // whose chain has room gets it; one blocked by another full limit does not block those
    // behind it that fit), banking them in their accounts, then, after unlocking, calls
    // on_units_granted() of each member that got some (this one too, if it waits).
    void release(std::size_t n) noexcept { tree().release(entry_, n); }

    // Without the member's mutex, after a take() that left the member waiting: finds the lowest
    // full limit of this account's chain that blocks it and, among the OTHER members counted by
    // that limit, closes the idle connection with the smallest idle_to_close(true) (least
    // recently used, above its member's min_size). True if one was closed (its unit then reaches
    // the FIFO through release).
    bool make_room() noexcept { return tree().make_room(entry_); }

    // Fairness on return: is a member OTHER than this one waiting for a unit of a limit this
    // account counts against (so that a unit freed by this account would help it), that first
    // asked before `oldest_waiter_ns` (INT64_MAX when the member itself has no waiter)? One relaxed
    // load when nobody waits anywhere in the tree.
    bool others_waiting_before(std::int64_t oldest_waiter_ns) const noexcept
    {
        return tree().others_waiting_before(entry_, oldest_waiter_ns);
    }

    // Is a limit of the chain counting more than its max (set_max lowered it)? The member then
    // discards connections that come back instead of keeping them. One relaxed load when no
    // limit of the tree is over.
    bool over_max() const noexcept { return tree().over_max(entry_); }

    // The tree's "anything to look at?" word: while it reads false, others_waiting_before and
    // over_max would both say false. Lives as long as the account.
    const std::atomic<bool>& attention() const noexcept { return tree().attention(); }

    // Units this account holds now (taken, not released; banked ones not included).
    std::size_t held() const noexcept
    {
        return entry_.held_seen.load(std::memory_order_relaxed);  // a mirror (see account_entry)
    }

private:
    limit_tree& tree() const noexcept { return *leaf_->tree; }

    std::shared_ptr<limit_node_state> leaf_;
    account_entry entry_;
};

}  // namespace connpool::detail

#endif
