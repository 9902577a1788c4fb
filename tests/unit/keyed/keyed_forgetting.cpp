// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// keyed_pool forgets keys (issue 10, item 3): a key with no connection, no waiter and no use for
// per_key.idle_timeout is forgotten, so that memory stays bounded by the keys in use (100k
// distinct keys over manual-clock time); a key with a connection or a waiter is kept; a forgotten
// key is created anew by its next acquire; its counters stay in stats().

#include "unit/keyed/keyed_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using connpool::errc;
using connpool::testing::outcome;

namespace {
using F = connpool::test::keyed_fixture<>;
using handle = F::handle;
}  // namespace

TEST_CASE_METHOD(F, "a key with no connection, no waiter and no use for idle_timeout is forgotten",
                 "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.idle_timeout = 1s}});
    {
        auto h = acquire_now("a");
    }
    poll();
    // The idle connection is closed 1 to 2 s after its last use (housekeeping), and the key is
    // forgotten once sweeps found it quiet for another idle_timeout: not before 2 s.
    advance_in_steps(1900ms, 100ms);
    CHECK(kp.keys() == 1);
    advance_in_steps(2600ms, 100ms);
    CHECK(kp.keys() == 0);

    const connpool::pool_stats gone = kp.stats("a");  // as if never used
    CHECK(gone.size == 0);
    CHECK(gone.created == 0);
    CHECK(gone.max_size == 0);
    const connpool::pool_stats all = kp.stats();  // its counters are kept in the totals
    CHECK(all.created == 1);
    CHECK(all.acquired == 1);
    CHECK(all.destroyed_idle == 1);
    CHECK(all.size == 0);
    CHECK(all.max_size == 0);
    CHECK(kp.histograms().create_time.count() == 1);  // and its distributions
    CHECK(kp.histograms("a").create_time.count() == 0);
}

TEST_CASE_METHOD(F, "a forgotten key is created anew by its next acquire", "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.idle_timeout = 1s}});
    {
        auto h = acquire_now("a");
    }
    advance_in_steps(5s, 100ms);
    REQUIRE(kp.keys() == 0);
    auto again = acquire_now("a");
    CHECK(kp.keys() == 1);
    CHECK(log->connects_of("a") == 2);
    CHECK(kp.stats("a").created == 1);
    CHECK(kp.stats().created == 2);
}

TEST_CASE_METHOD(F, "a key with a lent connection is kept however long", "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.idle_timeout = 1s}});
    auto h = acquire_now("a");
    advance_in_steps(30s, 500ms);
    CHECK(kp.keys() == 1);
    h.release();
    advance_in_steps(5s, 100ms);
    CHECK(kp.keys() == 0);
}

TEST_CASE_METHOD(F, "a key whose connects fail keeps its waiter until the waiter's deadline",
                 "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.idle_timeout = 1s}});
    backend->set_connect(outcome::fail(connpool::testing::refused()));
    auto w = start_acquire("a", 20s);
    // Between attempts the key has no connection at all, only the waiter.
    for (int i = 0; i < 190; ++i) {
        advance(100ms);
        REQUIRE(kp.keys() == 1);
    }
    CHECK(!w->called());
    CHECK(kp.stats("a").waiters == 1);
    advance_in_steps(1s, 100ms);
    REQUIRE(w->called());
    CHECK(w->ec() == boost::asio::error::connection_refused);
    advance_in_steps(5s, 100ms);  // nothing left: forgotten
    CHECK(kp.keys() == 0);
    CHECK(kp.stats().connect_failures >= 10);
}

TEST_CASE_METHOD(F, "a key kept at min_size is never forgotten", "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.min_size = 1, .idle_timeout = 1s}});
    {
        auto h = acquire_now("a");
    }
    advance_in_steps(30s, 500ms);
    CHECK(kp.keys() == 1);
    CHECK(kp.stats("a").idle == 1);
}

TEST_CASE_METHOD(F, "with idle_timeout 0 no key is forgotten", "[keyed][forget]")
{
    auto& kp = make_keyed({.per_key = {.idle_timeout = 0ms}});
    for (const char* key : {"a", "b", "c"}) {
        auto h = acquire_now(key);
        h.invalidate();  // destroyed on return: the key holds nothing
    }
    poll();
    REQUIRE(kp.stats().size == 0);
    advance_in_steps(std::chrono::hours(2), std::chrono::minutes(5));
    CHECK(kp.keys() == 3);
}

TEST_CASE_METHOD(F,
                 "100k distinct keys used over time: the keys held stay bounded by the keys in use",
                 "[keyed][forget][memory]")
{
    // Each key is used once, by 500 new keys every 50 ms of manual time; its connection is
    // dropped (invalidated) when it comes back, as a session that ends with its user's request.
    // The sweep (every 50 ms) forgets a key once it has found it quiet for 100 ms: 100 to 150 ms
    // after its use, so at most ~4 steps of keys (2 000) are held at any time, whatever the
    // number of keys used so far. (A key whose idle connection is reaped first is held ~200 ms
    // longer: see the first test.)
    auto& kp = make_keyed({.per_key = {.max_size = 1, .idle_timeout = 100ms}});
    constexpr int steps = 200;
    constexpr int keys_per_step = 500;
    constexpr std::size_t bound = 5 * keys_per_step;
    std::size_t most_held = 0;
    for (int step = 0; step < steps; ++step) {
        for (int k = 0; k < keys_per_step; ++k) {
            auto r = start_acquire("key-" + std::to_string(step * keys_per_step + k));
            REQUIRE(r->called());
            REQUIRE(!r->ec());
            r->value().invalidate();
        }  // each lease returned at once
        advance(50ms);
        most_held = std::max(most_held, kp.keys());
        REQUIRE(kp.keys() <= bound);
    }
    CHECK(most_held >= 2 * keys_per_step);  // the keys in use are held
    advance_in_steps(1s, 50ms);
    CHECK(kp.keys() == 0);
    // Nothing of the keys is left running either: only the keyed pool's own sweep (a forgotten
    // pool that lived on would still run its housekeeping).
    CHECK(connpool::testing::advance(ioc, 1s) <= 2);
    const connpool::pool_stats all = kp.stats();
    CHECK(all.created == steps * keys_per_step);
    CHECK(all.acquired == steps * keys_per_step);
    CHECK(all.destroyed_broken == steps * keys_per_step);
    CHECK(backend->live() == 0);
}
