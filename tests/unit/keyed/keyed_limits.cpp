// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// keyed_pool's caps across keys (issue 10, item 3): max_total holds over all keys counting
// connects in flight, the idle connections of one key are closed to serve another (least
// recently used first, never below min_size), a hot key cannot starve a cold one, a parent limit
// shared with other pools holds too, and without max_total or limit the keys are independent.

#include "unit/keyed/keyed_fixture.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

using namespace std::chrono_literals;
using connpool::connection_limit;
using connpool::errc;

namespace {
using F = connpool::test::keyed_fixture<>;
using handle = F::handle;
}  // namespace

TEST_CASE_METHOD(F, "max_total caps the connections of all keys, counting connects in flight",
                 "[keyed][max_total]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 4}, .max_total = 3});
    backend->set_connect(connpool::testing::outcome::pending());
    auto a1 = start_acquire("a");
    auto a2 = start_acquire("a");
    auto b1 = start_acquire("b");
    auto b2 = start_acquire("b");
    auto c1 = start_acquire("c");
    CHECK(backend->pending_connects() == 3);  // the fourth and fifth wait for a unit
    CHECK(kp.stats().pending == 3);
    CHECK(kp.stats().size == 3);
    backend->set_connect(connpool::testing::outcome::ok());
    while (backend->complete_next_connect())
        poll();
    CHECK(backend->live() == 3);
    CHECK(backend->connects_started() == 3);
    const int served = int(a1->called()) + int(a2->called()) + int(b1->called()) +
                       int(b2->called()) + int(c1->called());
    CHECK(served == 3);
    CHECK(kp.stats().size == 3);
}

TEST_CASE_METHOD(F, "a freed unit goes to the key that asked first", "[keyed][max_total]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 2}, .max_total = 1});
    auto held = acquire_now("a");
    auto wb = start_acquire("b");
    advance(1ms);
    auto wc = start_acquire("c");
    held.release();  // a has no waiter: its connection closes, the unit goes to b
    poll();
    REQUIRE(wb->called());
    CHECK(!wb->ec());
    CHECK(!wc->called());
    wb->value().release();
    poll();
    REQUIRE(wc->called());
    CHECK(!wc->ec());
    CHECK(kp.stats().size == 1);
    CHECK(backend->live() == 1);
}

TEST_CASE_METHOD(F,
                 "a key's idle connections are closed to serve another key, least recently used "
                 "first",
                 "[keyed][max_total][fairness]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 8}, .max_total = 3});
    {
        auto x = acquire_now("a");
        auto y = acquire_now("a");
        auto z = acquire_now("a");
        REQUIRE(x->id == 1);
        x.release();  // used least recently
        advance(10ms);
        y.release();
        advance(10ms);
        z.release();
    }
    poll();
    REQUIRE(kp.stats("a").idle == 3);

    auto b = acquire_now("b");  // served: one of a's idle connections made room
    CHECK(kp.stats("a").idle == 2);
    CHECK(kp.stats("a").destroyed_surplus == 1);
    CHECK(!backend->is_live(1));  // the least recently used one
    CHECK(backend->live() == 3);
    CHECK(kp.stats().size == 3);
}

TEST_CASE_METHOD(F, "a key's idle connections at its min_size are not closed for another key",
                 "[keyed][max_total][fairness]")
{
    auto& kp = make_keyed({.per_key = {.min_size = 2, .max_size = 4}, .max_total = 2});
    {
        auto a = acquire_now("a");
    }
    poll();
    REQUIRE(kp.stats("a").idle == 2);
    auto wb = start_acquire("b", 100ms);
    CHECK(!wb->called());
    CHECK(kp.stats("a").idle == 2);
    advance(100ms);
    REQUIRE(wb->called());
    CHECK(wb->ec() == errc::acquire_timeout);
    CHECK(kp.stats("a").destroyed_surplus == 0);
}

TEST_CASE_METHOD(F, "a hot key cannot starve a cold one", "[keyed][max_total][fairness]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 4}, .max_total = 2});
    std::vector<handle> held;
    held.push_back(acquire_now("hot"));
    held.push_back(acquire_now("hot"));
    auto first_hot = start_acquire("hot");  // waits since t = 0
    advance(10ms);
    auto cold = start_acquire("cold");  // asks for a unit at t = 10 ms
    advance(10ms);
    auto second_hot = start_acquire("hot");  // t = 20 ms

    // hot's oldest waiter came before cold: it is served inside hot's pool.
    held[0].release();
    poll();
    REQUIRE(first_hot->called());
    CHECK(!cold->called());
    // Now cold has waited longer than hot's oldest waiter: the next connection hot gets back is
    // closed and its unit goes to cold, although hot has a waiter of its own.
    held[1].release();
    poll();
    REQUIRE(cold->called());
    CHECK(!cold->ec());
    CHECK(!second_hot->called());
    CHECK(kp.stats("hot").destroyed_surplus == 1);
    CHECK(kp.stats().size == 2);
    // hot is served next.
    first_hot->value().release();
    poll();
    CHECK(second_hot->called());
    // Keep returning hot's connections while cold waits again: cold is served again.
    auto cold_again = start_acquire("cold");
    advance(1ms);
    second_hot->value().release();
    poll();
    CHECK(cold_again->called());
}

TEST_CASE_METHOD(F, "the keys' connections count against a parent limit shared with a pool",
                 "[keyed][limit]")
{
    auto database = std::make_shared<connection_limit>(3);  // a server's max_connections
    using pool_type =
        connpool::pool<connpool::testing::fake_connection, connpool::testing::connect_only_factory,
                       connpool::testing::manual_clock>;
    auto other_backend = std::make_shared<connpool::testing::fake_backend>();
    auto other = std::make_unique<pool_type>(
        ioc.get_executor(),
        connpool::testing::connect_only_factory(ioc.get_executor(), other_backend),
        connpool::pool_options{.max_size = 4, .limit = database});
    auto& kp = make_keyed({.per_key = {.max_size = 4}, .max_total = 2, .limit = database});
    REQUIRE(kp.per_key_options().limit);
    CHECK(kp.per_key_options().limit != database);  // max_total's own limit, under database

    auto a = acquire_now("a");
    auto b = acquire_now("b");
    auto wc = start_acquire("c", 50ms);
    CHECK(!wc->called());  // max_total is full, database is not
    CHECK(database->in_use() == 2);
    {
        connpool::test::checked_result<pool_type::handle_type> r;
        other->async_acquire(r.handler());
        poll();
        REQUIRE(r.called());  // the last unit of database
        CHECK(database->in_use() == 3);
        auto wo = std::make_unique<connpool::test::checked_result<pool_type::handle_type>>();
        other->async_acquire(50ms, wo->handler());
        poll();
        CHECK(!wo->called());  // database is full
        advance(50ms);
        CHECK(wo->called());
    }
    CHECK(wc->called());
    CHECK(backend->live() + other_backend->live() <= 3);
    other.reset();
    poll();
    other_backend->drop_pending();
}

TEST_CASE_METHOD(F, "without max_total and limit the keys are independent", "[keyed][limit]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 1}});
    CHECK(!kp.per_key_options().limit);  // no limit at all: no cost on any path
    std::vector<handle> held;
    for (int i = 0; i < 10; ++i)
        held.push_back(acquire_now("k" + std::to_string(i)));
    CHECK(kp.stats().size == 10);
    CHECK(kp.keys() == 10);
}

TEST_CASE_METHOD(F, "per_key.limit is ignored: the keys share max_total and limit only",
                 "[keyed][limit]")
{
    auto ignored = std::make_shared<connection_limit>(1);
    auto& kp = make_keyed({.per_key = {.max_size = 2, .limit = ignored}});
    CHECK(kp.per_key_options().limit != ignored);
    auto a = acquire_now("a");
    auto b = acquire_now("b");  // would wait under `ignored`
    CHECK(ignored->in_use() == 0);
    CHECK(kp.stats().size == 2);
}
