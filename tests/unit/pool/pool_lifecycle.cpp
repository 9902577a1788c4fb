// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Lifecycle: idle reaping above min_size, max_lifetime with jitter, clear(), close(),
// async_close(), the destructor, and leases that outlive their pool (issue item 9).

#include "support/pool_fixture.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <iterator>
#include <set>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

using F = fixture<>;
using RF = fixture<reset_factory>;

// ---------------------------------------------------------------------------- idle reaping

TEST_CASE_METHOD(
    F, "a connection above min_size is closed by 2 * idle_timeout + 1 s after its last use",
    "[lifecycle][idle]")
{
    auto& p = make_pool({.max_size = 2, .idle_timeout = 10s, .max_lifetime = 0ms});
    acquire_now().release();
    poll();
    advance_in_steps(9s, 100ms);
    CHECK(backend->live() == 1);  // not idle for idle_timeout yet
    CHECK(p.stats().destroyed_idle == 0);
    advance_in_steps(12s, 100ms);  // 21 s = 2 * idle_timeout + 1 s
    CHECK(backend->live() == 0);
    CHECK(p.stats().destroyed_idle == 1);
    CHECK(p.stats().size == 0);
    CHECK(p.stats().idle == 0);
}

TEST_CASE_METHOD(F, "idle reaping never goes below min_size", "[lifecycle][idle][min_size]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 4, .idle_timeout = 10s, .max_lifetime = 0ms});
    {
        auto a = acquire_now();
        auto b = acquire_now();
        auto c = acquire_now();
        auto d = acquire_now();
    }
    poll();
    REQUIRE(backend->live() == 4);
    advance_in_steps(100s, 1s);
    CHECK(backend->live() == 2);
    CHECK(p.stats().destroyed_idle == 2);
    CHECK(p.stats().size == 2);
    CHECK(backend->connects_started() == 4);  // reaped down, not reaped and re-created
}

TEST_CASE_METHOD(F, "a connection in use is never reaped for idleness", "[lifecycle][idle]")
{
    make_pool({.max_size = 2, .idle_timeout = 10s, .max_lifetime = 0ms});
    auto h = acquire_now();
    advance_in_steps(60s, 1s);
    CHECK(backend->is_live(1));
    h.release();
    poll();
    CHECK(stats().idle == 1);  // its idle time starts now
}

TEST_CASE_METHOD(F, "hot connections are reused and surplus ones sink and age out",
                 "[lifecycle][idle][lifo]")
{
    make_pool({.max_size = 3, .idle_timeout = 10s, .max_lifetime = 0ms});
    int hot = 0;
    {
        auto a = acquire_now();
        auto b = acquire_now();
        auto c = acquire_now();
        hot = a->id;
    }  // a is returned last (locals die in reverse order): it is on top
    poll();
    for (int i = 0; i < 30; ++i) {  // one acquirer at a time, every 2 s, for 60 s
        auto h = acquire_now();
        CHECK(h->id == hot);
        h.release();
        poll();
        advance(2s);
    }
    CHECK(backend->live() == 1);
    CHECK(backend->is_live(hot));
    CHECK(stats().destroyed_idle == 2);
}

TEST_CASE_METHOD(F, "idle_timeout 0 never reaps", "[lifecycle][idle]")
{
    make_pool({.max_size = 2, .idle_timeout = 0ms, .max_lifetime = 0ms});
    acquire_now().release();
    poll();
    advance_in_steps(3600s, 60s);
    CHECK(backend->live() == 1);
    CHECK(stats().destroyed_idle == 0);
}

// ------------------------------------------------------------------------------ max_lifetime

TEST_CASE_METHOD(F, "an idle connection past its lifetime is retired and never lent",
                 "[lifecycle][lifetime]")
{
    auto& p = make_pool(
        {.max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s, .lifetime_jitter = 0.1});
    acquire_now().release();
    poll();
    advance(101s);
    auto h = acquire_now();
    CHECK(h->id == 2);
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_lifetime == 1);
}

TEST_CASE_METHOD(F, "a connection lives at least max_lifetime * (1 - lifetime_jitter)",
                 "[lifecycle][lifetime]")
{
    make_pool({.max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s, .lifetime_jitter = 0.1});
    acquire_now().release();
    poll();
    for (int s = 0; s < 89; ++s) {  // in use every second, 89 s in all
        advance(1s);
        auto h = acquire_now();
        CHECK(h->id == 1);
    }
    CHECK(stats().destroyed_lifetime == 0);
}

TEST_CASE_METHOD(F, "with lifetime_jitter 0 a connection lives exactly max_lifetime",
                 "[lifecycle][lifetime]")
{
    make_pool({.max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s, .lifetime_jitter = 0.0});
    acquire_now().release();
    poll();
    advance(99s);
    CHECK(acquire_now()->id == 1);
    advance(2s);
    CHECK(acquire_now()->id == 2);
    CHECK(stats().destroyed_lifetime == 1);
}

TEST_CASE_METHOD(F, "an idle connection is retired in the background after its lifetime",
                 "[lifecycle][lifetime]")
{
    make_pool({.max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s, .lifetime_jitter = 0.1});
    acquire_now().release();
    poll();
    advance_in_steps(111s, 1s);  // max_lifetime plus a margin for the spreading of retirements
    CHECK(backend->live() == 0);
    CHECK(stats().destroyed_lifetime == 1);
}

TEST_CASE_METHOD(F, "a lent connection past its lifetime is retired when it comes back",
                 "[lifecycle][lifetime]")
{
    auto& p = make_pool({.max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s});
    auto h = acquire_now();
    advance_in_steps(150s, 1s);
    CHECK(backend->is_live(1));  // never taken away from its holder
    CHECK(h->id == 1);
    h.release();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_lifetime == 1);
    CHECK(p.stats().size == 0);
}

TEST_CASE_METHOD(F, "a connection returned past its lifetime is not handed to a waiter",
                 "[lifecycle][lifetime][waiters]")
{
    auto& p = make_pool(
        {.max_size = 1, .acquire_timeout = 3600s, .idle_timeout = 0ms, .max_lifetime = 100s});
    auto h = acquire_now();
    advance(50s);
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    advance(60s);  // h is now past its lifetime
    h.release();
    poll();
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id == 2);
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_lifetime == 1);
}

TEST_CASE_METHOD(F, "retirement below min_size opens a replacement",
                 "[lifecycle][lifetime][min_size]")
{
    make_pool({.min_size = 1, .max_size = 1, .idle_timeout = 0ms, .max_lifetime = 100s});
    advance_in_steps(120s, 1s);
    CHECK(!backend->is_live(1));
    CHECK(backend->live() == 1);
    CHECK(stats().destroyed_lifetime == 1);
    CHECK(stats().idle == 1);
}

TEST_CASE_METHOD(F, "lifetimes are jittered so connections opened together do not retire together",
                 "[lifecycle][lifetime]")
{
    make_pool({.min_size = 10,
               .max_size = 10,
               .idle_timeout = 0ms,
               .max_lifetime = 100s,
               .lifetime_jitter = 0.2,
               .max_concurrent_connects = 10});
    REQUIRE(backend->live() == 10);
    std::vector<long> retire_times;  // seconds since start, one per original connection
    std::set<int> seen;
    for (long s = 1; s <= 300; ++s) {
        advance(1s);
        for (int id = 1; id <= 10; ++id)
            if (!backend->is_live(id) && seen.insert(id).second)
                retire_times.push_back(s);
    }
    REQUIRE(retire_times.size() == 10);  // every original connection was retired eventually
    // Each lifetime is drawn in (80 s, 100 s] (100 s - 20 %), and retirements before the full
    // max_lifetime are spaced max_lifetime / max_size = 10 s apart (core/lifetime.hpp's
    // retire_limiter); at 100 s whatever is left retires. So the first retirement comes at the
    // earliest draw, and the ones before 100 s are 10 s apart: two or three instants. (Asking
    // for three failed once in ~1000 runs: when every draw is above 90 s, probability 2^-10,
    // only the earliest and the 100 s retirements can happen.)
    const std::set<long> distinct(retire_times.begin(), retire_times.end());
    CHECK(*distinct.begin() >= 80);
    CHECK(*distinct.rbegin() <= 101);  // none outlives max_lifetime (+ one step of the test)
    CHECK(distinct.size() >= 2);       // not all at once
    for (auto it = distinct.begin(); std::next(it) != distinct.end(); ++it)
        if (*std::next(it) < 100)
            CHECK(*std::next(it) - *it >= 10);  // spread: one retirement per 10 s
    CHECK(backend->live() == 10);               // replaced: min_size
    CHECK(stats().destroyed_lifetime >= 10);
}

TEST_CASE_METHOD(F, "max_lifetime 0 never retires", "[lifecycle][lifetime]")
{
    make_pool({.min_size = 1, .max_size = 1, .idle_timeout = 0ms, .max_lifetime = 0ms});
    advance_in_steps(48h, 1h);
    CHECK(backend->is_live(1));
    CHECK(stats().destroyed_lifetime == 0);
}

// ------------------------------------------------------------------------------------ clear

TEST_CASE_METHOD(F, "clear discards idle connections now and lent ones when they come back",
                 "[lifecycle][clear]")
{
    auto& p = make_pool({.max_size = 4});
    auto a = acquire_now();
    {
        auto b = acquire_now();
        auto c = acquire_now();
    }
    poll();
    REQUIRE(p.stats().idle == 2);
    p.clear();
    poll();
    CHECK(!backend->is_live(2));
    CHECK(!backend->is_live(3));
    CHECK(p.stats().destroyed_cleared == 2);
    CHECK(p.stats().idle == 0);
    CHECK(backend->is_live(1));  // still lent, still usable
    CHECK(a->id == 1);
    a.release();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_cleared == 3);
    CHECK(p.stats().size == 0);
    auto fresh = acquire_now();
    CHECK(fresh->id == 4);
}

TEST_CASE_METHOD(F, "connections opened after clear are kept", "[lifecycle][clear]")
{
    make_pool({.max_size = 2});
    acquire_now().release();
    poll();
    pool().clear();
    poll();
    acquire_now().release();
    poll();
    auto h = acquire_now();
    CHECK(h->id == 2);
    CHECK(stats().destroyed_cleared == 1);
}

TEST_CASE_METHOD(F, "clear keeps min_size by opening new connections",
                 "[lifecycle][clear][min_size]")
{
    make_pool({.min_size = 2, .max_size = 4});
    pool().clear();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(!backend->is_live(2));
    CHECK(backend->live() == 2);
    CHECK(stats().idle == 2);
    CHECK(stats().destroyed_cleared == 2);
}

TEST_CASE_METHOD(F, "clear leaves waiters waiting and serves them with new connections",
                 "[lifecycle][clear][waiters]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    p.clear();
    held.release();  // discarded, not handed to the waiter
    poll();
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id == 2);
    CHECK(!backend->is_live(1));
}

TEST_CASE_METHOD(F, "a connect in flight during clear is discarded when it completes",
                 "[lifecycle][clear][connect]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    REQUIRE(backend->pending_connects() == 1);
    p.clear();
    REQUIRE(backend->complete_next_connect());  // opened before the clear: stale
    poll();
    CHECK((!w.called() || w.value()->id != 1));
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_cleared == 1);
    // The waiter is still served, by a connection opened after the clear.
    backend->set_connect(outcome::ok());
    backend->complete_next_connect();
    advance_until([&] { return w.called(); }, 10ms, 2s);
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id >= 2);
}

// ------------------------------------------------------------------------------- leak detection

TEST_CASE_METHOD(F, "a lease held longer than leak_threshold is counted as a suspected leak",
                 "[lifecycle][leaks][stats]")
{
    auto& p = make_pool({.max_size = 2, .leak_threshold = 1s});
    {
        auto quick = acquire_now();
        advance(500ms);
    }
    poll();
    CHECK(p.stats().leaks_suspected == 0);
    {
        auto slow = acquire_now();
        advance_in_steps(3s, 100ms);
    }
    poll();
    CHECK(p.stats().leaks_suspected == 1);
}

TEST_CASE_METHOD(F, "leak_threshold 0 counts no leaks", "[lifecycle][leaks][stats]")
{
    auto& p = make_pool({.max_size = 1, .leak_threshold = 0ms});
    {
        auto h = acquire_now();
        advance_in_steps(3600s, 60s);
    }
    poll();
    CHECK(p.stats().leaks_suspected == 0);
}

// ------------------------------------------------------------------------------------ close

TEST_CASE_METHOD(F, "close fails every waiter with pool_closed", "[lifecycle][close]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result w1, w2;
    p.async_acquire(w1.handler());
    p.async_acquire(w2.handler());
    poll();
    p.close();
    poll();
    REQUIRE(w1.called_once());
    REQUIRE(w2.called_once());
    CHECK(w1.ec() == errc::pool_closed);
    CHECK(w2.ec() == errc::pool_closed);
    CHECK(p.stats().waiters == 0);
}

TEST_CASE_METHOD(F, "every acquire after close fails with pool_closed", "[lifecycle][close]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 2});
    p.close();
    poll();
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::pool_closed);
    CHECK(!p.try_acquire());
    error_code ec;
    auto h = p.acquire(1s, ec);
    CHECK(ec == errc::pool_closed);
    CHECK(!h);
    try {
        (void)p.acquire(1s);
        FAIL("acquire did not throw");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == errc::pool_closed);
    }
    CHECK(backend->connects_started() == 1);  // nothing was opened after close
}

TEST_CASE_METHOD(F, "close destroys idle connections now and lent ones when they come back",
                 "[lifecycle][close]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 3});
    auto lent = acquire_now();
    p.close();
    poll();
    CHECK(backend->live() == 1);
    CHECK(p.stats().destroyed_closed == 1);
    CHECK(lent->id >= 1);  // still usable
    lent.release();
    poll();
    CHECK(backend->live() == 0);
    CHECK(p.stats().destroyed_closed == 2);
    CHECK(p.stats().size == 0);
    advance_in_steps(10s, 1s);
    CHECK(backend->connects_started() == 2);  // min_size is not kept after close
}

TEST_CASE_METHOD(RF, "a reset cut short by close counts as closed, not as broken",
                 "[lifecycle][close][reset]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_reset(outcome::pending());
    acquire_now().release();
    poll();  // its reset is now in flight
    REQUIRE(backend->resets() == 1);
    p.close();
    poll();
    // The driver gives up on it (as a real one does when its socket is torn down).
    REQUIRE(backend->complete_next_reset(boost::asio::error::operation_aborted));
    poll();
    CHECK(backend->live() == 0);
    CHECK(p.stats().destroyed_closed == 1);
    CHECK(p.stats().destroyed_broken == 0);
}

TEST_CASE_METHOD(F, "close is idempotent", "[lifecycle][close]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    p.close();
    p.close();
    poll();
    p.close();
    poll();
    CHECK(p.stats().destroyed_closed == 1);
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "a connect in flight at close does not survive it", "[lifecycle][close]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(backend->connects_started() == 1);
    p.close();
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::pool_closed);
    backend->complete_next_connect();  // if it was not cancelled, it completes now
    poll();
    CHECK(backend->live() == 0);
    CHECK(p.stats().size == 0);
}

// ------------------------------------------------------------------------------ async_close

TEST_CASE_METHOD(F, "async_close completes once every connection is gone", "[lifecycle][close]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 3});
    auto lent = acquire_now();
    checked_ec closed;
    p.async_close(closed.handler());
    CHECK(closed.calls() == 0);
    poll();
    CHECK(!closed.called());  // a lease is still out
    CHECK(backend->live() == 1);
    lent.release();
    poll();
    REQUIRE(closed.called_once());
    CHECK(!closed.ec());
    CHECK(backend->live() == 0);
    CHECK(p.stats().size == 0);
}

TEST_CASE_METHOD(F, "async_close waits for a connect in flight", "[lifecycle][close]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    checked_ec closed;
    p.async_close(closed.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::pool_closed);
    if (!closed.called()) {
        backend->complete_next_connect();
        poll();
    }
    REQUIRE(closed.called_once());
    CHECK(!closed.ec());
    CHECK(backend->live() == 0);
    CHECK(backend->connects_in_flight() == 0);
}

TEST_CASE_METHOD(F, "async_close on an empty pool completes, never inline", "[lifecycle][close]")
{
    auto& p = make_pool();
    checked_ec closed;
    p.async_close(closed.handler());
    CHECK(closed.calls() == 0);
    poll();
    REQUIRE(closed.called_once());
    CHECK(!closed.ec());
}

TEST_CASE_METHOD(F, "a second async_close completes too", "[lifecycle][close]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    checked_ec first, second;
    p.async_close(first.handler());
    poll();
    p.async_close(second.handler());
    poll();
    CHECK(first.called_once());
    CHECK(second.called_once());
}

TEST_CASE_METHOD(RF, "async_close waits for a reset in progress", "[lifecycle][close][reset]")
{
    auto& p = make_pool({.max_size = 1});
    backend->push_reset(outcome::pending());
    acquire_now().release();
    poll();
    REQUIRE(backend->pending_resets() == 1);
    checked_ec closed;
    p.async_close(closed.handler());
    poll();
    CHECK(!closed.called());
    backend->complete_next_reset();
    poll();
    REQUIRE(closed.called_once());
    CHECK(backend->live() == 0);
}

// ------------------------------------------------------------------------------- destructor

TEST_CASE_METHOD(F, "destroying the pool fails its waiters with pool_closed",
                 "[lifecycle][destroy]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    destroy_pool();
    REQUIRE(w.called_once());
    CHECK(w.ec() == errc::pool_closed);
    held.release();
    poll();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "destroying the pool closes its idle connections", "[lifecycle][destroy]")
{
    make_pool({.min_size = 3, .max_size = 3, .max_concurrent_connects = 3});
    REQUIRE(backend->live() == 3);
    destroy_pool();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "a lease outliving its pool can still be used and returned",
                 "[lifecycle][destroy]")
{
    make_pool({.max_size = 2});
    auto h = acquire_now();
    destroy_pool();
    REQUIRE(h);
    CHECK(h->id == 1);
    h->uses = 7;  // the connection is still there
    CHECK(backend->is_live(1));
    h.release();
    poll();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "a lease outliving its pool may be destroyed without polling",
                 "[lifecycle][destroy]")
{
    make_pool({.max_size = 2});
    {
        auto h = acquire_now();
        destroy_pool();
    }  // returned to a pool object that no longer exists
    poll();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "destroying the pool with a connect in flight is safe", "[lifecycle][destroy]")
{
    make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    acquire_result r;
    pool().async_acquire(r.handler());
    poll();
    destroy_pool();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::pool_closed);
    backend->complete_next_connect();
    poll();
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "background work stops with the pool", "[lifecycle][destroy]")
{
    make_pool({.min_size = 2, .max_size = 2, .idle_timeout = 1s, .max_lifetime = 10s});
    destroy_pool();
    const long started = backend->connects_started();
    advance_in_steps(60s, 1s);
    CHECK(backend->connects_started() == started);
    CHECK(backend->live() == 0);
    // Nothing of the pool is left in the io_context (no timer, no work guard): a run() would
    // return. poll() stops an io_context that has run out of work.
    ioc.restart();
    ioc.poll();
    CHECK(ioc.stopped());
}
