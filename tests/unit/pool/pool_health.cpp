// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Health: optional factory members (ping, reset, is_healthy) detected at compile time,
// validation before lending, background keepalive, reset on return, invalidate()
// (issue items 2 and 8).

#include "support/pool_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

using F = fixture<connect_only_factory>;
using PF = fixture<ping_factory>;
using RF = fixture<reset_factory>;
using HF = fixture<health_factory>;
using FF = fixture<full_factory>;

// ---------------------------------------------------------------- optional members detected

TEST_CASE("optional factory members are detected at compile time", "[health][detect]")
{
    using connpool::factory_has_async_ping;
    using connpool::factory_has_async_reset;
    using connpool::factory_has_is_healthy;
    STATIC_REQUIRE(!factory_has_async_ping<connect_only_factory, fake_connection>);
    STATIC_REQUIRE(!factory_has_async_reset<connect_only_factory, fake_connection>);
    STATIC_REQUIRE(!factory_has_is_healthy<connect_only_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_async_ping<ping_factory, fake_connection>);
    STATIC_REQUIRE(!factory_has_async_reset<ping_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_async_reset<reset_factory, fake_connection>);
    STATIC_REQUIRE(!factory_has_async_ping<reset_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_is_healthy<health_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_async_ping<full_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_async_reset<full_factory, fake_connection>);
    STATIC_REQUIRE(factory_has_is_healthy<full_factory, fake_connection>);
}

TEST_CASE_METHOD(F, "a factory without async_ping lends long-idle connections as they are",
                 "[health][detect]")
{
    make_pool({.max_size = 1, .validation_interval = 500ms, .keepalive_interval = 1s});
    acquire_now().release();
    poll();
    advance_in_steps(10s, 1s);
    auto h = acquire_now();
    CHECK(h->id == 1);
    CHECK(backend->pings() == 0);
}

TEST_CASE_METHOD(RF, "a factory without async_ping still gets its resets", "[health][detect]")
{
    make_pool({.max_size = 1});
    acquire_now().release();
    poll();
    CHECK(backend->resets() == 1);
    CHECK(backend->pings() == 0);
}

TEST_CASE_METHOD(PF, "a factory without async_reset returns connections without a reset",
                 "[health][detect][reset]")
{
    auto& p = make_pool({.max_size = 1});
    {
        auto h = acquire_now();
        h->dirty = true;
    }
    poll();
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->dirty);  // nobody cleaned it
    CHECK(backend->resets() == 0);
}

// ------------------------------------------------------------------------------- validation

TEST_CASE_METHOD(PF,
                 "a connection idle longer than validation_interval is pinged before it is lent",
                 "[health][validation]")
{
    auto& p = make_pool({.max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(501ms);
    backend->push_ping(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(!r.called());  // lent only once the ping has succeeded
    CHECK(backend->pings() == 1);
    CHECK(backend->pinged_ids() == std::vector<int>{1});
    REQUIRE(backend->complete_next_ping());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 1);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(PF, "a recently used connection is lent without a ping", "[health][validation]")
{
    make_pool({.max_size = 1, .validation_interval = 500ms, .keepalive_interval = 0ms});
    for (int i = 0; i < 5; ++i) {
        acquire_now().release();
        poll();
        advance(400ms);
    }
    CHECK(backend->pings() == 0);
}

TEST_CASE_METHOD(PF, "a connection that fails validation is destroyed and the acquire goes on",
                 "[health][validation]")
{
    auto& p = make_pool({.max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(1s);
    backend->fail_pings_of(1);
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 2);  // a new connection
    CHECK(!backend->is_live(1));
    const auto s = p.stats();
    CHECK(s.destroyed_broken == 1);
    CHECK(s.size == 1);
}

TEST_CASE_METHOD(PF, "a failed validation falls back to the next idle connection",
                 "[health][validation]")
{
    auto& p = make_pool({.max_size = 3, .validation_interval = 500ms, .keepalive_interval = 0ms});
    {
        auto a = acquire_now();
        auto b = acquire_now();
        b.release();
        a.release();  // a (id 1) is on top
    }
    poll();
    advance(1s);
    backend->fail_pings_of(1);
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 2);
    CHECK(!backend->is_live(1));
    CHECK(backend->connects_started() == 2);  // no new connect needed
}

TEST_CASE_METHOD(PF, "validation_interval 0 pings before every lease", "[health][validation]")
{
    make_pool({.max_size = 1, .validation_interval = 0ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(1ms);
    acquire_now().release();
    poll();
    advance(1ms);
    acquire_now().release();
    poll();
    CHECK(backend->pings() >= 2);  // a freshly connected one need not be pinged
}

TEST_CASE_METHOD(PF, "an acquire whose deadline passes during validation times out cleanly",
                 "[health][validation][timeout]")
{
    auto& p = make_pool({.max_size = 1, .validation_interval = 500ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(1s);
    backend->push_ping(outcome::pending());
    acquire_result r;
    p.async_acquire(100ms, r.handler());
    poll();
    REQUIRE(backend->pending_pings() == 1);
    advance(101ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
    backend->complete_next_ping();
    poll();
    // The validated connection was not lost.
    CHECK(p.stats().idle == 1);
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 1);
}

TEST_CASE_METHOD(PF, "cancelling an acquire during validation returns the validated connection",
                 "[health][validation][cancel]")
{
    auto& p = make_pool({.max_size = 1, .validation_interval = 500ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(1s);
    backend->push_ping(outcome::pending());
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    REQUIRE(backend->pending_pings() == 1);
    sig.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    backend->complete_next_ping();
    poll();
    CHECK(p.stats().size == 1);
    CHECK(p.stats().idle == 1);
    CHECK(p.stats().in_use == 0);
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 1);
}

TEST_CASE_METHOD(PF, "a connection cleared during its validation is not lent",
                 "[health][validation][clear]")
{
    auto& p = make_pool({.max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    acquire_now().release();
    poll();
    advance(1s);
    backend->push_ping(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(backend->pending_pings() == 1);
    p.clear();
    backend->complete_next_ping();  // the ping succeeds, but the connection predates clear()
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 2);
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_cleared == 1);
}

// -------------------------------------------------------------------------------- keepalive

TEST_CASE_METHOD(PF, "idle connections are pinged in the background after keepalive_interval",
                 "[health][keepalive]")
{
    make_pool(
        {.min_size = 1, .max_size = 2, .validation_interval = 500ms, .keepalive_interval = 10s});
    REQUIRE(stats().idle == 1);
    advance_in_steps(5s, 500ms);
    CHECK(backend->pings() == 0);  // not idle long enough yet
    advance_in_steps(16s, 500ms);  // idle 21 s > 2 * keepalive_interval
    CHECK(backend->pings() >= 1);
    CHECK(stats().idle == 1);
    CHECK(backend->live() == 1);
}

TEST_CASE_METHOD(PF,
                 "a connection whose keepalive ping fails is destroyed and replaced up to min_size",
                 "[health][keepalive]")
{
    make_pool(
        {.min_size = 1, .max_size = 2, .validation_interval = 500ms, .keepalive_interval = 10s});
    backend->fail_pings_of(1);
    advance_in_steps(21s, 500ms);
    CHECK(backend->pings() >= 1);
    CHECK(!backend->is_live(1));
    CHECK(stats().destroyed_broken == 1);
    CHECK(backend->live() == 1);  // replaced
    CHECK(stats().idle == 1);
}

TEST_CASE_METHOD(PF, "keepalive keeps min_size connections while surplus ones still age out",
                 "[health][keepalive][idle]")
{
    make_pool({.min_size = 1,
               .max_size = 2,
               .idle_timeout = 10s,
               .max_lifetime = 0ms,
               .validation_interval = 500ms,
               .keepalive_interval = 2s});
    {
        auto a = acquire_now();
        auto b = acquire_now();
    }
    poll();
    REQUIRE(backend->live() == 2);
    advance_in_steps(21s, 250ms);  // 2 * idle_timeout + 1 s
    CHECK(backend->pings() >= 1);  // the connection kept for min_size was pinged...
    CHECK(backend->live() == 1);   // ...and the surplus one aged out all the same
    CHECK(stats().destroyed_idle == 1);
    CHECK(stats().destroyed_broken == 0);
}

TEST_CASE_METHOD(PF, "keepalive_interval 0 sends no background pings", "[health][keepalive]")
{
    make_pool(
        {.min_size = 2, .max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    advance_in_steps(300s, 5s);
    CHECK(backend->pings() == 0);
}

TEST_CASE_METHOD(PF, "lent connections are not pinged by keepalive", "[health][keepalive]")
{
    make_pool(
        {.min_size = 1, .max_size = 1, .validation_interval = 500ms, .keepalive_interval = 1s});
    auto h = acquire_now();
    advance_in_steps(10s, 250ms);
    CHECK(backend->pings() == 0);
}

TEST_CASE_METHOD(PF, "a connection being pinged in the background is lent once the ping succeeds",
                 "[health][keepalive][waiters]")
{
    auto& p = make_pool(
        {.min_size = 1, .max_size = 1, .validation_interval = 500ms, .keepalive_interval = 1s});
    backend->set_ping(outcome::pending());
    advance_until([&] { return backend->pending_pings() == 1; }, 100ms, 10s);
    REQUIRE(backend->pending_pings() == 1);
    CHECK(!p.try_acquire());  // never lent while it is being pinged
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(!r.called());
    CHECK(backend->connects_started() == 1);  // max_size 1: waits for the ping
    backend->set_ping(outcome::ok());
    REQUIRE(backend->complete_next_ping());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 1);
}

// ---------------------------------------------------------------------------------- is_healthy

TEST_CASE_METHOD(HF, "a connection that is_healthy rejects is destroyed, not lent",
                 "[health][is_healthy]")
{
    auto& p = make_pool({.max_size = 2});
    {
        auto h = acquire_now();
        backend->set_unhealthy(h->id);
    }
    poll();
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 2);
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_broken == 1);
    CHECK(backend->health_checks() >= 1);
}

TEST_CASE_METHOD(HF, "healthy connections are reused", "[health][is_healthy]")
{
    make_pool({.max_size = 2});
    acquire_now().release();
    poll();
    auto h = acquire_now();
    CHECK(h->id == 1);
    CHECK(backend->health_checks() >= 1);
}

// ------------------------------------------------------------------------------------ reset

TEST_CASE_METHOD(RF, "a returned connection is reset before it is lent again", "[health][reset]")
{
    make_pool({.max_size = 1});
    {
        auto h = acquire_now();
        h->dirty = true;
    }
    poll();  // eager: the reset runs now, not at the next acquire
    CHECK(backend->resets() == 1);
    CHECK(backend->reset_ids() == std::vector<int>{1});
    auto h = acquire_now();
    CHECK(h->id == 1);
    CHECK(!h->dirty);
}

TEST_CASE_METHOD(RF, "a connection is not available until its reset completes", "[health][reset]")
{
    auto& p = make_pool({.max_size = 1});
    auto h = acquire_now();
    backend->push_reset(outcome::pending());
    h.release();
    poll();
    REQUIRE(backend->pending_resets() == 1);
    auto s = p.stats();
    CHECK(s.idle == 0);
    CHECK(s.in_use == 0);
    CHECK(s.size == 1);
    CHECK(s.maintenance == 1);
    CHECK(!p.try_acquire());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(!r.called());
    CHECK(backend->connects_started() == 1);  // max_size 1: it must wait for the reset
    REQUIRE(backend->complete_next_reset());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 1);
}

TEST_CASE_METHOD(RF, "a connection whose reset fails is destroyed", "[health][reset]")
{
    auto& p = make_pool({.max_size = 1});
    backend->push_reset(outcome::fail(asio::error::connection_reset));
    acquire_now().release();
    poll();
    CHECK(backend->resets() == 1);
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_broken == 1);
    CHECK(p.stats().size == 0);
    auto h = acquire_now();
    CHECK(h->id == 2);
}

TEST_CASE_METHOD(RF, "a failed reset below min_size is replaced", "[health][reset][min_size]")
{
    make_pool({.min_size = 1, .max_size = 1});
    backend->push_reset(outcome::fail(asio::error::connection_reset));
    acquire_now().release();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(backend->live() == 1);
    CHECK(stats().idle == 1);
}

TEST_CASE_METHOD(RF, "a connection being reset serves the next waiter without an extra connect",
                 "[health][reset][demand]")
{
    auto& p = make_pool({.max_size = 2});
    auto h = acquire_now();
    backend->push_reset(outcome::pending());
    h.release();
    poll();
    REQUIRE(backend->pending_resets() == 1);
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(backend->connects_started() == 1);  // the connection on its way will serve it
    REQUIRE(backend->complete_next_reset());
    poll();
    REQUIRE(r.called_once());
    CHECK(r.value()->id == 1);
}

TEST_CASE_METHOD(RF, "a connection cleared during its reset is discarded", "[health][reset][clear]")
{
    auto& p = make_pool({.max_size = 1});
    backend->push_reset(outcome::pending());
    acquire_now().release();
    poll();
    REQUIRE(backend->pending_resets() == 1);
    p.clear();
    backend->complete_next_reset();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_cleared == 1);
    auto h = acquire_now();
    CHECK(h->id == 2);
}

TEST_CASE_METHOD(RF, "a waiter gets the connection after its reset", "[health][reset][waiters]")
{
    auto& p = make_pool({.max_size = 1});
    auto h = acquire_now();
    h->dirty = true;
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    h.release();
    poll();
    REQUIRE(r.called_once());
    CHECK(r.value()->id == 1);
    CHECK(!r.value()->dirty);
    CHECK(backend->resets() == 1);
}

// ------------------------------------------------------------------------------- invalidate

TEST_CASE_METHOD(F, "an invalidated connection is destroyed instead of reused",
                 "[health][invalidate]")
{
    auto& p = make_pool({.max_size = 2});
    {
        auto h = acquire_now();
        h.invalidate();
    }
    poll();
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_broken == 1);
    CHECK(p.stats().size == 0);
    CHECK(!p.try_acquire());
    auto h = acquire_now();
    CHECK(h->id == 2);
}

TEST_CASE_METHOD(FF, "an invalidated connection is not handed to a waiter", "[health][invalidate]")
{
    auto& p = make_pool({.max_size = 1});
    auto h = acquire_now();
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    h.invalidate();
    h.release();
    poll();
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id == 2);  // the waiter gets a fresh connection
    CHECK(!backend->is_live(1));
    CHECK(p.stats().destroyed_broken == 1);
}
