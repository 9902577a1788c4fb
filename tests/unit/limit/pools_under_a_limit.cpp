// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Pools sharing a connection_limit (issue 10, items 1 and 2, end to end with the fake backend):
// the cap holds counting connects in flight, units go to the pools in the order they asked, an
// idle pool's surplus is closed to serve a busy one (least recently used first, never below
// min_size), a busy pool cannot starve another, set_max lowers and raises at run time, limits
// nest, and a pool gives its units back when it goes.

#include "support/pools_fixture.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using namespace connpool::testing;
using connpool::connection_limit;
using connpool::pool_options;

namespace {

using F = connpool::test::pools_fixture;
using handle = F::handle;

}  // namespace

TEST_CASE_METHOD(F, "pools under a limit never open more than its max together", "[limit][pool]")
{
    auto limit = std::make_shared<connection_limit>(3);
    auto& a = add_pool({.max_size = 8, .limit = limit});
    auto& b = add_pool({.max_size = 8, .limit = limit});
    std::vector<handle> held;
    held.push_back(acquire_now(a));
    held.push_back(acquire_now(a));
    held.push_back(acquire_now(b));
    CHECK(limit->in_use() == 3);
    auto wait_a = start_acquire(a, 1s);
    auto wait_b = start_acquire(b, 1s);
    CHECK(!wait_a->called());
    CHECK(!wait_b->called());
    CHECK(live_total() == 3);
    CHECK(backend_of(0).connects_started() + backend_of(1).connects_started() == 3);
    CHECK(limit->in_use() == 3);
    advance(1s);
    REQUIRE(wait_a->called());
    CHECK(wait_a->ec() == connpool::errc::acquire_timeout);
    REQUIRE(wait_b->called());
    CHECK(limit->in_use() == 3);
}

TEST_CASE_METHOD(F, "a connect in flight counts against the limit", "[limit][pool]")
{
    auto limit = std::make_shared<connection_limit>(2);
    auto& a = add_pool({.max_size = 4, .limit = limit});
    backend_of(0).set_connect(outcome::pending());
    auto r1 = start_acquire(a);
    auto r2 = start_acquire(a);
    auto r3 = start_acquire(a);
    CHECK(backend_of(0).pending_connects() == 2);
    CHECK(limit->in_use() == 2);
    CHECK(a.stats().pending == 2);
    backend_of(0).set_connect(outcome::ok());
    while (backend_of(0).complete_next_connect())
        poll();
    CHECK(r1->called());
    CHECK(r2->called());
    CHECK(!r3->called());  // the limit is full: no third connect
    CHECK(limit->in_use() == 2);
}

TEST_CASE_METHOD(F,
                 "an idle pool's surplus is closed to serve a busy one, least recently used "
                 "first",
                 "[limit][pool][fairness]")
{
    auto limit = std::make_shared<connection_limit>(3);
    auto& a = add_pool({.max_size = 8, .limit = limit});
    auto& b = add_pool({.max_size = 8, .limit = limit});
    {
        auto x = acquire_now(a);
        auto y = acquire_now(a);
        auto z = acquire_now(a);
        x.release();  // used least recently
        advance(10ms);
        y.release();
        advance(10ms);
        z.release();
    }
    poll();
    REQUIRE(a.stats().idle == 3);
    REQUIRE(limit->in_use() == 3);

    auto h = acquire_now(b);  // served: one of a's idle connections made room
    CHECK(a.stats().idle == 2);
    CHECK(a.stats().destroyed_surplus == 1);
    CHECK(backend_of(0).live() == 2);
    CHECK(limit->in_use() == 3);
    // The one closed was the least recently used (connection 1, returned first).
    auto p1 = acquire_now(a);
    auto p2 = acquire_now(a);
    CHECK(p1->id != 1);
    CHECK(p2->id != 1);
}

TEST_CASE_METHOD(F, "idle connections at min_size are not closed for another pool",
                 "[limit][pool][fairness]")
{
    auto limit = std::make_shared<connection_limit>(2);
    auto& a = add_pool({.min_size = 2, .max_size = 4, .limit = limit});
    auto& b = add_pool({.max_size = 4, .limit = limit});
    REQUIRE(a.stats().idle == 2);
    auto r = start_acquire(b, 100ms);
    CHECK(!r->called());
    CHECK(a.stats().idle == 2);
    advance(100ms);
    REQUIRE(r->called());
    CHECK(r->ec() == connpool::errc::acquire_timeout);
    CHECK(a.stats().destroyed_surplus == 0);
}

TEST_CASE_METHOD(F, "units go to the pools in the order they asked", "[limit][pool][fairness]")
{
    auto limit = std::make_shared<connection_limit>(1);
    auto& a = add_pool({.max_size = 2, .limit = limit});
    auto& b = add_pool({.max_size = 2, .limit = limit});
    auto& c = add_pool({.max_size = 2, .limit = limit});
    auto held = acquire_now(a);
    auto wb = start_acquire(b);
    advance(1ms);
    auto wc = start_acquire(c);
    CHECK(!wb->called());
    CHECK(!wc->called());
    held.release();  // a has no waiter: its connection is closed and the unit goes to b
    poll();
    REQUIRE(wb->called());
    CHECK(!wb->ec());
    CHECK(!wc->called());
    wb->value().release();
    poll();
    REQUIRE(wc->called());
    CHECK(!wc->ec());
    CHECK(limit->in_use() == 1);
}

TEST_CASE_METHOD(F, "a busy pool cannot starve another one under the same limit",
                 "[limit][pool][fairness]")
{
    auto limit = std::make_shared<connection_limit>(2);
    auto& hot = add_pool({.max_size = 4, .limit = limit});
    auto& cold = add_pool({.max_size = 4, .limit = limit});
    std::vector<handle> held;
    held.push_back(acquire_now(hot));
    held.push_back(acquire_now(hot));
    auto first_hot_waiter = start_acquire(hot);  // waits since t = 0
    advance(10ms);
    auto cold_waiter = start_acquire(cold);  // asks for a unit at t = 10 ms
    advance(10ms);
    auto second_hot_waiter = start_acquire(hot);  // t = 20 ms

    // The hot pool's oldest waiter came before the cold pool: it is served inside the pool.
    held[0].release();
    poll();
    REQUIRE(first_hot_waiter->called());
    CHECK(!cold_waiter->called());
    // Now the cold pool has waited longer than the hot pool's oldest waiter: the next
    // connection the hot pool gets back is closed and its unit goes to the cold pool.
    held[1].release();
    poll();
    REQUIRE(cold_waiter->called());
    CHECK(!cold_waiter->ec());
    CHECK(!second_hot_waiter->called());
    CHECK(hot.stats().destroyed_surplus == 1);
    CHECK(limit->in_use() == 2);
    // And the hot pool is served next.
    first_hot_waiter->value().release();
    poll();
    CHECK(second_hot_waiter->called());
}

TEST_CASE_METHOD(F, "set_max lower closes idle surplus at once and lent surplus on return",
                 "[limit][pool][set_max]")
{
    auto limit = std::make_shared<connection_limit>(4);
    auto& a = add_pool({.max_size = 8, .limit = limit});
    std::vector<handle> held;
    for (int i = 0; i < 4; ++i)
        held.push_back(acquire_now(a));
    held[0].release();
    held[1].release();
    poll();
    REQUIRE(a.stats().idle == 2);

    limit->set_max(1);
    poll();
    CHECK(a.stats().idle == 0);  // both idle ones closed at once
    CHECK(limit->in_use() == 2);
    auto waiter = start_acquire(a);
    CHECK(!waiter->called());  // no connect above the new max
    held[2].release();         // still above: closed, not handed over
    poll();
    CHECK(!waiter->called());
    CHECK(limit->in_use() == 1);
    held[3].release();  // at the max now: handed to the waiter
    poll();
    REQUIRE(waiter->called());
    CHECK(!waiter->ec());
    CHECK(a.stats().destroyed_surplus == 3);
    CHECK(limit->in_use() == 1);
    CHECK(backend_of(0).live() == 1);
}

TEST_CASE_METHOD(F, "set_max higher serves waiting pools at once", "[limit][pool][set_max]")
{
    auto limit = std::make_shared<connection_limit>(1);
    auto& a = add_pool({.max_size = 4, .limit = limit});
    auto& b = add_pool({.max_size = 4, .limit = limit});
    auto held = acquire_now(a);
    auto wa = start_acquire(a);
    auto wb = start_acquire(b);
    limit->set_max(3);
    poll();
    CHECK(wa->called());
    CHECK(wb->called());
    CHECK(limit->in_use() == 3);
}

TEST_CASE_METHOD(F, "nested limits: a child's cap and its parent's both hold", "[limit][pool]")
{
    auto database = std::make_shared<connection_limit>(3);           // max_connections
    auto account = std::make_shared<connection_limit>(2, database);  // one user's share
    auto& a = add_pool({.max_size = 8, .limit = account});
    auto& b = add_pool({.max_size = 8, .limit = database});
    std::vector<handle> held;
    held.push_back(acquire_now(a));
    held.push_back(acquire_now(a));
    auto wa = start_acquire(a, 50ms);
    CHECK(!wa->called());            // the child is full
    held.push_back(acquire_now(b));  // the parent still had one unit
    auto wb = start_acquire(b, 50ms);
    CHECK(!wb->called());  // now the parent is full
    CHECK(account->in_use() == 2);
    CHECK(database->in_use() == 3);
    advance(50ms);
    CHECK(wa->called());
    CHECK(wb->called());
    CHECK(live_total() == 3);
}

TEST_CASE_METHOD(F, "a pool that goes gives its units back to the limit", "[limit][pool]")
{
    auto limit = std::make_shared<connection_limit>(2);
    {
        auto& a = add_pool({.min_size = 2, .max_size = 2, .limit = limit});
        REQUIRE(a.stats().idle == 2);
        CHECK(limit->in_use() == 2);
    }
    auto& b = add_pool({.max_size = 2, .limit = limit});
    auto wb = start_acquire(b, 1s);
    CHECK(!wb->called());
    members.front()->pool->close();  // its idle connections go, their units reach b
    poll();
    REQUIRE(wb->called());
    CHECK(!wb->ec());
    CHECK(limit->in_use() == 1);
}

TEST_CASE_METHOD(F, "a limit may outlive its pools and count nothing after them", "[limit][pool]")
{
    auto limit = std::make_shared<connection_limit>(4);
    auto& a = add_pool({.min_size = 3, .max_size = 4, .limit = limit});
    REQUIRE(a.stats().size == 3);
    auto held = acquire_now(a);
    members.front()->pool.reset();  // destroyed with a lease out
    poll();
    CHECK(limit->in_use() == 1);  // the lent connection still exists
    held = handle{};
    poll();
    CHECK(limit->in_use() == 0);
    members.clear();
}
