// Unit tests of waiters/waiter_queue.hpp: the FIFO of waiting acquirers and the set of their
// deadlines. Plain calls on hand-made waiters: no pool, no io_context, no threads.
#include <connpool/detail/waiters/waiter_queue.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

namespace {
using waiter = connpool::detail::waiter<int>;
using queue = connpool::detail::waiter_queue<int>;
using deadlines = connpool::detail::deadline_set<int>;

void no_notify(waiter*) noexcept {}

waiter with_deadline(std::int64_t at)
{
    waiter w(no_notify);
    w.deadline = at;
    return w;
}
}  // namespace

TEST_CASE("waiters leave the queue in arrival order", "[waiters]")
{
    queue q;
    waiter a(no_notify), b(no_notify), c(no_notify);
    q.push_back(a);
    q.push_back(b);
    q.push_back(c);
    CHECK(q.size() == 3);
    CHECK(q.pop_front() == &a);
    CHECK(q.pop_front() == &b);
    CHECK(q.pop_front() == &c);
    CHECK(q.pop_front() == nullptr);
    CHECK(q.empty());
}

TEST_CASE("a waiter leaves from the middle of the queue and the order of the others holds",
          "[waiters]")
{
    queue q;
    waiter a(no_notify), b(no_notify), c(no_notify);
    q.push_back(a);
    q.push_back(b);
    q.push_back(c);
    q.erase(b);
    CHECK_FALSE(b.linked);
    CHECK(q.size() == 2);
    q.erase(c);  // the tail: a newcomer is then linked behind a
    waiter d(no_notify);
    q.push_back(d);
    CHECK(q.pop_front() == &a);
    CHECK(q.pop_front() == &d);
    CHECK(q.empty());
}

TEST_CASE("a queued waiter is linked, an unlinked one is not", "[waiters]")
{
    queue q;
    waiter a(no_notify);
    CHECK_FALSE(a.linked);
    q.push_back(a);
    CHECK(a.linked);
    CHECK(q.pop_front() == &a);
    CHECK_FALSE(a.linked);
}

TEST_CASE("the earliest deadline is served first, ties in arrival order", "[waiters]")
{
    deadlines set;
    CHECK(set.earliest() == waiter::no_deadline);
    waiter late = with_deadline(300), early = with_deadline(100), tie1 = with_deadline(200),
           tie2 = with_deadline(200);
    set.insert(late);
    set.insert(tie1);
    set.insert(early);
    set.insert(tie2);
    CHECK(set.earliest() == 100);
    CHECK(set.due(99) == nullptr);  // nothing is due before its deadline
    CHECK(set.due(100) == &early);
    set.erase(early);
    CHECK(set.due(250) == &tie1);
    set.erase(tie1);
    CHECK(set.due(250) == &tie2);
    set.erase(tie2);
    CHECK(set.due(250) == nullptr);
    CHECK(set.earliest() == 300);
    set.erase(late);
    CHECK(set.empty());
}

TEST_CASE("erasing a waiter that has no deadline registered changes nothing", "[waiters]")
{
    deadlines set;
    waiter registered = with_deadline(100);
    waiter without(no_notify);
    set.insert(registered);
    set.erase(without);
    CHECK(set.earliest() == 100);
    set.erase(registered);
    set.erase(registered);  // twice: a waiter that left by its deadline, then by its cancellation
    CHECK(set.empty());
}
