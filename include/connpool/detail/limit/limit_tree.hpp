// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_LIMIT_LIMIT_TREE_HPP
#define CONNPOOL_DETAIL_LIMIT_LIMIT_TREE_HPP

// The machinery of a tree of shared limits: one mutex for the whole tree (a child limit reaches
// it through the tree object its root created), around the ledger of core/limit_ledger.hpp that
// takes every decision. Around it:
//   - atomic mirrors of the counts the lock-free checks read (connection_limit::in_use()/max(),
//     limit_account::held(), over_max() and others_waiting_before() when nothing is over or
//     nobody waits): each is written under the mutex right after the ledger changed it;
//   - the members' calls, always made after unlocking: a thread that granted units (settle_locked)
//     queues the grantees in `undelivered_` and calls deliver() once it has unlocked; make_room
//     and set_max copy their candidates' weak_ptrs under the mutex and call them after.
// Lock order: a pool's mutex, then this one (take() is called with the pool's mutex held); never
// a pool's mutex while holding this one, hence the calls after unlocking.

#include <connpool/detail/core/limit_ledger.hpp>
#include <connpool/detail/limit/limit_member.hpp>

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

namespace connpool::detail {

class limit_tree;

// A connection_limit's node, with the mirrors its lock-free readers use.
struct limit_node_state : limit_node {
    limit_node_state(std::size_t max_units, limit_node_state* parent_node,
                     std::shared_ptr<limit_tree> owning_tree) noexcept
        : limit_node(max_units, parent_node), max_seen(max_units), tree(std::move(owning_tree))
    {
    }

    // Mirrors of in_use and max: stored under the tree's mutex whenever the ledger changes them,
    // loaded without it (connection_limit::in_use()/max(), set_max's sweep). Every decision is
    // taken under the mutex on the ledger's own values; the mirrors only let a reader look.
    // Release stores, acquire loads: a reader that saw a count also sees everything done before it
    // was stored, so the max it reads next is the one in force when that count was made or a later
    // one. The stress test relies on it to read consistent (max, in_use) pairs, bracketing them
    // with a sequence number of its own set_max calls. Both are plain moves on x86.
    std::atomic<std::size_t> in_use_seen{0};
    std::atomic<std::size_t> max_seen;

    const std::shared_ptr<limit_tree> tree;  // shared by every node of the tree
};

// A member's entry in the ledger, with what the machinery needs to reach the member.
struct account_entry : limit_entry {
    account_entry(limit_node_state& leaf_node, std::weak_ptr<limit_member> who) noexcept
        : limit_entry(leaf_node), member(std::move(who))
    {
    }

    const std::weak_ptr<limit_member> member;  // never called once its owner is gone

    // Mirror of `held` for limit_account::held(): stored under the tree's mutex after each change,
    // loaded without it. Relaxed: a count for its member to look at (which changes it itself,
    // through take and release); nothing is published through it and no decision reads it.
    std::atomic<std::size_t> held_seen{0};

    // Linked while units were banked for it and its member has not been told yet.
    boost::intrusive::list_member_hook<> undelivered_hook;
};

class limit_tree {
public:
    limit_tree() = default;
    limit_tree(const limit_tree&) = delete;
    limit_tree& operator=(const limit_tree&) = delete;

    // ------------------------------------------------------------------------ accounts

    void join(account_entry& e) noexcept
    {
        std::lock_guard lock(mutex_);
        ledger_.join(e);
    }

    // Without the member's mutex: units given back here go to waiters, who are told at once.
    void leave(account_entry& e) noexcept
    {
        {
            std::lock_guard lock(mutex_);
            if (e.undelivered_hook.is_linked())
                undelivered_.erase(undelivered_.iterator_to(e));
            ledger_.leave(e);
            e.held_seen.store(0, std::memory_order_relaxed);  // a mirror (see its declaration)
            settle_locked();
        }
        deliver();
    }

    // With the member's mutex held, so it calls nobody: units it gives back (take(0), surplus)
    // are granted to waiters now, and their members are told by the next deliver() (the caller's
    // limit_account::deliver_grants() once it has unlocked, or any release).
    std::size_t take(account_entry& e, std::size_t wanted, std::int64_t since_ns) noexcept
    {
        std::lock_guard lock(mutex_);
        const std::size_t got = ledger_.take(e, wanted, since_ns);
        e.held_seen.store(e.held, std::memory_order_relaxed);  // a mirror (see its declaration)
        settle_locked();
        return got;
    }

    // Without the member's mutex: the freed units go to the waiters, who are told at once (this
    // member too, if it waits).
    void release(account_entry& e, std::size_t n) noexcept
    {
        {
            std::lock_guard lock(mutex_);
            ledger_.release(e, n);
            e.held_seen.store(e.held, std::memory_order_relaxed);  // a mirror
            settle_locked();
        }
        deliver();
    }

    // Without the member's mutex, after a take() that left `e` waiting: the least recently used
    // idle connection above its member's min_size, among the other members counted by the lowest
    // full limit of e's chain, is closed. True if one was.
    bool make_room(const account_entry& e) noexcept
    {
        try {
            std::vector<std::weak_ptr<limit_member>> others;
            {
                std::lock_guard lock(mutex_);
                const limit_node* blocking = e.waiting() ? blocking_limit(e) : nullptr;
                if (!blocking)
                    return false;
                ledger_.for_each_counted_by(
                    *blocking,
                    [&](const limit_entry& o) { others.push_back(as_account(o).member); }, &e);
            }
            return close_least_recently_used(others, true, 1, nullptr) != 0;
        } catch (const std::bad_alloc&) {
            return false;  // no room made; the member still waits in the FIFO
        }
    }

    // True while a member waits or a node is over its max: when false, others_waiting_before
    // and over_max are both false. Members keep a pointer to it for their return path (one load,
    // no pointer chase through the account).
    const std::atomic<bool>& attention() const noexcept { return attention_seen_; }

    // Hot-ish (every return of a pool under a limit): one relaxed load while nobody waits.
    bool others_waiting_before(const account_entry& e, std::int64_t before_ns) const noexcept
    {
        // Relaxed: a stale 0 (a member queued a moment ago) lets one return keep its connection
        // in its pool instead of yielding the unit; that waiter is served by the next release
        // or by its make_room, and the next load sees the count. A stale nonzero costs the lock.
        if (waiting_seen_.load(std::memory_order_relaxed) == 0)
            return false;
        std::lock_guard lock(mutex_);
        return ledger_.others_waiting_before(e, before_ns, member_gone);
    }

    // Hot-ish too: one relaxed load while no limit of the tree is over its max.
    bool over_max(const account_entry& e) const noexcept
    {
        // Relaxed: a stale 0 means a return racing set_max keeps its connection; it is then idle,
        // within reach of set_max's own sweep, make_room and idle_timeout. A stale nonzero costs
        // the lock.
        if (over_seen_.load(std::memory_order_relaxed) == 0)
            return false;
        std::lock_guard lock(mutex_);
        return limit_ledger::over_max(e);
    }

    // ------------------------------------------------------------------------ limits

    // Raising grants to the waiters (told after unlocking). Lowering below in_use: nothing is
    // taken until in_use < max, and idle connections of the members it counts are closed, least
    // recently used first across members, up to the excess or until none is left; lent ones are
    // the members' job (over_max()).
    void set_max(limit_node_state& node, std::size_t max_units)
    {
        std::size_t excess = 0;
        std::vector<std::weak_ptr<limit_member>> counted;
        {
            std::lock_guard lock(mutex_);
            ledger_.set_max(node, max_units);
            settle_locked();
            excess = node.excess();
            if (excess != 0) {
                try {
                    ledger_.for_each_counted_by(node, [&](const limit_entry& o) {
                        counted.push_back(as_account(o).member);
                    });
                } catch (const std::bad_alloc&) {
                    excess = 0;  // the max holds; its members drain it through over_max()
                }
            }
        }
        deliver();
        if (excess != 0) {
            try {
                close_least_recently_used(counted, false, excess, &node);
            } catch (const std::bad_alloc&) {
                // As above: the members drain the excess as connections come back.
            }
        }
    }

    // Tells the members that units were banked for them since they last were (one call each).
    // One at a time, the mutex released around each call: no allocation, nothing held while a
    // member runs.
    void deliver() noexcept
    {
        // Relaxed: the thread that granted units calls deliver() after unlocking and reads its own
        // store; a stale 0 seen by another thread only leaves the call to that one.
        while (undelivered_seen_.load(std::memory_order_relaxed) != 0) {
            std::weak_ptr<limit_member> member;
            {
                std::lock_guard lock(mutex_);
                if (undelivered_.empty())
                    return;
                account_entry& e = undelivered_.front();
                undelivered_.pop_front();
                if (member_gone(e)) {
                    // Nobody will take what was banked for it: it goes to the next waiters.
                    ledger_.take(e, 0, 0);
                }
                settle_locked();
                member = e.member;
            }
            if (const std::shared_ptr<limit_member> m = member.lock())
                m->on_units_granted();
        }
    }

private:
    static const account_entry& as_account(const limit_entry& e) noexcept
    {
        return static_cast<const account_entry&>(e);  // every entry of the ledger is one
    }

    static bool member_gone(const limit_entry& e) noexcept
    {
        return as_account(e).member.expired();
    }

    // After every change to the ledger: free room goes to the waiters (their members queued to be
    // told), and the mirrors take the new counts.
    void settle_locked() noexcept
    {
        ledger_.grant_waiters(
            [this](limit_entry& w, std::size_t) {
                auto& a = static_cast<account_entry&>(w);
                if (!a.undelivered_hook.is_linked())
                    undelivered_.push_back(a);
            },
            member_gone);
        // Release: the nodes' mirrors (see limit_node_state). Relaxed: the three tree-wide counts,
        // the fast checks' "anything to look at?" (their loads say why that is enough).
        ledger_.take_changed([](limit_node& n) {
            auto& s = static_cast<limit_node_state&>(n);  // every node of the tree is one
            s.max_seen.store(n.max, std::memory_order_release);
            s.in_use_seen.store(n.in_use, std::memory_order_release);
        });
        waiting_seen_.store(ledger_.waiting(), std::memory_order_relaxed);
        over_seen_.store(ledger_.nodes_over(), std::memory_order_relaxed);
        attention_seen_.store(ledger_.waiting() != 0 || ledger_.nodes_over() != 0,
                              std::memory_order_relaxed);
        undelivered_seen_.store(undelivered_.size(), std::memory_order_relaxed);
    }

    // Closes up to `wanted` idle connections of `candidates`, least recently used first across
    // them (each member reports its own least recently used one), stopping early once `node`
    // (if any) is within its max. Returns how many were closed. Called without the mutex.
    static std::size_t
    close_least_recently_used(const std::vector<std::weak_ptr<limit_member>>& candidates,
                              bool above_min_only, std::size_t wanted, const limit_node_state* node)
    {
        std::vector<std::shared_ptr<limit_member>> members;
        members.reserve(candidates.size());
        for (const auto& w : candidates)
            if (auto m = w.lock())
                members.push_back(std::move(m));
        std::vector<std::optional<std::int64_t>> last_use(members.size());
        for (std::size_t i = 0; i < members.size(); ++i)
            last_use[i] = members[i]->idle_to_close(above_min_only);

        std::size_t closed = 0;
        while (closed < wanted && !(node && within_max(*node))) {
            const std::optional<std::size_t> i = least_recently_used(last_use);
            if (!i)
                break;
            if (members[*i]->close_idle(above_min_only)) {
                ++closed;
                last_use[*i] = members[*i]->idle_to_close(above_min_only);  // its next one
            } else {
                // Its connection was taken or closed meanwhile: not asked again, so the loop
                // ends (each turn closes one or drops a member).
                last_use[*i].reset();
            }
        }
        return closed;
    }

    static bool within_max(const limit_node_state& n) noexcept
    {
        // Acquire, as every load of the mirrors (see their declaration). A stale answer closes one
        // connection more or less; `wanted` bounds the closes anyway.
        return n.in_use_seen.load(std::memory_order_acquire) <=
               n.max_seen.load(std::memory_order_acquire);
    }

    mutable std::mutex mutex_;
    limit_ledger ledger_;  // guarded by mutex_
    boost::intrusive::list<account_entry, boost::intrusive::member_hook<
                                              account_entry, boost::intrusive::list_member_hook<>,
                                              &account_entry::undelivered_hook>>
        undelivered_;  // guarded by mutex_

    // Written under mutex_ after every change (settle_locked), loaded without it: the entries in
    // the FIFO, the nodes over their max, the members not yet told of a grant. Each load says why
    // relaxed is enough for it.
    std::atomic<std::size_t> waiting_seen_{0};
    std::atomic<std::size_t> over_seen_{0};
    std::atomic<std::size_t> undelivered_seen_{0};
    // waiting_seen_ || over_seen_, in one word: a pool's return path loads only this (see
    // attention()); relaxed for the reasons given at others_waiting_before and over_max.
    std::atomic<bool> attention_seen_{false};
};

}  // namespace connpool::detail

#endif
