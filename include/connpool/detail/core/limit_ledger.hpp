// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_LIMIT_LEDGER_HPP
#define CONNPOOL_DETAIL_CORE_LIMIT_LEDGER_HPP

// The decisions of a tree of shared connection limits (connpool::connection_limit), as plain
// data: the units each limit counts, the members (pools, or keys of a keyed pool) that wait for
// units and in which order, who gets a freed unit, which limit blocks a waiter, whom a unit freed
// by a member would help, and which members may be asked to make room. No mutex, no atomics, no
// calls into a member: detail/limit/limit_tree.hpp holds the tree's mutex around every call,
// mirrors the counts into atomics for its lock-free checks, and calls members after unlocking.
//
// Vocabulary. A unit is the right to one connection (connecting or open, until its destructor has
// returned). A node is one limit: its max and the units it counts now (in_use). A unit counted by
// a node is counted by every ancestor too, so a member's chain (its leaf node up to the root) is
// charged and freed as a whole. An entry is one member's account at its leaf: the units it holds
// (taken, owed back by release), the units banked for it (granted while it waited: counted in
// in_use, not yet taken) and the units it still misses (its demand in the FIFO).
//
// Invariants (the tests check them; every operation keeps them once grant_waiters has run):
//   - a node's in_use is the sum of held + banked over the entries whose chain contains it;
//   - in_use grows only where every node of the chain has room (in_use < max), so a node over
//     its max (set_max lowered it) only shrinks until it is below again;
//   - an entry is in the FIFO iff it misses units; after grant_waiters no waiter (whose member is
//     still there) has room in its whole chain, so a newcomer that finds room takes nothing a
//     waiter could have had now, and a waiter blocked by a full node outside another waiter's
//     chain does not hold that one up.

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>

namespace connpool::detail {

// One limit of the tree. Its parent is fixed for its life; the ledger changes max and in_use.
struct limit_node {
    explicit limit_node(std::size_t max_units, limit_node* parent_node = nullptr) noexcept
        : max(max_units), parent(parent_node)
    {
    }
    limit_node(const limit_node&) = delete;
    limit_node& operator=(const limit_node&) = delete;

    std::size_t max;
    std::size_t in_use = 0;
    limit_node* const parent;

    // Units a take may still count here: none while in_use >= max (a lowered max drains first).
    std::size_t room() const noexcept { return in_use < max ? max - in_use : 0; }
    std::size_t excess() const noexcept { return in_use > max ? in_use - max : 0; }

    // Linked while the node has changed since the ledger's user last looked (take_changed).
    boost::intrusive::list_member_hook<> changed_hook;
};

// One member's account at its leaf node.
struct limit_entry {
    explicit limit_entry(limit_node& leaf_node) noexcept : leaf(&leaf_node) {}
    limit_entry(const limit_entry&) = delete;
    limit_entry& operator=(const limit_entry&) = delete;

    limit_node* const leaf;
    std::size_t held = 0;       // taken by the member; it owes a release for each
    std::size_t banked = 0;     // granted while it waited, counted in in_use, not yet taken
    std::size_t missing = 0;    // units it waits for; in the FIFO iff nonzero
    std::int64_t asked_ns = 0;  // while it waits: since when its oldest unmet demand waits

    bool waiting() const noexcept { return missing != 0; }

    boost::intrusive::list_member_hook<> all_hook;   // every entry of the tree
    boost::intrusive::list_member_hook<> fifo_hook;  // the waiters, in the order they asked
};

// Does `node` count the units of `e` (is it on e's chain)?
inline bool counts(const limit_node& node, const limit_entry& e) noexcept
{
    for (const limit_node* n = e.leaf; n; n = n->parent)
        if (n == &node)
            return true;
    return false;
}

// The units `e` could take now: the least room along its chain.
inline std::size_t room_of(const limit_entry& e) noexcept
{
    std::size_t room = e.leaf->room();
    for (const limit_node* n = e.leaf->parent; n && room; n = n->parent)
        room = std::min(room, n->room());
    return room;
}

// The lowest node of e's chain that has no room (what e waits for), or nullptr.
inline limit_node* blocking_limit(const limit_entry& e) noexcept
{
    for (limit_node* n = e.leaf; n; n = n->parent)
        if (n->room() == 0)
            return n;
    return nullptr;
}

// Would one unit freed along `giver`'s chain give `waiter` room? Yes when every node of waiter's
// chain without room is on giver's chain and exactly full (a node over its max stays without room
// after one unit is freed).
inline bool unit_would_help(const limit_entry& giver, const limit_entry& waiter) noexcept
{
    for (const limit_node* n = waiter.leaf; n; n = n->parent)
        if (n->room() == 0 && (n->in_use != n->max || !counts(*n, giver)))
            return false;
    return true;
}

// Among the members' least recently used idle connections (their last use, nullopt when a member
// has none to close), the index of the least recently used of all; nullopt if there is none.
// Ties go to the first.
inline std::optional<std::size_t>
least_recently_used(std::span<const std::optional<std::int64_t>> last_use) noexcept
{
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < last_use.size(); ++i)
        if (last_use[i] && (!best || *last_use[i] < *last_use[*best]))
            best = i;
    return best;
}

// The tree's bookkeeping: its entries, the FIFO of waiters, the count of nodes over their max,
// and the nodes changed since the last take_changed. The nodes themselves belong to the caller
// (each connection_limit embeds its own); the ledger reaches them through the entries' chains.
class limit_ledger {
public:
    limit_ledger() = default;
    limit_ledger(const limit_ledger&) = delete;
    limit_ledger& operator=(const limit_ledger&) = delete;

    // ------------------------------------------------------------------------ entries come, go

    void join(limit_entry& e) noexcept { all_.push_back(e); }

    // The member leaves: its demand is withdrawn and its banked units given back. Its held units
    // must have been released; if not (a bug of the member's), they are given back too, so that
    // the tree does not lose them for ever.
    void leave(limit_entry& e) noexcept
    {
        withdraw(e);
        assert(e.held == 0 && "a limit_account left with units it never released");
        if (e.held != 0) {
            free_chain(*e.leaf, e.held);
            e.held = 0;
        }
        all_.erase(all_.iterator_to(e));
    }

    // ------------------------------------------------------------------------ the member asks

    // Takes up to `wanted` units for `e`: banked ones first, then room along its chain. Returns
    // how many it took (now held). Banked units beyond `wanted` are given back. If it took fewer,
    // `e` waits for the rest, in the FIFO place of `since_ns`: since when its oldest unmet
    // demand has waited (a pool passes its oldest waiter's arrival, or now when only its
    // min_size wants a connect). A later since_ns moves it back: the demand that waited longest
    // was met meanwhile (its oldest waiter was served inside the pool), and a pool must not keep
    // the place of an acquirer that is gone. take(e, 0) withdraws its demand and gives its banked
    // units back. Units given back go to the waiters at the next grant_waiters.
    std::size_t take(limit_entry& e, std::size_t wanted, std::int64_t since_ns) noexcept
    {
        if (wanted == 0) {
            withdraw(e);
            return 0;
        }
        std::size_t got = std::min(e.banked, wanted);
        e.banked -= got;
        if (e.banked != 0) {
            free_chain(*e.leaf, e.banked);
            e.banked = 0;
        }
        // Room exists only where no waiter could use it (the invariant), so taking it overtakes
        // nobody.
        const std::size_t fresh = std::min(wanted - got, room_of(e));
        charge_chain(*e.leaf, fresh);
        got += fresh;
        e.held += got;

        const std::size_t missing = wanted - got;
        if (missing != 0 && (!e.waiting() || e.asked_ns != since_ns)) {
            if (e.waiting())
                fifo_.erase(fifo_.iterator_to(e));
            e.asked_ns = since_ns;
            queue_in_order(e);
        } else if (missing == 0 && e.waiting()) {
            fifo_.erase(fifo_.iterator_to(e));
        }
        e.missing = missing;
        return got;
    }

    // Into the FIFO after every waiter that has waited as long or longer (ties: arrival order).
    void queue_in_order(limit_entry& e) noexcept
    {
        auto pos = fifo_.end();
        while (pos != fifo_.begin() && std::prev(pos)->asked_ns > e.asked_ns)
            --pos;
        fifo_.insert(pos, e);
    }

    // `n` connections counted by `e` are gone: their units are freed along its chain (they go to
    // the waiters at the next grant_waiters).
    void release(limit_entry& e, std::size_t n) noexcept
    {
        assert(n <= e.held && "a limit_account released more units than it took");
        n = std::min(n, e.held);
        e.held -= n;
        free_chain(*e.leaf, n);
    }

    // ------------------------------------------------------------------------ the limit changes

    // Lowering below in_use makes the node over its max: it takes nothing until it is below again.
    void set_max(limit_node& node, std::size_t max) noexcept
    {
        const bool was_over = node.excess() != 0;
        node.max = max;
        note_over_change(was_over, node.excess() != 0);
        mark_changed(node);
    }

    // ------------------------------------------------------------------------ units to waiters

    // Gives free room to the waiters in FIFO order, banking it in their entries: a waiter whose
    // chain has room gets what it misses (as much as fits), one blocked elsewhere is passed over.
    // Waiters whose member is gone (is_gone(entry)) are withdrawn first: nobody waits for them.
    // on_granted(entry, units) is called for each grant.
    template <class OnGranted, class IsGone>
    void grant_waiters(OnGranted&& on_granted, IsGone&& is_gone) noexcept
    {
        for (auto it = fifo_.begin(); it != fifo_.end();) {
            limit_entry& w = *it++;
            if (is_gone(static_cast<const limit_entry&>(w)))
                withdraw(w);
        }
        for (auto it = fifo_.begin(); it != fifo_.end();) {
            limit_entry& w = *it++;
            const std::size_t units = std::min(w.missing, room_of(w));
            if (units == 0) {
                if (root_of(w).room() == 0)
                    break;  // the whole tree is full: nobody behind fits either
                continue;
            }
            charge_chain(*w.leaf, units);
            w.banked += units;
            w.missing -= units;
            if (w.missing == 0)
                fifo_.erase(fifo_.iterator_to(w));
            on_granted(w, units);
        }
    }

    template <class OnGranted>
    void grant_waiters(OnGranted&& on_granted) noexcept
    {
        grant_waiters(on_granted, [](const limit_entry&) { return false; });
    }

    // ------------------------------------------------------------------------ questions

    // Is an entry other than `e` waiting since before `before_ns` whom a unit freed by `e` would
    // give room (see unit_would_help)? Entries whose member is gone do not count.
    template <class IsGone>
    bool others_waiting_before(const limit_entry& e, std::int64_t before_ns,
                               IsGone&& is_gone) const noexcept
    {
        for (const limit_entry& w : fifo_)
            if (&w != &e && w.asked_ns < before_ns && !is_gone(w) && unit_would_help(e, w))
                return true;
        return false;
    }

    bool others_waiting_before(const limit_entry& e, std::int64_t before_ns) const noexcept
    {
        return others_waiting_before(e, before_ns, [](const limit_entry&) { return false; });
    }

    // Does a node of e's chain count more than its max?
    static bool over_max(const limit_entry& e) noexcept
    {
        for (const limit_node* n = e.leaf; n; n = n->parent)
            if (n->excess() != 0)
                return true;
        return false;
    }

    // Calls f(entry) for each entry counted by `node`, except `except` (nullptr: none).
    template <class F>
    void for_each_counted_by(const limit_node& node, F&& f,
                             const limit_entry* except = nullptr) const
    {
        for (const limit_entry& e : all_)
            if (&e != except && counts(node, e))
                f(e);
    }

    std::size_t waiting() const noexcept { return fifo_.size(); }  // entries in the FIFO
    std::size_t nodes_over() const noexcept { return nodes_over_; }

    // The waiters in FIFO order (for the tests and the debug checks).
    template <class F>
    void for_each_waiter(F&& f) const
    {
        for (const limit_entry& w : fifo_)
            f(w);
    }

    // Calls f(node) once for each node whose in_use or max changed since the last call.
    template <class F>
    void take_changed(F&& f)
    {
        while (!changed_.empty()) {
            limit_node& n = changed_.front();
            changed_.pop_front();
            f(n);
        }
    }

private:
    void withdraw(limit_entry& e) noexcept
    {
        if (e.waiting()) {
            fifo_.erase(fifo_.iterator_to(e));
            e.missing = 0;
        }
        if (e.banked != 0) {
            free_chain(*e.leaf, e.banked);
            e.banked = 0;
        }
    }

    void charge_chain(limit_node& leaf, std::size_t n) noexcept
    {
        if (n == 0)
            return;
        for (limit_node* node = &leaf; node; node = node->parent) {
            assert(node->room() >= n && "a take beyond a limit's max");
            node->in_use += n;
            mark_changed(*node);
        }
    }

    void free_chain(limit_node& leaf, std::size_t n) noexcept
    {
        if (n == 0)
            return;
        for (limit_node* node = &leaf; node; node = node->parent) {
            assert(node->in_use >= n);
            const bool was_over = node->excess() != 0;
            node->in_use -= n;
            note_over_change(was_over, node->excess() != 0);
            mark_changed(*node);
        }
    }

    void note_over_change(bool was_over, bool is_over) noexcept
    {
        if (was_over && !is_over)
            --nodes_over_;
        else if (!was_over && is_over)
            ++nodes_over_;
    }

    void mark_changed(limit_node& n) noexcept
    {
        if (!n.changed_hook.is_linked())
            changed_.push_back(n);
    }

    static const limit_node& root_of(const limit_entry& e) noexcept
    {
        const limit_node* n = e.leaf;
        while (n->parent)
            n = n->parent;
        return *n;
    }

    template <class T, boost::intrusive::list_member_hook<> T::* Hook>
    using list_of = boost::intrusive::list<
        T, boost::intrusive::member_hook<T, boost::intrusive::list_member_hook<>, Hook>>;

    list_of<limit_entry, &limit_entry::all_hook> all_;
    list_of<limit_entry, &limit_entry::fifo_hook> fifo_;
    list_of<limit_node, &limit_node::changed_hook> changed_;
    std::size_t nodes_over_ = 0;
};

}  // namespace connpool::detail

#endif
