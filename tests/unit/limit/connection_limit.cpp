// Unit tests of connpool::connection_limit and its accounts (detail/limit/): the counts a user
// reads, the calls the limit makes to its members and when, with fake members that record them.
// One thread, plain calls: a fake member plays a pool (its connections are stamps; closing one
// releases its unit at once, as a pool does once the destructor has returned).
#include <connpool/connection_limit.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using connpool::connection_limit;
using connpool::detail::limit_account;
using connpool::detail::limit_member;

namespace {

// What the members were asked, in order, by all of them.
using call_log = std::vector<std::string>;

class fake_member final : public limit_member {
public:
    fake_member(std::string name, call_log& log) : name_(std::move(name)), log_(log) {}
    fake_member(const fake_member&) = delete;
    fake_member& operator=(const fake_member&) = delete;

    // As a pool's end: its connections are gone, then its account leaves.
    ~fake_member()
    {
        if (account && open() != 0)
            account->release(open());
    }

    static std::shared_ptr<fake_member> join(connection_limit& limit, std::string name,
                                             call_log& log)
    {
        auto m = std::make_shared<fake_member>(std::move(name), log);
        m->account = limit.join(m);
        return m;
    }

    // ------------------------------------------------------------------ what the member does

    // Opens connections with units taken now (each a lent connection).
    std::size_t ask(std::size_t n, std::int64_t now = 0)
    {
        const std::size_t got = account->take(n, now);
        lent += got;
        return got;
    }

    // A lent connection comes back and is kept idle, last used at `stamp`.
    void park(std::int64_t stamp)
    {
        REQUIRE(lent > 0);
        --lent;
        idle.push_back(stamp);
    }

    // A lent connection is closed.
    void close_lent(std::size_t n = 1)
    {
        REQUIRE(lent >= n);
        lent -= n;
        account->release(n);
    }

    void close_everything()
    {
        const std::size_t n = lent + idle.size();
        lent = 0;
        idle.clear();
        account->release(n);
        account->take(0, 0);
    }

    std::size_t open() const { return lent + idle.size(); }

    // ------------------------------------------------------------------ limit_member

    void on_units_granted() noexcept override
    {
        ++granted;
        log_.push_back("granted " + name_);
        if (when_granted)
            when_granted();
    }

    std::optional<std::int64_t> idle_to_close(bool above_min_only) noexcept override
    {
        if (idle.empty() || (above_min_only && open() <= min_size))
            return std::nullopt;
        return *std::min_element(idle.begin(), idle.end());
    }

    bool close_idle(bool above_min_only) noexcept override
    {
        const auto stamp = idle_to_close(above_min_only);
        if (!stamp)
            return false;
        idle.erase(std::find(idle.begin(), idle.end(), *stamp));
        log_.push_back("close " + name_ + "@" + std::to_string(*stamp) +
                       (above_min_only ? " above min" : ""));
        account->release(1);  // as a pool does once the destructor has returned
        return true;
    }

    std::shared_ptr<limit_account> account;
    std::size_t lent = 0;
    std::vector<std::int64_t> idle;  // last uses of the idle connections
    std::size_t min_size = 0;
    int granted = 0;
    std::function<void()> when_granted;

private:
    std::string name_;
    call_log& log_;
};

// One limit, full: `holder` holds all of it; pools `a` (asked at 10) and then `b` (at 20) wait.
struct full_limit {
    explicit full_limit(std::size_t max, std::size_t a_wants = 1)
        : limit(std::make_shared<connection_limit>(max)),
          holder(fake_member::join(*limit, "holder", log)),
          a(fake_member::join(*limit, "a", log)),
          b(fake_member::join(*limit, "b", log))
    {
        REQUIRE(holder->ask(max) == max);
        REQUIRE(a->ask(a_wants, 10) == 0);
        REQUIRE(b->ask(1, 20) == 0);
    }

    call_log log;  // first: the members log into it until they are gone
    std::shared_ptr<connection_limit> limit;
    std::shared_ptr<fake_member> holder, a, b;
};

// A root limit over two children, and the log of what their pools are asked.
struct two_children {
    two_children(std::size_t root_max, std::size_t left_max, std::size_t right_max)
        : root(std::make_shared<connection_limit>(root_max)),
          left(std::make_shared<connection_limit>(left_max, root)),
          right(std::make_shared<connection_limit>(right_max, root))
    {
    }

    std::shared_ptr<fake_member> pool(connection_limit& limit, std::string name)
    {
        return fake_member::join(limit, std::move(name), log);
    }

    call_log log;  // first: the pools log into it until they are gone
    std::shared_ptr<connection_limit> root, left, right;
};

}  // namespace

// ----------------------------------------------------------------------------------- options

TEST_CASE("a max of 0 is rejected with std::invalid_argument naming max", "[limit]")
{
    CHECK_THROWS_MATCHES(connection_limit(0), std::invalid_argument,
                         Catch::Matchers::Message("connpool::connection_limit::max: must be at "
                                                  "least 1"));
    auto parent = std::make_shared<connection_limit>(4);
    CHECK_THROWS_AS(connection_limit(0, parent), std::invalid_argument);

    auto limit = std::make_shared<connection_limit>(3);
    CHECK_THROWS_WITH(limit->set_max(0), Catch::Matchers::Contains("::max:"));
    CHECK(limit->max() == 3);  // unchanged
}

TEST_CASE("a new limit counts nothing and reports its max", "[limit]")
{
    auto root = std::make_shared<connection_limit>(7);
    auto child = std::make_shared<connection_limit>(3, root);
    CHECK(root->max() == 7);
    CHECK(child->max() == 3);
    CHECK(root->in_use() == 0);
    CHECK(child->in_use() == 0);
    root->set_max(9);
    CHECK(root->max() == 9);
}

// ----------------------------------------------------------------------------------- counting

TEST_CASE("connections of pools under a child limit count against the child and its parent",
          "[limit]")
{
    two_children t(5, 3, 3);
    auto a = t.pool(*t.left, "a");
    auto b = t.pool(*t.right, "b");
    auto c = t.pool(*t.root, "c");

    CHECK(a->ask(4) == 3);  // the child's max
    CHECK(a->account->held() == 3);
    CHECK(b->ask(4) == 2);  // the parent's max
    CHECK(c->ask(1) == 0);
    CHECK(t.left->in_use() == 3);
    CHECK(t.right->in_use() == 2);
    CHECK(t.root->in_use() == 5);

    a->close_everything();
    b->close_everything();
    c->close_everything();
    CHECK(t.root->in_use() == 0);
    CHECK(t.left->in_use() == 0);
    CHECK(t.right->in_use() == 0);
}

// ----------------------------------------------------------------------------------- grants

TEST_CASE("a release grants the unit to the oldest waiting pool and tells it after unlocking",
          "[limit]")
{
    full_limit s(1);
    // Told, the member takes its unit at once: this calls the limit again, which would deadlock
    // (or abort) if the limit still held its mutex.
    s.a->when_granted = [&] { CHECK(s.a->ask(1, 30) == 1); };

    s.holder->close_lent();
    CHECK(s.log == call_log{"granted a"});
    CHECK(s.a->lent == 1);
    CHECK(s.a->account->held() == 1);
    CHECK(s.limit->in_use() == 1);
    CHECK(s.b->granted == 0);

    s.a->close_lent();
    CHECK(s.log == call_log{"granted a", "granted b"});
    CHECK(s.limit->in_use() == 1);  // banked for b, counted until it takes or gives it back
    CHECK(s.b->ask(1, 40) == 1);
    s.b->close_everything();
    CHECK(s.limit->in_use() == 0);
}

TEST_CASE("a pool that releases while it waits itself is granted its own unit", "[limit]")
{
    call_log log;
    auto root = std::make_shared<connection_limit>(2);
    auto a = fake_member::join(*root, "a", log);
    REQUIRE(a->ask(2) == 2);
    CHECK(a->ask(1, 10) == 0);  // wants a third
    a->close_lent();
    CHECK(log == call_log{"granted a"});
    CHECK(a->ask(1, 20) == 1);
    a->close_everything();
}

TEST_CASE("grants keep the order of asks across sibling limits under a shared parent", "[limit]")
{
    two_children t(2, 2, 2);
    auto hl = t.pool(*t.left, "hl");
    auto hr = t.pool(*t.right, "hr");
    auto wr = t.pool(*t.right, "wr");
    auto wl = t.pool(*t.left, "wl");

    REQUIRE(hl->ask(1) == 1);
    REQUIRE(hr->ask(1) == 1);
    CHECK(wr->ask(1, 10) == 0);
    CHECK(wl->ask(1, 20) == 0);
    hl->close_lent();  // freed under the left child, granted to the right child's older waiter
    hr->close_lent();
    CHECK(t.log == call_log{"granted wr", "granted wl"});
}

TEST_CASE("a pool blocked by its own full child limit does not hold up one behind it that fits",
          "[limit]")
{
    two_children t(4, 1, 4);  // a narrow left child, a wide right one
    auto in_narrow = t.pool(*t.left, "in_narrow");
    auto in_wide = t.pool(*t.right, "in_wide");
    auto blocked = t.pool(*t.left, "blocked");
    auto fits = t.pool(*t.right, "fits");

    REQUIRE(in_narrow->ask(1) == 1);
    REQUIRE(in_wide->ask(3) == 3);
    CHECK(blocked->ask(1, 10) == 0);
    CHECK(fits->ask(1, 20) == 0);
    in_wide->close_lent();
    CHECK(t.log == call_log{"granted fits"});
    CHECK(fits->ask(1, 30) == 1);
}

TEST_CASE("take(0) withdraws the demand; its banked units go to the next waiter, told by "
          "deliver_grants",
          "[limit]")
{
    full_limit s(1);
    s.holder->close_lent();
    REQUIRE(s.log == call_log{"granted a"});

    // a gives up (its acquirer timed out) with its mutex held: nobody is called from take()...
    CHECK(s.a->account->take(0, 30) == 0);
    CHECK(s.log == call_log{"granted a"});
    CHECK(s.limit->in_use() == 1);  // ...but the unit is b's already
    // ...and b is told once a has unlocked.
    s.a->account->deliver_grants();
    CHECK(s.log == call_log{"granted a", "granted b"});
    s.a->account->deliver_grants();  // nothing more to tell
    CHECK(s.b->granted == 1);
    CHECK(s.b->ask(1, 40) == 1);
}

TEST_CASE("banked units beyond what a pool now wants are given back to the next waiter", "[limit]")
{
    full_limit s(2, 2);
    s.holder->close_lent(2);
    REQUIRE(s.log == call_log{"granted a"});
    CHECK(s.a->ask(1, 30) == 1);  // only one is still wanted
    CHECK(s.a->account->held() == 1);
    s.a->account->deliver_grants();
    CHECK(s.log == call_log{"granted a", "granted b"});
    CHECK(s.b->ask(1, 40) == 1);
    CHECK(s.limit->in_use() == 2);
}

TEST_CASE("a pool's account leaving gives its banked units to the next waiter at once", "[limit]")
{
    full_limit s(1);
    s.holder->close_lent();
    s.a->account.reset();
    CHECK(s.log == call_log{"granted a", "granted b"});
    CHECK(s.limit->in_use() == 1);
}

// ----------------------------------------------------------------------------------- make_room

TEST_CASE("make_room closes the least recently used idle connection above min_size among the "
          "other pools under the blocking limit",
          "[limit]")
{
    call_log log;
    auto root = std::make_shared<connection_limit>(6);
    auto a = fake_member::join(*root, "a", log);
    auto b = fake_member::join(*root, "b", log);
    auto c = fake_member::join(*root, "c", log);
    auto waiter = fake_member::join(*root, "waiter", log);

    REQUIRE(a->ask(2) == 2);
    a->park(50);
    a->park(40);
    REQUIRE(b->ask(2) == 2);
    b->park(10);  // the least recently used of all, but b keeps min_size 2
    b->park(60);
    b->min_size = 2;
    REQUIRE(c->ask(2) == 2);
    c->park(30);  // the least recently used above min_size
    CHECK(waiter->ask(1, 100) == 0);

    CHECK(waiter->account->make_room());
    CHECK(log == call_log{"close c@30 above min", "granted waiter"});
    CHECK(waiter->ask(1, 110) == 1);

    // Nothing above min_size left but a's: a@40 next.
    CHECK(waiter->ask(1, 120) == 0);
    CHECK(waiter->account->make_room());
    CHECK(log.at(2) == "close a@40 above min");
}

TEST_CASE("make_room asks only pools under the limit that blocks, not those of a sibling "
          "subtree",
          "[limit]")
{
    two_children t(10, 2, 5);
    auto in_left = t.pool(*t.left, "in_left");
    auto in_right = t.pool(*t.right, "in_right");
    auto waiter = t.pool(*t.left, "waiter");

    REQUIRE(in_right->ask(1) == 1);
    in_right->park(5);  // older, but under the other child: closing it would not help
    REQUIRE(in_left->ask(2) == 2);
    in_left->park(20);
    CHECK(waiter->ask(1, 100) == 0);  // blocked by the left child

    CHECK(waiter->account->make_room());
    CHECK(t.log == call_log{"close in_left@20 above min", "granted waiter"});
    CHECK(in_right->idle.size() == 1);
}

TEST_CASE("make_room reaches sibling subtrees when the parent is what blocks", "[limit]")
{
    two_children t(3, 3, 3);
    auto in_left = t.pool(*t.left, "in_left");
    auto in_right = t.pool(*t.right, "in_right");
    auto waiter = t.pool(*t.left, "waiter");

    REQUIRE(in_left->ask(1) == 1);
    in_left->park(20);
    REQUIRE(in_right->ask(2) == 2);
    in_right->park(5);
    CHECK(waiter->ask(1, 100) == 0);  // the root is full, the left child is not

    CHECK(waiter->account->make_room());
    CHECK(t.log == call_log{"close in_right@5 above min", "granted waiter"});
}

TEST_CASE("make_room closes nothing when no other pool has an idle connection above min_size",
          "[limit]")
{
    call_log log;
    auto root = std::make_shared<connection_limit>(3);
    auto a = fake_member::join(*root, "a", log);
    auto waiter = fake_member::join(*root, "waiter", log);
    REQUIRE(a->ask(2) == 2);
    a->park(10);
    a->min_size = 2;
    REQUIRE(waiter->ask(1) == 1);  // the waiter's own idle connection is not asked for
    waiter->park(1);
    CHECK(waiter->ask(1, 100) == 0);
    CHECK_FALSE(waiter->account->make_room());
    CHECK(log.empty());

    // Nor when the pool does not wait.
    auto idle_pool = fake_member::join(*root, "idle_pool", log);
    CHECK_FALSE(idle_pool->account->make_room());
}

// ----------------------------------------------------------------------------------- set_max

TEST_CASE("raising the max grants to the waiting pools at once, telling them after unlocking",
          "[limit]")
{
    full_limit s(1);
    s.a->when_granted = [&] { CHECK(s.a->ask(1, 30) == 1); };  // calls the limit again
    s.limit->set_max(3);
    CHECK(s.log == call_log{"granted a", "granted b"});
    CHECK(s.a->lent == 1);
    CHECK(s.limit->in_use() == 3);
}

TEST_CASE("lowering the max closes idle connections least recently used first across pools, "
          "only as many as the excess",
          "[limit]")
{
    call_log log;
    auto limit = std::make_shared<connection_limit>(6);
    auto a = fake_member::join(*limit, "a", log);
    auto b = fake_member::join(*limit, "b", log);
    REQUIRE(a->ask(3) == 3);
    a->park(30);
    a->park(10);
    a->min_size = 3;  // min_size does not protect them from a lowered max
    REQUIRE(b->ask(3) == 3);
    b->park(20);
    b->park(40);  // b keeps one lent

    limit->set_max(3);
    CHECK(log == call_log{"close a@10", "close b@20", "close a@30"});
    CHECK(limit->in_use() == 3);
    CHECK_FALSE(a->account->over_max());
}

TEST_CASE("lowering the max below the lent connections: over_max until they come back, and no "
          "take succeeds until in_use is below the max",
          "[limit]")
{
    call_log log;
    auto limit = std::make_shared<connection_limit>(4);
    auto a = fake_member::join(*limit, "a", log);
    auto b = fake_member::join(*limit, "b", log);
    REQUIRE(a->ask(4) == 4);
    CHECK_FALSE(a->account->over_max());

    limit->set_max(2);
    CHECK(log.empty());  // nothing idle to close
    CHECK(limit->max() == 2);
    CHECK(a->account->over_max());
    CHECK(b->account->over_max());
    CHECK(b->ask(1, 10) == 0);

    a->close_lent();  // 3 of 2
    CHECK(a->account->over_max());
    a->close_lent();  // 2 of 2
    CHECK_FALSE(a->account->over_max());
    CHECK(b->granted == 0);
    a->close_lent();  // 1 of 2: b's turn
    CHECK(log == call_log{"granted b"});
    CHECK(limit->in_use() == 2);
}

TEST_CASE("lowering a child limit leaves pools under its siblings alone", "[limit]")
{
    two_children t(10, 5, 5);
    auto a = t.pool(*t.left, "a");
    auto b = t.pool(*t.right, "b");
    REQUIRE(a->ask(3) == 3);
    a->park(30);
    REQUIRE(b->ask(3) == 3);
    b->park(1);

    t.left->set_max(1);
    CHECK(t.log == call_log{"close a@30"});
    CHECK(a->account->over_max());
    CHECK_FALSE(b->account->over_max());
    CHECK(t.root->in_use() == 5);
}

// ----------------------------------------------------------------------------------- fairness

TEST_CASE("others_waiting_before tells a returning pool that another pool asked earlier", "[limit]")
{
    two_children t(2, 2, 1);
    auto busy = t.pool(*t.left, "busy");
    auto starved = t.pool(*t.right, "starved");
    auto holder = t.pool(*t.right, "holder");

    REQUIRE(busy->ask(2) == 2);
    CHECK_FALSE(busy->account->others_waiting_before(INT64_MAX));  // nobody waits

    CHECK(starved->ask(1, 100) == 0);
    CHECK(busy->account->others_waiting_before(INT64_MAX));
    CHECK(busy->account->others_waiting_before(150));       // busy's own waiter came later
    CHECK_FALSE(busy->account->others_waiting_before(50));  // busy's own waiter came first
    CHECK_FALSE(starved->account->others_waiting_before(INT64_MAX));  // not itself

    // Once the right child is full too, a unit of busy's would not help starved.
    busy->close_lent();
    REQUIRE(t.log == call_log{"granted starved"});
    CHECK(starved->ask(1, 110) == 1);
    CHECK(holder->ask(1, 130) == 0);  // blocked by the right child (and the root)
    CHECK_FALSE(busy->account->others_waiting_before(INT64_MAX));
    CHECK(starved->account->others_waiting_before(INT64_MAX));
}

// ----------------------------------------------------------------------------------- lifetimes

TEST_CASE("a pool whose owner is gone is neither granted nor asked to close", "[limit]")
{
    call_log log;
    auto limit = std::make_shared<connection_limit>(2);
    auto holder = fake_member::join(*limit, "holder", log);
    auto gone = fake_member::join(*limit, "gone", log);
    auto alive = fake_member::join(*limit, "alive", log);

    REQUIRE(holder->ask(2) == 2);
    CHECK(gone->ask(1, 10) == 0);
    CHECK(alive->ask(1, 20) == 0);
    // The member object dies; its account lives on a moment (as while a pool is destroyed).
    std::shared_ptr<limit_account> orphan = gone->account;
    gone.reset();

    holder->park(5);
    holder->close_lent();
    CHECK(log == call_log{"granted alive"});  // not waited for
    CHECK(alive->ask(1, 30) == 1);

    // A pool that waits asks the others to make room: the dead one is not asked.
    auto waiter = fake_member::join(*limit, "waiter", log);
    CHECK(waiter->ask(1, 40) == 0);
    CHECK(waiter->account->make_room());
    CHECK(log.back() == "granted waiter");
    CHECK(log.at(1) == "close holder@5 above min");
    orphan.reset();
    CHECK(limit->in_use() == 2);
}

TEST_CASE("a unit banked for a pool that is gone before it is told goes to the next waiter",
          "[limit]")
{
    call_log log;
    auto limit = std::make_shared<connection_limit>(2);
    auto holder = fake_member::join(*limit, "holder", log);
    auto x = fake_member::join(*limit, "x", log);
    auto gone = fake_member::join(*limit, "gone", log);
    auto alive = fake_member::join(*limit, "alive", log);

    REQUIRE(holder->ask(2) == 2);
    CHECK(x->ask(1, 5) == 0);
    CHECK(gone->ask(1, 10) == 0);
    CHECK(alive->ask(1, 20) == 0);
    holder->close_lent();
    REQUIRE(log == call_log{"granted x"});
    CHECK(x->account->take(0, 30) == 0);  // x gives up: its unit is banked for `gone`...
    std::shared_ptr<limit_account> orphan = gone->account;
    gone.reset();  // ...which dies before it is told
    x->account->deliver_grants();
    CHECK(log == call_log{"granted x", "granted alive"});
    CHECK(alive->ask(1, 40) == 1);
    CHECK(limit->in_use() == 2);
}

TEST_CASE("accounts keep their limit and its ancestors alive; a limit outlives its pools",
          "[limit]")
{
    call_log log;
    auto root = std::make_shared<connection_limit>(3);
    std::weak_ptr<connection_limit> child_seen;
    std::shared_ptr<fake_member> a;
    {
        auto child = std::make_shared<connection_limit>(2, root);
        child_seen = child;
        a = fake_member::join(*child, "a", log);
    }
    std::weak_ptr<connection_limit> root_seen = root;
    root.reset();
    REQUIRE_FALSE(child_seen.expired());
    REQUIRE_FALSE(root_seen.expired());

    CHECK(a->ask(3) == 2);
    CHECK(root_seen.lock()->in_use() == 2);
    a->close_everything();
    a->account.reset();
    CHECK(child_seen.expired());
    CHECK(root_seen.expired());

    // The other way round: pools go, the limit stays and counts nothing.
    auto limit = std::make_shared<connection_limit>(2);
    auto b = fake_member::join(*limit, "b", log);
    REQUIRE(b->ask(2) == 2);
    b->close_everything();
    b.reset();
    CHECK(limit->in_use() == 0);
    auto c = fake_member::join(*limit, "c", log);
    CHECK(c->ask(2) == 2);
    c->close_everything();
}

TEST_CASE("join needs a limit owned by a shared_ptr", "[limit]")
{
    call_log log;
    connection_limit on_stack(1);
    auto m = std::make_shared<fake_member>("m", log);
    CHECK_THROWS_AS(on_stack.join(m), std::bad_weak_ptr);
}
