// Unit tests of core/limit_ledger.hpp: the decisions of a tree of shared connection limits,
// plain calls on plain data (no mutex, no thread, no member).
#include <connpool/detail/core/limit_ledger.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
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

// A root limit over two children, and entries made on demand, each joined to the ledger.
struct tree {
    tree(std::size_t root_max, std::size_t left_max, std::size_t right_max)
        : root(root_max), left(left_max, &root), right(right_max, &root)
    {
    }

    limit_entry& entry(limit_node& leaf)
    {
        limit_entry& e = entries.emplace_back(leaf);
        l.join(e);
        return e;
    }

    // Every node counts exactly the held and banked units of the entries on its chain.
    void require_counts_add_up() const
    {
        for (const limit_node* n : {&root, &left, &right}) {
            std::size_t sum = 0;
            for (const limit_entry& e : entries)
                if (counts(*n, e))
                    sum += e.held + e.banked;
            REQUIRE(n->in_use == sum);
        }
    }

    limit_node root, left, right;
    std::deque<limit_entry> entries;
    limit_ledger l;  // last: destroyed first, it unlinks the entries and nodes
};

// One limit (the root), full: `holder` holds all of it; `a` (asked at 10) and then `b` (at 20)
// wait.
struct full_limit : tree {
    explicit full_limit(std::size_t max, std::size_t a_wants = 1, std::size_t b_wants = 1)
        : tree(max, max, max), holder(entry(root)), a(entry(root)), b(entry(root))
    {
        REQUIRE(l.take(holder, max, 0) == max);
        REQUIRE(l.take(a, a_wants, 10) == 0);
        REQUIRE(l.take(b, b_wants, 20) == 0);
    }

    limit_entry &holder, &a, &b;
};

}  // namespace

// ----------------------------------------------------------------------------------- counting

TEST_CASE("a take is counted in the leaf and every ancestor", "[limit][ledger]")
{
    tree t(10, 5, 5);
    limit_entry& a = t.entry(t.left);

    CHECK(t.l.take(a, 3, 0) == 3);
    CHECK(a.held == 3);
    CHECK(t.left.in_use == 3);
    CHECK(t.root.in_use == 3);
    CHECK(t.right.in_use == 0);
    CHECK_FALSE(a.waiting());

    t.l.release(a, 2);
    CHECK(a.held == 1);
    CHECK(t.left.in_use == 1);
    CHECK(t.root.in_use == 1);
}

TEST_CASE("nested caps hold: a child's max and its parent's", "[limit][ledger]")
{
    tree t(3, 2, 2);
    limit_entry &a = t.entry(t.left), &b = t.entry(t.right), &c = t.entry(t.left);

    CHECK(t.l.take(a, 5, 0) == 2);  // the child's max
    CHECK(t.l.take(c, 1, 0) == 0);  // the child is full, though the parent is not
    CHECK(t.l.take(b, 5, 0) == 1);  // the parent's max
    CHECK(t.left.in_use == 2);
    CHECK(t.right.in_use == 1);
    CHECK(t.root.in_use == 3);
    t.require_counts_add_up();
}

TEST_CASE("a take finds room only when every limit of the chain has some", "[limit][ledger]")
{
    tree t(2, 5, 5);
    limit_entry &a = t.entry(t.left), &b = t.entry(t.left);

    CHECK(t.l.take(a, 2, 0) == 2);
    CHECK(t.l.take(b, 1, 0) == 0);
    CHECK(blocking_limit(b) == &t.root);  // the child has room, its parent has none
    CHECK(b.waiting());
}

// ----------------------------------------------------------------------------------- the FIFO

TEST_CASE("a freed unit goes to the waiter that asked first", "[limit][ledger]")
{
    full_limit s(1);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.a, &s.b});
    CHECK(s.l.waiting() == 2);

    s.l.release(s.holder, 1);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 1}});
    CHECK(s.a.banked == 1);
    CHECK_FALSE(s.a.waiting());
    CHECK(s.root.in_use == 1);  // banked units are counted
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.b});

    // The member collects its banked unit with its next take.
    CHECK(s.l.take(s.a, 1, 30) == 1);
    CHECK(s.a.held == 1);
    CHECK(s.a.banked == 0);
    s.require_counts_add_up();
}

TEST_CASE("the FIFO order holds across sibling limits under a shared parent", "[limit][ledger]")
{
    tree t(2, 5, 5);
    limit_entry &hl = t.entry(t.left), &hr = t.entry(t.right);
    limit_entry &wr = t.entry(t.right), &wl = t.entry(t.left);

    REQUIRE(t.l.take(hl, 1, 0) == 1);
    REQUIRE(t.l.take(hr, 1, 0) == 1);
    CHECK(t.l.take(wr, 1, 10) == 0);  // under the right child, first
    CHECK(t.l.take(wl, 1, 20) == 0);  // under the left child, second

    // The unit freed under the left child goes to the right child's waiter: it asked first.
    t.l.release(hl, 1);
    CHECK(grant_all(t.l) == std::vector<grant>{{&wr, 1}});
    t.l.release(hr, 1);
    CHECK(grant_all(t.l) == std::vector<grant>{{&wl, 1}});
    CHECK(t.l.waiting() == 0);
    t.require_counts_add_up();
}

TEST_CASE("a waiter blocked by another full limit does not hold up one behind it that fits",
          "[limit][ledger]")
{
    tree t(4, 1, 4);  // a narrow left child, a wide right one
    limit_entry &in_narrow = t.entry(t.left), &in_wide = t.entry(t.right);
    limit_entry &blocked = t.entry(t.left), &fits = t.entry(t.right);

    REQUIRE(t.l.take(in_narrow, 1, 0) == 1);  // the narrow child is full
    REQUIRE(t.l.take(in_wide, 3, 0) == 3);    // the root is full
    CHECK(t.l.take(blocked, 1, 10) == 0);
    CHECK(blocking_limit(blocked) == &t.left);
    CHECK(t.l.take(fits, 1, 20) == 0);
    CHECK(blocking_limit(fits) == &t.root);

    t.l.release(in_wide, 1);  // room at the root, none in the narrow child
    CHECK(grant_all(t.l) == std::vector<grant>{{&fits, 1}});
    CHECK(blocked.waiting());
    CHECK(blocked.banked == 0);
    t.require_counts_add_up();
}

TEST_CASE("a waiter gets no more than it misses, and the rest goes to the next", "[limit][ledger]")
{
    full_limit s(4, 2, 3);
    s.l.release(s.holder, 3);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 2}, {&s.b, 1}});
    CHECK(s.a.banked == 2);
    CHECK(s.b.banked == 1);
    CHECK(s.b.missing == 2);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.b});
}

TEST_CASE("a waiter's place is the age of its oldest unmet demand", "[limit][ledger]")
{
    full_limit s(1);
    CHECK(s.l.take(s.a, 2, 10) == 0);  // asks again, for more, for the same oldest demand
    CHECK(s.a.asked_ns == 10);
    CHECK(s.a.missing == 2);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.a, &s.b});

    // Its oldest demand was met elsewhere (a pool served its oldest waiter itself): its next
    // oldest arrived at 30, after b's, so it goes behind b.
    CHECK(s.l.take(s.a, 1, 30) == 0);
    CHECK(s.a.asked_ns == 30);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.b, &s.a});

    // An older demand (say, a waiter that queued at 5 while its pool was backing off) goes
    // before b again.
    CHECK(s.l.take(s.a, 1, 5) == 0);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.a, &s.b});

    // Answered in full, it leaves the FIFO; a new ask is placed by its own age.
    s.l.release(s.holder, 1);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 1}});
    CHECK(s.l.take(s.a, 1, 40) == 1);
    CHECK_FALSE(s.a.waiting());
    CHECK(s.l.take(s.a, 1, 50) == 0);
    CHECK(s.a.asked_ns == 50);
    CHECK(fifo_of(s.l) == std::vector<const limit_entry*>{&s.b, &s.a});
}

TEST_CASE("take(0) withdraws the demand and gives banked units to the next waiter",
          "[limit][ledger]")
{
    full_limit s(2, 2, 1);
    s.l.release(s.holder, 1);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 1}});
    CHECK(s.a.banked == 1);

    CHECK(s.l.take(s.a, 0, 30) == 0);
    CHECK_FALSE(s.a.waiting());
    CHECK(s.a.banked == 0);
    CHECK(s.root.in_use == 1);                               // the banked unit is free again...
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.b, 1}});  // ...and b gets it
    s.require_counts_add_up();
}

TEST_CASE("banked units beyond what the member now wants are given back", "[limit][ledger]")
{
    full_limit s(3, 2, 1);
    s.l.release(s.holder, 2);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 2}});

    CHECK(s.l.take(s.a, 1, 30) == 1);  // its demand shrank to one
    CHECK(s.a.held == 1);
    CHECK(s.a.banked == 0);
    CHECK_FALSE(s.a.waiting());
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.b, 1}});
    s.require_counts_add_up();
}

TEST_CASE("a newcomer takes free room that no waiter can use", "[limit][ledger]")
{
    tree t(3, 1, 3);
    limit_entry &in_narrow = t.entry(t.left), &waiter = t.entry(t.left);
    limit_entry& newcomer = t.entry(t.right);

    REQUIRE(t.l.take(in_narrow, 1, 0) == 1);
    CHECK(t.l.take(waiter, 1, 10) == 0);  // blocked by its own child
    CHECK(grant_all(t.l).empty());
    CHECK(t.l.take(newcomer, 2, 20) == 2);
}

TEST_CASE("leaving withdraws the demand and gives banked units back", "[limit][ledger]")
{
    full_limit s(1);
    s.l.release(s.holder, 1);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 1}});
    s.l.leave(s.a);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.b, 1}});
}

TEST_CASE("waiters whose member is gone are withdrawn, not granted", "[limit][ledger]")
{
    full_limit s(1);
    s.l.release(s.holder, 1);
    std::vector<grant> grants;
    s.l.grant_waiters([&](limit_entry& e, std::size_t n) { grants.push_back({&e, n}); },
                      [&](const limit_entry& e) { return &e == &s.a; });
    CHECK(grants == std::vector<grant>{{&s.b, 1}});
    CHECK_FALSE(s.a.waiting());
}

// ----------------------------------------------------------------------------------- set_max

TEST_CASE("a lowered max takes nothing until in_use is below it, and grants nothing while "
          "it drains",
          "[limit][ledger]")
{
    tree t(4, 4, 4);
    limit_entry &a = t.entry(t.root), &b = t.entry(t.root);

    REQUIRE(t.l.take(a, 4, 0) == 4);
    t.l.set_max(t.root, 2);
    CHECK(t.root.excess() == 2);
    CHECK(t.l.nodes_over() == 1);
    CHECK(limit_ledger::over_max(a));

    CHECK(t.l.take(b, 1, 10) == 0);
    t.l.release(a, 1);  // 3 of 2
    CHECK(grant_all(t.l).empty());
    CHECK(t.root.in_use == 3);
    t.l.release(a, 1);  // 2 of 2: within, but full
    CHECK(grant_all(t.l).empty());
    CHECK(t.l.nodes_over() == 0);
    CHECK_FALSE(limit_ledger::over_max(a));
    t.l.release(a, 1);  // 1 of 2
    CHECK(grant_all(t.l) == std::vector<grant>{{&b, 1}});
    CHECK(t.root.in_use == 2);
}

TEST_CASE("a raised max gives its new room to the waiters", "[limit][ledger]")
{
    full_limit s(1, 2, 1);
    s.l.set_max(s.root, 3);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.a, 2}});
    s.l.set_max(s.root, 4);
    CHECK(grant_all(s.l) == std::vector<grant>{{&s.b, 1}});
}

TEST_CASE("over_max looks at the whole chain", "[limit][ledger]")
{
    tree t(10, 5, 5);
    limit_entry &a = t.entry(t.left), &b = t.entry(t.right);
    REQUIRE(t.l.take(a, 3, 0) == 3);
    REQUIRE(t.l.take(b, 3, 0) == 3);

    t.l.set_max(t.left, 2);
    CHECK(limit_ledger::over_max(a));
    CHECK_FALSE(limit_ledger::over_max(b));  // the sibling's chain is within its maxes
    t.l.set_max(t.root, 5);
    CHECK(limit_ledger::over_max(b));
    CHECK(t.l.nodes_over() == 2);
}

// ----------------------------------------------------------------------------------- questions

TEST_CASE("others_waiting_before: another waiter that asked earlier, whom a unit of ours helps",
          "[limit][ledger]")
{
    tree t(2, 2, 2);
    limit_entry &me = t.entry(t.left), &other = t.entry(t.right);

    REQUIRE(t.l.take(me, 2, 0) == 2);
    CHECK_FALSE(t.l.others_waiting_before(me, INT64_MAX));  // nobody waits
    CHECK(t.l.take(other, 1, 100) == 0);

    CHECK(t.l.others_waiting_before(me, INT64_MAX));  // my member has no waiter of its own
    CHECK(t.l.others_waiting_before(me, 101));        // mine waits since 101: other asked first
    CHECK_FALSE(t.l.others_waiting_before(me, 100));  // mine waits since 100: not before
    CHECK_FALSE(t.l.others_waiting_before(other, INT64_MAX));  // itself does not count
}

TEST_CASE("others_waiting_before ignores a waiter that a unit of ours would not help",
          "[limit][ledger]")
{
    tree t(10, 2, 1);
    limit_entry &me = t.entry(t.left), &holder = t.entry(t.right), &other = t.entry(t.right);

    REQUIRE(t.l.take(me, 2, 0) == 2);
    REQUIRE(t.l.take(holder, 1, 0) == 1);
    CHECK(t.l.take(other, 1, 100) == 0);  // blocked by the right child, which mine are not in
    CHECK_FALSE(t.l.others_waiting_before(me, INT64_MAX));
    CHECK(t.l.others_waiting_before(holder, INT64_MAX));  // the holder's unit would help

    // A node over its max stays without room after one unit is freed.
    full_limit s(3);
    CHECK(s.l.others_waiting_before(s.holder, INT64_MAX));
    s.l.set_max(s.root, 1);
    CHECK_FALSE(s.l.others_waiting_before(s.holder, INT64_MAX));
}

TEST_CASE("the blocking limit is the lowest full one of the chain", "[limit][ledger]")
{
    tree t(2, 1, 1);
    limit_entry &a = t.entry(t.left), &b = t.entry(t.left);
    CHECK(blocking_limit(a) == nullptr);
    REQUIRE(t.l.take(a, 1, 0) == 1);
    CHECK(blocking_limit(b) == &t.left);
    t.l.set_max(t.left, 2);
    CHECK(blocking_limit(b) == nullptr);
    REQUIRE(t.l.take(b, 1, 0) == 1);
    CHECK(blocking_limit(b) == &t.left);  // both full: the lower one
}

TEST_CASE("for_each_counted_by visits the entries under a limit, its children's too",
          "[limit][ledger]")
{
    tree t(10, 5, 5);
    limit_entry &a = t.entry(t.left), &b = t.entry(t.right), &c = t.entry(t.root),
                &d = t.entry(t.left);

    auto under = [&](const limit_node& n, const limit_entry* except) {
        std::vector<const limit_entry*> out;
        t.l.for_each_counted_by(n, [&](const limit_entry& e) { out.push_back(&e); }, except);
        return out;
    };
    CHECK(under(t.root, nullptr) == std::vector<const limit_entry*>{&a, &b, &c, &d});
    CHECK(under(t.left, nullptr) == std::vector<const limit_entry*>{&a, &d});
    CHECK(under(t.left, &a) == std::vector<const limit_entry*>{&d});
    CHECK(under(t.right, nullptr) == std::vector<const limit_entry*>{&b});
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
    tree t(10, 5, 5);
    limit_entry& a = t.entry(t.left);
    REQUIRE(t.l.take(a, 1, 0) == 1);
    t.l.release(a, 1);
    t.l.set_max(t.right, 3);
    std::vector<const limit_node*> changed;
    t.l.take_changed([&](limit_node& n) { changed.push_back(&n); });
    CHECK(changed == std::vector<const limit_node*>{&t.left, &t.root, &t.right});
    changed.clear();
    t.l.take_changed([&](limit_node& n) { changed.push_back(&n); });
    CHECK(changed.empty());
}
