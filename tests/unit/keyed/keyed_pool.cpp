// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// keyed_pool, one key at a time (issue 10, item 3): each key behaves as a pool with the per_key
// options (LIFO idle connections, FIFO waiters, its own min_size and max_size), try_acquire never
// creates a key, stats(key) and the totals, clear, close and async_close, the factory's optional
// members called for every key, misconfiguration.

#include "unit/keyed/keyed_fixture.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/system/system_error.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using connpool::errc;
using connpool::keyed_pool_options;
using connpool::pool_options;
using connpool::test::checked_ec;

namespace {
using F = connpool::test::keyed_fixture<>;
using full_factory = connpool::test::keyed_fake_factory<true, true, true>;
using FF = connpool::test::keyed_fixture<full_factory>;
}  // namespace

TEST_CASE_METHOD(F, "the first acquire of a key creates its pool and connects with that key",
                 "[keyed]")
{
    auto& kp = make_keyed();
    CHECK(kp.keys() == 0);
    auto h = acquire_now("db1/alice");
    CHECK(kp.keys() == 1);
    CHECK(log->keys() == std::vector<std::string>{"db1/alice"});
    CHECK(kp.stats("db1/alice").in_use == 1);
    auto g = acquire_now("db2/bob");
    CHECK(kp.keys() == 2);
    CHECK(log->connects_of("db2/bob") == 1);
    CHECK(kp.stats("db2/bob").in_use == 1);
    CHECK(kp.stats("db1/alice").in_use == 1);
}

TEST_CASE_METHOD(F, "a key's connections serve only that key", "[keyed]")
{
    auto& kp = make_keyed();
    {
        auto h = acquire_now("a");
    }
    poll();
    REQUIRE(kp.stats("a").idle == 1);
    auto g = acquire_now("b");  // a's idle connection is not b's
    CHECK(log->connects_of("b") == 1);
    CHECK(kp.stats("a").idle == 1);
    auto h = acquire_now("a");  // ... and a's is reused
    CHECK(log->connects_of("a") == 1);
}

TEST_CASE_METHOD(F, "per key, the most recently returned connection is lent first (LIFO)",
                 "[keyed][lifo]")
{
    make_keyed();
    auto h1 = acquire_now("a");
    auto h2 = acquire_now("a");
    auto h3 = acquire_now("a");
    auto other = acquire_now("b");
    const int second = h2->id;
    h1.release();
    h3.release();
    h2.release();  // returned last
    other.release();
    poll();
    auto again = acquire_now("a");
    CHECK(again->id == second);
    auto o = keyed().try_acquire("a");
    REQUIRE(o);
    CHECK((*o)->id != second);
}

TEST_CASE_METHOD(F, "per key, waiters are served in arrival order (FIFO)", "[keyed][fifo]")
{
    make_keyed({.per_key = {.max_size = 1}});
    auto held = acquire_now("a");
    auto w1 = start_acquire("a");
    auto w2 = start_acquire("a");
    auto w3 = start_acquire("a");
    CHECK(!w1->called());
    held.release();
    poll();
    REQUIRE(w1->called());
    CHECK(!w2->called());
    w1->value().release();
    poll();
    REQUIRE(w2->called());
    CHECK(!w3->called());
    w2->value().release();
    poll();
    REQUIRE(w3->called());
    CHECK(!w3->ec());
}

TEST_CASE_METHOD(F, "per key max_size caps that key only", "[keyed][max_size]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 1}});
    auto a = acquire_now("a");
    auto wa = start_acquire("a", 50ms);
    CHECK(!wa->called());       // a is at its max_size
    auto b = acquire_now("b");  // b has a max_size of its own
    CHECK(kp.stats("a").size == 1);
    CHECK(kp.stats("b").size == 1);
    advance(50ms);
    REQUIRE(wa->called());
    CHECK(wa->ec() == errc::acquire_timeout);
}

TEST_CASE_METHOD(F, "per key min_size is opened when the key is first used, and kept",
                 "[keyed][min_size]")
{
    auto& kp = make_keyed({.per_key = {.min_size = 2, .max_size = 4}});
    CHECK(backend->connects_started() == 0);  // no key, nothing to pre-warm
    auto h = acquire_now("a");
    poll();
    CHECK(kp.stats("a").size == 2);
    CHECK(log->connects_of("a") == 2);
    h.invalidate();
    h.release();
    poll();
    CHECK(kp.stats("a").size == 2);  // replaced
    CHECK(kp.stats("b").size == 0);
}

TEST_CASE_METHOD(F, "try_acquire never creates a key and lends an idle connection of one",
                 "[keyed][try_acquire]")
{
    auto& kp = make_keyed();
    CHECK(!kp.try_acquire("a"));
    CHECK(kp.keys() == 0);
    CHECK(backend->connects_started() == 0);
    {
        auto h = acquire_now("a");
    }
    poll();
    auto t = kp.try_acquire("a");
    REQUIRE(t);
    CHECK(!kp.try_acquire("a"));  // the only one is lent; no connect
    CHECK(backend->connects_started() == 1);
    CHECK(!kp.try_acquire("b"));
    CHECK(kp.keys() == 1);
}

TEST_CASE_METHOD(F, "stats(key) is all zeros for a key never used, stats() sums the keys",
                 "[keyed][stats]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 3}});
    const connpool::pool_stats none = kp.stats("never");
    CHECK(none.size == 0);
    CHECK(none.max_size == 0);
    CHECK(none.acquired == 0);
    CHECK(none.created == 0);
    CHECK(kp.keys() == 0);  // asking creates nothing

    auto a1 = acquire_now("a");
    auto a2 = acquire_now("a");
    {
        auto b = acquire_now("b");
    }
    poll();
    const connpool::pool_stats a = kp.stats("a");
    const connpool::pool_stats b = kp.stats("b");
    CHECK(a.in_use == 2);
    CHECK(b.idle == 1);
    const connpool::pool_stats all = kp.stats();
    CHECK(all.size == 3);
    CHECK(all.in_use == 2);
    CHECK(all.idle == 1);
    CHECK(all.created == 3);
    CHECK(all.acquired == 3);
    CHECK(all.max_size == 6);  // two keys of 3
}

TEST_CASE_METHOD(F, "histograms(key) are that key's, histograms() sums the keys",
                 "[keyed][stats][histograms]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 1, .measure_use_time = true}});
    {
        auto a = acquire_now("a");
        advance(10ms);
    }
    {
        auto b = acquire_now("b");
        auto wb = start_acquire("b");  // waits 20 ms for b's only connection
        advance(20ms);
        b.release();
        poll();
        REQUIRE(wb->called());
    }
    poll();
    const connpool::pool_histograms a = kp.histograms("a");
    CHECK(a.use_time_measured);
    CHECK(a.use_time.count() == 1);
    CHECK(a.use_time.sum == 10ms);
    CHECK(a.create_time.count() == 1);
    CHECK(a.wait_time.count() == 1);  // the first acquire waited for its connect (no time)
    CHECK(a.wait_time.sum == 0ms);
    const connpool::pool_histograms b = kp.histograms("b");
    CHECK(b.use_time.count() == 2);
    CHECK(b.wait_time.count() == 2);
    CHECK(b.wait_time.sum == 20ms);
    const connpool::pool_histograms none = kp.histograms("never");
    CHECK(none.use_time.count() == 0);
    CHECK(none.create_time.count() == 0);
    CHECK(kp.keys() == 2);
    const connpool::pool_histograms all = kp.histograms();
    CHECK(all.use_time.count() == 3);
    CHECK(all.create_time.count() == 2);
    CHECK(all.wait_time.count() == 3);
    CHECK(all.wait_time.sum == 20ms);
    CHECK(all.use_time_measured);
}

TEST_CASE_METHOD(F, "clear(key) discards that key's connections, clear() every key's",
                 "[keyed][clear]")
{
    auto& kp = make_keyed();
    {
        auto a = acquire_now("a");
        auto b = acquire_now("b");
        auto c = acquire_now("c");
    }
    poll();
    kp.clear("a");
    poll();
    CHECK(kp.stats("a").idle == 0);
    CHECK(kp.stats("a").destroyed_cleared == 1);
    CHECK(kp.stats("b").idle == 1);
    kp.clear("unknown");  // nothing to do, no key created
    CHECK(kp.keys() == 3);
    kp.clear();
    poll();
    CHECK(kp.stats().idle == 0);
    CHECK(kp.stats().destroyed_cleared == 3);
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "close() fails the waiters of every key, and every later acquire",
                 "[keyed][close]")
{
    auto& kp = make_keyed({.per_key = {.max_size = 1}});
    auto a = acquire_now("a");
    auto b = acquire_now("b");
    auto wa = start_acquire("a");
    auto wb = start_acquire("b");
    kp.close();
    poll();
    REQUIRE(wa->called());
    CHECK(wa->ec() == errc::pool_closed);
    REQUIRE(wb->called());
    CHECK(wb->ec() == errc::pool_closed);
    auto late_known = start_acquire("a");
    REQUIRE(late_known->called());
    CHECK(late_known->ec() == errc::pool_closed);
    auto late_new = start_acquire("c");  // no key is created after close
    REQUIRE(late_new->called());
    CHECK(late_new->ec() == errc::pool_closed);
    CHECK(kp.keys() == 2);
    connpool::error_code ec;
    auto h = kp.acquire("c", 0ms, ec);
    CHECK(ec == errc::pool_closed);
    CHECK_THROWS_AS(kp.acquire("a", 0ms), boost::system::system_error);
    kp.close();                   // idempotent
    CHECK(backend->live() == 2);  // the lent ones stay valid...
    a.release();
    b.release();
    poll();
    CHECK(backend->live() == 0);  // ... and are destroyed when they come back
}

TEST_CASE_METHOD(F, "async_close completes once every key's connections are gone", "[keyed][close]")
{
    auto& kp = make_keyed();
    auto a = acquire_now("a");
    {
        auto b = acquire_now("b");
    }
    poll();
    checked_ec closed{connpool::test::must_complete};
    kp.async_close(closed.handler());
    poll();
    CHECK(!closed.called());  // a's lent connection still exists
    CHECK(backend->live() == 1);
    a.release();
    poll();
    REQUIRE(closed.called());
    CHECK(!closed.ec());
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "async_close of a keyed pool with no key completes at once", "[keyed][close]")
{
    auto& kp = make_keyed();
    checked_ec closed{connpool::test::must_complete};
    kp.async_close(closed.handler());
    CHECK(!closed.called());  // never inside the initiating call
    poll();
    CHECK(closed.called());
}

TEST_CASE_METHOD(F, "a blocking acquire lends an idle connection of its key", "[keyed][blocking]")
{
    auto& kp = make_keyed({.per_key = {.min_size = 1}});
    {
        auto first = acquire_now("a");  // creates a, and its min_size connection
    }
    poll();
    connpool::error_code ec;
    auto h = kp.acquire("a", 0ms, ec);
    CHECK(!ec);
    REQUIRE(h);
    auto none = kp.acquire("a", 0ms, ec);  // a's only connection is lent: times out at once
    CHECK(ec == errc::acquire_timeout);
    CHECK(!none);
}

TEST_CASE_METHOD(F, "a deferred acquire creates its key only when launched", "[keyed][tokens]")
{
    auto& kp = make_keyed();
    auto op = kp.async_acquire("a", boost::asio::deferred);
    poll();
    CHECK(kp.keys() == 0);
    connpool::test::checked_result<F::handle> r{connpool::test::must_complete};
    std::move(op)(r.handler());
    poll();
    REQUIRE(r.called());
    CHECK(!r.ec());
    CHECK(kp.keys() == 1);
}

TEST_CASE_METHOD(F, "a lease may outlive its keyed pool", "[keyed][close]")
{
    make_keyed();
    auto h = acquire_now("a");
    keyed_ptr.reset();
    poll();
    CHECK(h->id == 1);
    CHECK(backend->live() == 1);
    h.release();
    poll();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(FF, "the factory's ping, reset and is_healthy are called for every key",
                 "[keyed][health]")
{
    auto& kp = make_keyed({.per_key = {.validation_interval = 100ms, .keepalive_interval = 0ms}});
    {
        auto a = acquire_now("a");
        auto b = acquire_now("b");
    }
    poll();
    CHECK(backend->resets() == 2);  // one per key's returned connection
    CHECK(kp.stats("a").idle == 1);
    CHECK(kp.stats("b").idle == 1);
    const long checks = backend->health_checks();
    CHECK(checks >= 2);
    advance(200ms);  // both idle past validation_interval: pinged before they are lent
    auto a = acquire_now("a");
    auto b = acquire_now("b");
    CHECK(backend->pings() == 2);
    CHECK(backend->health_checks() > checks);
    backend->set_unhealthy(b->id);
    b.release();  // unhealthy: destroyed, not kept
    poll();
    CHECK(kp.stats("b").destroyed_broken == 1);
    CHECK(kp.stats("a").destroyed_broken == 0);
}

TEST_CASE("keyed_pool_options are validated, naming the field", "[keyed][options]")
{
    using namespace connpool::test;
    connpool::testing::manual_clock_guard clock;
    boost::asio::io_context ioc;
    auto backend = std::make_shared<connpool::testing::fake_backend>();
    auto log = std::make_shared<key_log>();
    auto make = [&](keyed_pool_options o) {
        F::keyed_type kp(ioc.get_executor(), keyed_fake_factory<>(ioc.get_executor(), backend, log),
                         std::move(o));
    };
    CHECK_THROWS_WITH(make({.max_total = 0}), Catch::Contains("keyed_pool_options::max_total"));
    CHECK_THROWS_WITH(make({.per_key = {.max_size = 0}}),
                      Catch::Contains("keyed_pool_options::per_key") &&
                          Catch::Contains("max_size"));
    CHECK_THROWS_AS(make({.per_key = {.min_size = 3, .max_size = 2}}), std::invalid_argument);
    CHECK_NOTHROW(make({.per_key = {.max_size = 2}, .max_total = 1}));
    connpool::test::poll_all(ioc);
}

// ------------------------------------------------------------------------ observer, leaks

namespace {
struct counting_observer : connpool::pool_observer<connpool::testing::fake_connection> {
    int connects = 0;
    std::vector<std::uint_least32_t> acquire_lines;
    void on_connect_finished(const connpool::connect_event& e) override
    {
        if (!e.error)
            ++connects;
    }
    void on_acquire(const connpool::acquire_event& e) override
    {
        acquire_lines.push_back(e.where.line());
    }
};
}  // namespace

TEST_CASE_METHOD(F, "one observer serves every key; leak call sites per key and summed",
                 "[keyed][observer][leak]")
{
    auto obs = std::make_shared<counting_observer>();
    auto& k = make_keyed({.per_key = {.max_size = 2, .leak_threshold = 1s}}, obs);
    auto a = acquire_now("a");
    auto b = acquire_now("b");
    CHECK(obs->connects == 2);
    b.release();
    const std::uint_least32_t line = __LINE__ + 1;
    auto b2 = k.try_acquire("b");
    REQUIRE(b2);
    CHECK(obs->acquire_lines.size() == 3);
    CHECK(obs->acquire_lines.back() == line);
    advance(1500ms);
    CHECK(k.stats("b").leases_overdue == 1);
    CHECK(k.stats("b").oldest_lease_where.line() == line);
    CHECK(k.stats("a").leases_overdue == 1);
    CHECK(k.stats().leases_overdue == 2);
    CHECK(k.stats().leaks_suspected == 2);
}
