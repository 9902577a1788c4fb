// Unit tests of core/limit_ledger.hpp: the decisions of a tree of shared connection limits,
// plain calls on plain data (no mutex, no thread, no member). Nodes and entries are declared
// before the ledger, so the ledger is destroyed first (it unlinks them).
#include <connpool/detail/core/limit_ledger.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

using connpool::detail::blocking_limit;
using connpool::detail::counts;
using connpool::detail::least_recently_used;
using connpool::detail::limit_entry;
using connpool::detail::limit_ledger;
using connpool::detail::limit_node;

namespace {

// The grants of one grant_waiters pass, in order.
struct grant {
    const limit_entry* to;
    std::size_t units;
    bool operator==(const grant&) const = default;
};

std::vector<grant> grant_all(limit_ledger& l)
{
    std::vector<grant> out;
    l.grant_waiters([&](limit_entry& e, std::size_t n) { out.push_back({&e, n}); });
    return out;
}

std::vector<const limit_entry*> fifo_of(const limit_ledger& l)
{
    std::vector<const limit_entry*> out;
    l.for_each_waiter([&](const limit_entry& e) { out.push_back(&e); });
    return out;
}

// Every node counts exactly the held and banked units of the entries on its chain.
void require_counts_add_up(std::initializer_list<const limit_node*> nodes,
                           std::initializer_list<const limit_entry*> entries)
{
    for (const limit_node* n : nodes) {
        std::size_t sum = 0;
        for (const limit_entry* e : entries)
            if (counts(*n, *e))
                sum += e->held + e->banked;
        REQUIRE(n->in_use == sum);
    }
}

}  // namespace

// ----------------------------------------------------------------------------------- counting

TEST_CASE("a take is counted in the leaf and every ancestor", "[limit][ledger]")
{
    limit_node root(10), child(5, &root);
    limit_entry a(child);
    limit_ledger l;
    l.join(a);

    CHECK(l.take(a, 3, 0) == 3);
    CHECK(a.held == 3);
    CHECK(child.in_use == 3);
    CHECK(root.in_use == 3);
    CHECK_FALSE(a.waiting());

    l.release(a, 2);
    CHECK(a.held == 1);
    CHECK(child.in_use == 1);
    CHECK(root.in_use == 1);
    l.release(a, 1);
    l.leave(a);
}

TEST_CASE("nested caps hold: a child's max and its parent's", "[limit][ledger]")
{
    limit_node root(3), left(2, &root), right(2, &root);
    limit_entry a(left), b(right), c(left);
    limit_ledger l;
    for (limit_entry* e : {&a, &b, &c})
        l.join(*e);

    CHECK(l.take(a, 5, 0) == 2);  // the child's max
    CHECK(l.take(c, 1, 0) == 0);  // the child is full, though the parent is not
    CHECK(l.take(b, 5, 0) == 1);  // the parent's max
    CHECK(left.in_use == 2);
    CHECK(right.in_use == 1);
    CHECK(root.in_use == 3);
    require_counts_add_up({&root, &left, &right}, {&a, &b, &c});
}

TEST_CASE("a take finds room only when every limit of the chain has some", "[limit][ledger]")
{
    limit_node root(2), child(5, &root);
    limit_entry a(child), b(child);
    limit_ledger l;
    l.join(a);
    l.join(b);

    CHECK(l.take(a, 2, 0) == 2);
    CHECK(l.take(b, 1, 0) == 0);
    CHECK(blocking_limit(b) == &root);  // the child has room, its parent has none
    CHECK(b.waiting());
}

// ----------------------------------------------------------------------------------- the FIFO

TEST_CASE("a freed unit goes to the waiter that asked first", "[limit][ledger]")
{
    limit_node root(1);
    limit_entry holder(root), first(root), second(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &first, &second})
        l.join(*e);

    REQUIRE(l.take(holder, 1, 0) == 1);
    CHECK(l.take(first, 1, 10) == 0);
    CHECK(l.take(second, 1, 20) == 0);
    CHECK(fifo_of(l) == std::vector<const limit_entry*>{&first, &second});
    CHECK(l.waiting() == 2);

    l.release(holder, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&first, 1}});
    CHECK(first.banked == 1);
    CHECK_FALSE(first.waiting());
    CHECK(root.in_use == 1);  // banked units are counted
    CHECK(fifo_of(l) == std::vector<const limit_entry*>{&second});

    // The member collects its banked unit with its next take.
    CHECK(l.take(first, 1, 30) == 1);
    CHECK(first.held == 1);
    CHECK(first.banked == 0);
    require_counts_add_up({&root}, {&holder, &first, &second});
}

TEST_CASE("the FIFO order holds across sibling limits under a shared parent", "[limit][ledger]")
{
    limit_node root(2), left(5, &root), right(5, &root);
    limit_entry hl(left), hr(right), wr(right), wl(left);
    limit_ledger l;
    for (limit_entry* e : {&hl, &hr, &wr, &wl})
        l.join(*e);

    REQUIRE(l.take(hl, 1, 0) == 1);
    REQUIRE(l.take(hr, 1, 0) == 1);
    CHECK(l.take(wr, 1, 10) == 0);  // under the right child, first
    CHECK(l.take(wl, 1, 20) == 0);  // under the left child, second

    // The unit freed under the left child goes to the right child's waiter: it asked first.
    l.release(hl, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&wr, 1}});
    l.release(hr, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&wl, 1}});
    CHECK(l.waiting() == 0);
    require_counts_add_up({&root, &left, &right}, {&hl, &hr, &wr, &wl});
}

TEST_CASE("a waiter blocked by another full limit does not hold up one behind it that fits",
          "[limit][ledger]")
{
    limit_node root(4), narrow(1, &root), wide(4, &root);
    limit_entry in_narrow(narrow), in_wide(wide), blocked(narrow), fits(wide);
    limit_ledger l;
    for (limit_entry* e : {&in_narrow, &in_wide, &blocked, &fits})
        l.join(*e);

    REQUIRE(l.take(in_narrow, 1, 0) == 1);  // the narrow child is full
    REQUIRE(l.take(in_wide, 3, 0) == 3);    // the root is full
    CHECK(l.take(blocked, 1, 10) == 0);
    CHECK(blocking_limit(blocked) == &narrow);
    CHECK(l.take(fits, 1, 20) == 0);
    CHECK(blocking_limit(fits) == &root);

    l.release(in_wide, 1);  // room at the root, none in the narrow child
    CHECK(grant_all(l) == std::vector<grant>{{&fits, 1}});
    CHECK(blocked.waiting());
    CHECK(blocked.banked == 0);
    require_counts_add_up({&root, &narrow, &wide}, {&in_narrow, &in_wide, &blocked, &fits});
}

TEST_CASE("a waiter gets no more than it misses, and the rest goes to the next", "[limit][ledger]")
{
    limit_node root(4);
    limit_entry holder(root), a(root), b(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &a, &b})
        l.join(*e);

    REQUIRE(l.take(holder, 4, 0) == 4);
    CHECK(l.take(a, 2, 10) == 0);
    CHECK(l.take(b, 3, 20) == 0);
    l.release(holder, 3);
    CHECK(grant_all(l) == std::vector<grant>{{&a, 2}, {&b, 1}});
    CHECK(a.banked == 2);
    CHECK(b.banked == 1);
    CHECK(b.missing == 2);
    CHECK(fifo_of(l) == std::vector<const limit_entry*>{&b});
}

TEST_CASE("a waiter that asks again keeps its place from its first unanswered ask",
          "[limit][ledger]")
{
    limit_node root(1);
    limit_entry holder(root), a(root), b(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &a, &b})
        l.join(*e);

    REQUIRE(l.take(holder, 1, 0) == 1);
    CHECK(l.take(a, 1, 10) == 0);
    CHECK(l.take(b, 1, 20) == 0);
    CHECK(l.take(a, 2, 30) == 0);  // asks again, for more
    CHECK(a.asked_ns == 10);
    CHECK(a.missing == 2);
    CHECK(fifo_of(l) == std::vector<const limit_entry*>{&a, &b});

    // Answered in full, it leaves the FIFO; its next ask is a new one, at the back.
    l.release(holder, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&a, 1}});
    CHECK(l.take(a, 1, 40) == 1);
    CHECK_FALSE(a.waiting());
    CHECK(l.take(a, 1, 50) == 0);
    CHECK(a.asked_ns == 50);
    CHECK(fifo_of(l) == std::vector<const limit_entry*>{&b, &a});
}

TEST_CASE("take(0) withdraws the demand and gives banked units to the next waiter",
          "[limit][ledger]")
{
    limit_node root(2);
    limit_entry holder(root), a(root), b(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &a, &b})
        l.join(*e);

    REQUIRE(l.take(holder, 2, 0) == 2);
    CHECK(l.take(a, 2, 10) == 0);
    CHECK(l.take(b, 1, 20) == 0);
    l.release(holder, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&a, 1}});
    CHECK(a.banked == 1);

    CHECK(l.take(a, 0, 30) == 0);
    CHECK_FALSE(a.waiting());
    CHECK(a.banked == 0);
    CHECK(root.in_use == 1);                             // the banked unit is free again...
    CHECK(grant_all(l) == std::vector<grant>{{&b, 1}});  // ...and b gets it
    require_counts_add_up({&root}, {&holder, &a, &b});
}

TEST_CASE("banked units beyond what the member now wants are given back", "[limit][ledger]")
{
    limit_node root(3);
    limit_entry holder(root), a(root), b(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &a, &b})
        l.join(*e);

    REQUIRE(l.take(holder, 3, 0) == 3);
    CHECK(l.take(a, 2, 10) == 0);
    CHECK(l.take(b, 1, 20) == 0);
    l.release(holder, 2);
    CHECK(grant_all(l) == std::vector<grant>{{&a, 2}});

    CHECK(l.take(a, 1, 30) == 1);  // its demand shrank to one
    CHECK(a.held == 1);
    CHECK(a.banked == 0);
    CHECK_FALSE(a.waiting());
    CHECK(grant_all(l) == std::vector<grant>{{&b, 1}});
    require_counts_add_up({&root}, {&holder, &a, &b});
}

TEST_CASE("a newcomer takes free room that no waiter can use", "[limit][ledger]")
{
    limit_node root(3), narrow(1, &root), wide(3, &root);
    limit_entry in_narrow(narrow), waiter(narrow), newcomer(wide);
    limit_ledger l;
    for (limit_entry* e : {&in_narrow, &waiter, &newcomer})
        l.join(*e);

    REQUIRE(l.take(in_narrow, 1, 0) == 1);
    CHECK(l.take(waiter, 1, 10) == 0);  // blocked by its own child
    CHECK(grant_all(l).empty());
    CHECK(l.take(newcomer, 2, 20) == 2);
}

TEST_CASE("leaving withdraws the demand and gives banked units back", "[limit][ledger]")
{
    limit_node root(1);
    limit_entry holder(root), a(root), b(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &a, &b})
        l.join(*e);

    REQUIRE(l.take(holder, 1, 0) == 1);
    CHECK(l.take(a, 1, 10) == 0);
    CHECK(l.take(b, 1, 20) == 0);
    l.release(holder, 1);
    CHECK(grant_all(l) == std::vector<grant>{{&a, 1}});
    l.leave(a);
    CHECK(grant_all(l) == std::vector<grant>{{&b, 1}});
}

TEST_CASE("waiters whose member is gone are withdrawn, not granted", "[limit][ledger]")
{
    limit_node root(1);
    limit_entry holder(root), gone(root), alive(root);
    limit_ledger l;
    for (limit_entry* e : {&holder, &gone, &alive})
        l.join(*e);

    REQUIRE(l.take(holder, 1, 0) == 1);
    CHECK(l.take(gone, 1, 10) == 0);
    CHECK(l.take(alive, 1, 20) == 0);
    l.release(holder, 1);
    std::vector<grant> grants;
    l.grant_waiters([&](limit_entry& e, std::size_t n) { grants.push_back({&e, n}); },
                    [&](const limit_entry& e) { return &e == &gone; });
    CHECK(grants == std::vector<grant>{{&alive, 1}});
    CHECK_FALSE(gone.waiting());
}

// ----------------------------------------------------------------------------------- set_max

TEST_CASE("a lowered max takes nothing until in_use is below it, and grants nothing while "
          "it drains",
          "[limit][ledger]")
{
    limit_node root(4);
    limit_entry a(root), b(root);
    limit_ledger l;
    l.join(a);
    l.join(b);

    REQUIRE(l.take(a, 4, 0) == 4);
    l.set_max(root, 2);
    CHECK(root.excess() == 2);
    CHECK(l.nodes_over() == 1);
    CHECK(limit_ledger::over_max(a));

    CHECK(l.take(b, 1, 10) == 0);
    l.release(a, 1);  // 3 of 2
    CHECK(grant_all(l).empty());
    CHECK(root.in_use == 3);
    l.release(a, 1);  // 2 of 2: within, but full
    CHECK(grant_all(l).empty());
    CHECK(l.nodes_over() == 0);
    CHECK_FALSE(limit_ledger::over_max(a));
    l.release(a, 1);  // 1 of 2
    CHECK(grant_all(l) == std::vector<grant>{{&b, 1}});
    CHECK(root.in_use == 2);
}

TEST_CASE("a raised max gives its new room to the waiters", "[limit][ledger]")
{
    limit_node root(1);
    limit_entry a(root), b(root), c(root);
    limit_ledger l;
    for (limit_entry* e : {&a, &b, &c})
        l.join(*e);

    REQUIRE(l.take(a, 1, 0) == 1);
    CHECK(l.take(b, 2, 10) == 0);
    CHECK(l.take(c, 1, 20) == 0);
    l.set_max(root, 3);
    CHECK(grant_all(l) == std::vector<grant>{{&b, 2}});
    l.set_max(root, 4);
    CHECK(grant_all(l) == std::vector<grant>{{&c, 1}});
}

TEST_CASE("over_max looks at the whole chain", "[limit][ledger]")
{
    limit_node root(10), left(5, &root), right(5, &root);
    limit_entry a(left), b(right);
    limit_ledger l;
    l.join(a);
    l.join(b);
    REQUIRE(l.take(a, 3, 0) == 3);
    REQUIRE(l.take(b, 3, 0) == 3);

    l.set_max(left, 2);
    CHECK(limit_ledger::over_max(a));
    CHECK_FALSE(limit_ledger::over_max(b));  // the sibling's chain is within its maxes
    l.set_max(root, 5);
    CHECK(limit_ledger::over_max(b));
    CHECK(l.nodes_over() == 2);
}

// ----------------------------------------------------------------------------------- questions

TEST_CASE("others_waiting_before: another waiter that asked earlier, whom a unit of ours helps",
          "[limit][ledger]")
{
    limit_node root(2), left(2, &root), right(2, &root);
    limit_entry me(left), other(right), late(right);
    limit_ledger l;
    for (limit_entry* e : {&me, &other, &late})
        l.join(*e);

    REQUIRE(l.take(me, 2, 0) == 2);
    CHECK_FALSE(l.others_waiting_before(me, INT64_MAX));  // nobody waits
    CHECK(l.take(other, 1, 100) == 0);

    CHECK(l.others_waiting_before(me, INT64_MAX));  // my member has no waiter of its own
    CHECK(l.others_waiting_before(me, 101));        // mine waits since 101: other asked first
    CHECK_FALSE(l.others_waiting_before(me, 100));  // mine waits since 100: not before
    CHECK_FALSE(l.others_waiting_before(other, INT64_MAX));  // itself does not count
}

TEST_CASE("others_waiting_before ignores a waiter that a unit of ours would not help",
          "[limit][ledger]")
{
    limit_node root(10), left(2, &root), right(1, &root);
    limit_entry me(left), holder(right), other(right);
    limit_ledger l;
    for (limit_entry* e : {&me, &holder, &other})
        l.join(*e);

    REQUIRE(l.take(me, 2, 0) == 2);
    REQUIRE(l.take(holder, 1, 0) == 1);
    CHECK(l.take(other, 1, 100) == 0);  // blocked by the right child, which my units are not in
    CHECK_FALSE(l.others_waiting_before(me, INT64_MAX));
    CHECK(l.others_waiting_before(holder, INT64_MAX));  // the holder's unit would help

    // A node over its max stays without room after one unit is freed.
    limit_node solo(3);
    limit_entry x(solo), y(solo);
    limit_ledger l2;
    l2.join(x);
    l2.join(y);
    REQUIRE(l2.take(x, 3, 0) == 3);
    CHECK(l2.take(y, 1, 100) == 0);
    CHECK(l2.others_waiting_before(x, INT64_MAX));
    l2.set_max(solo, 1);
    CHECK_FALSE(l2.others_waiting_before(x, INT64_MAX));
}

TEST_CASE("the blocking limit is the lowest full one of the chain", "[limit][ledger]")
{
    limit_node root(2), child(1, &root);
    limit_entry a(child), b(child);
    limit_ledger l;
    l.join(a);
    l.join(b);
    CHECK(blocking_limit(a) == nullptr);
    REQUIRE(l.take(a, 1, 0) == 1);
    CHECK(blocking_limit(b) == &child);
    l.set_max(child, 2);
    CHECK(blocking_limit(b) == nullptr);
    REQUIRE(l.take(b, 1, 0) == 1);
    CHECK(blocking_limit(b) == &child);  // both full: the lower one
}

TEST_CASE("for_each_counted_by visits the entries under a limit, its children's too",
          "[limit][ledger]")
{
    limit_node root(10), left(5, &root), right(5, &root);
    limit_entry a(left), b(right), c(root), d(left);
    limit_ledger l;
    for (limit_entry* e : {&a, &b, &c, &d})
        l.join(*e);

    auto under = [&](const limit_node& n, const limit_entry* except) {
        std::vector<const limit_entry*> out;
        l.for_each_counted_by(n, [&](const limit_entry& e) { out.push_back(&e); }, except);
        return out;
    };
    CHECK(under(root, nullptr) == std::vector<const limit_entry*>{&a, &b, &c, &d});
    CHECK(under(left, nullptr) == std::vector<const limit_entry*>{&a, &d});
    CHECK(under(left, &a) == std::vector<const limit_entry*>{&d});
    CHECK(under(right, nullptr) == std::vector<const limit_entry*>{&b});
}

TEST_CASE("least_recently_used picks the oldest last use among those that have one",
          "[limit][ledger]")
{
    using stamps = std::vector<std::optional<std::int64_t>>;
    CHECK_FALSE(least_recently_used(stamps{}));
    CHECK_FALSE(least_recently_used(stamps{std::nullopt, std::nullopt}));
    CHECK(least_recently_used(stamps{30, std::nullopt, 10, 20}) == 2u);
    CHECK(least_recently_used(stamps{std::nullopt, 5, 5}) == 1u);  // ties: the first
    CHECK(least_recently_used(stamps{-7, 0}) == 0u);
}

TEST_CASE("take_changed reports each changed node once", "[limit][ledger]")
{
    limit_node root(10), left(5, &root), right(5, &root);
    limit_entry a(left);
    limit_ledger l;
    l.join(a);
    REQUIRE(l.take(a, 1, 0) == 1);
    l.release(a, 1);
    l.set_max(right, 3);
    std::vector<const limit_node*> changed;
    l.take_changed([&](limit_node& n) { changed.push_back(&n); });
    CHECK(changed == std::vector<const limit_node*>{&left, &root, &right});
    changed.clear();
    l.take_changed([&](limit_node& n) { changed.push_back(&n); });
    CHECK(changed.empty());
}
