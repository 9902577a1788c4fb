// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Deadlines, connect timeouts, retry backoff, the last connect error, max_waiters, and
// per-operation cancellation (issue items 6 and 7).

#include "support/pool_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>

#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

using F = fixture<>;

// ------------------------------------------------------------------------- acquire deadlines

TEST_CASE_METHOD(F, "an acquire that waits past its timeout fails with acquire_timeout",
                 "[timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result r;
    p.async_acquire(100ms, r.handler());
    poll();
    advance(99ms);
    CHECK(!r.called());
    CHECK(p.stats().waiters == 1);
    advance(2ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
    CHECK(r.ec() == boost::system::errc::timed_out);
    CHECK(!r.value());
    const auto s = p.stats();
    CHECK(s.timeouts == 1);
    CHECK(s.waiters == 0);
    CHECK(s.acquired == 1);
}

TEST_CASE_METHOD(F, "the default acquire timeout is pool_options::acquire_timeout", "[timeout]")
{
    auto& p = make_pool({.max_size = 1, .acquire_timeout = 2s});
    auto held = acquire_now();
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    advance(1999ms);
    CHECK(!r.called());
    advance(2ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
}

TEST_CASE_METHOD(F, "a zero timeout fails at once when nothing is idle", "[timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result r;
    p.async_acquire(0ms, r.handler());
    CHECK(r.calls() == 0);
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
    CHECK(p.stats().waiters == 0);
}

TEST_CASE_METHOD(F, "a zero timeout still gets an idle connection", "[timeout]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    acquire_result r;
    p.async_acquire(0ms, r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value());
}

TEST_CASE_METHOD(F, "a timed-out waiter leaves neither a waiter nor a lost connection behind",
                 "[timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result r;
    p.async_acquire(50ms, r.handler());
    poll();
    advance(51ms);
    REQUIRE(r.called_once());
    held.release();
    poll();
    CHECK(p.stats().idle == 1);
    CHECK(p.stats().size == 1);
    auto again = acquire_now();
    CHECK(again->id == 1);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F, "only the expired waiter times out; later waiters keep their place",
                 "[timeout][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result slow, quick, last;
    p.async_acquire(10s, slow.handler());
    p.async_acquire(1s, quick.handler());
    p.async_acquire(10s, last.handler());
    poll();
    advance(1001ms);
    REQUIRE(quick.called_once());
    CHECK(quick.ec() == errc::acquire_timeout);
    CHECK(!slow.called());
    CHECK(!last.called());
    held.release();
    poll();
    REQUIRE(slow.called_once());
    CHECK(!slow.ec());
    CHECK(!last.called());
    slow.value().release();
    poll();
    REQUIRE(last.called_once());
    CHECK(!last.ec());
}

TEST_CASE_METHOD(F,
                 "a deadline that passes while the connection is being handed over loses nothing",
                 "[timeout][handoff]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result r;
    p.async_acquire(100ms, r.handler());
    poll();
    held.release();                // handed to the waiter...
    manual_clock::advance(101ms);  // ...whose deadline passes before anything runs
    poll();
    REQUIRE(r.called_once());
    if (r.ec()) {
        CHECK(r.ec() == errc::acquire_timeout);
        CHECK(!r.value());
    } else {
        CHECK(r.value());
        r.value().release();
    }
    poll();
    CHECK(p.stats().in_use == 0);
    CHECK(p.stats().idle == 1);
    auto again = p.try_acquire();
    REQUIRE(again);
    CHECK((*again)->id == 1);
}

TEST_CASE_METHOD(F, "a connect that completes after its waiter timed out yields an idle connection",
                 "[timeout][connect]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(100ms, r.handler());
    poll();
    advance(101ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
    REQUIRE(backend->complete_next_connect());
    poll();
    CHECK(p.stats().size == 1);
    CHECK(p.stats().idle == 1);
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 1);
}

TEST_CASE_METHOD(F, "a huge timeout never expires (no overflow)", "[timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result r1, r2;
    p.async_acquire(std::chrono::milliseconds::max(), r1.handler());
    p.async_acquire(std::chrono::hours(24 * 365 * 1000), r2.handler());
    poll();
    advance(24h);
    CHECK(!r1.called());  // an overflowed deadline would have fired at once
    CHECK(!r2.called());
    held.release();
    poll();
    REQUIRE(r1.called_once());
    CHECK(!r1.ec());
    r1.value().release();
    poll();
    REQUIRE(r2.called_once());
    CHECK(!r2.ec());
}

TEST_CASE_METHOD(fixture<ping_factory>,
                 "huge durations in the options mean 'very long', not overflow",
                 "[timeout][options]")
{
    // milliseconds::max() (or anything beyond ~292 years) does not fit the clock's nanoseconds:
    // the pool must saturate, not wrap around to "already expired".
    using ms = std::chrono::milliseconds;
    constexpr ms huge = ms::max();
    SECTION("acquire_timeout")
    {
        auto& p = make_pool({.max_size = 1, .acquire_timeout = huge});
        auto h = acquire_now();
        acquire_result w;
        p.async_acquire(w.handler());
        poll();
        advance_in_steps(48h, 1h);
        CHECK(!w.called());
    }
    SECTION("connect_timeout")
    {
        auto& p = make_pool({.max_size = 1, .connect_timeout = huge});
        backend->set_connect(outcome::pending());
        acquire_result w;
        p.async_acquire(w.handler());
        poll();
        advance_in_steps(48h, 1h);
        CHECK(p.stats().connect_failures == 0);
        CHECK(backend->pending_connects() == 1);
    }
    SECTION("idle_timeout")
    {
        auto& p = make_pool(
            {.max_size = 1, .idle_timeout = huge, .max_lifetime = 0ms, .keepalive_interval = 0ms});
        acquire_now().release();
        poll();
        advance_in_steps(48h, 1h);
        CHECK(p.stats().destroyed_idle == 0);
        CHECK(backend->live() == 1);
    }
    SECTION("max_lifetime")
    {
        auto& p = make_pool({.min_size = 1, .max_size = 1, .max_lifetime = huge});
        advance_in_steps(48h, 1h);
        CHECK(p.stats().destroyed_lifetime == 0);
        CHECK(backend->is_live(1));
    }
    SECTION("validation_interval")
    {
        make_pool({.max_size = 1,
                   .max_lifetime = 0ms,
                   .validation_interval = huge,
                   .keepalive_interval = 0ms});
        acquire_now().release();
        poll();
        advance(1h);
        acquire_now().release();
        poll();
        CHECK(backend->pings() == 0);
    }
    SECTION("keepalive_interval")
    {
        make_pool({.min_size = 1, .max_size = 1, .max_lifetime = 0ms, .keepalive_interval = huge});
        advance_in_steps(48h, 1h);
        CHECK(backend->pings() == 0);
    }
    SECTION("leak_threshold")
    {
        auto& p = make_pool({.max_size = 1, .leak_threshold = huge});
        auto h = acquire_now();
        advance_in_steps(48h, 1h);
        h.release();
        poll();
        CHECK(p.stats().leaks_suspected == 0);
    }
}

TEST_CASE_METHOD(F, "timed-out and cancelled waiters no longer count toward max_waiters",
                 "[exhausted][timeout]")
{
    auto& p = make_pool({.max_size = 1, .max_waiters = 1});
    auto held = acquire_now();
    acquire_result first;
    p.async_acquire(50ms, first.handler());
    poll();
    advance(51ms);
    REQUIRE(first.called_once());
    CHECK(first.ec() == errc::acquire_timeout);
    acquire_result second;
    p.async_acquire(second.handler());
    poll();
    CHECK(!second.called());  // accepted as the one waiter
    CHECK(p.stats().exhausted == 0);
    held.release();
    poll();
    REQUIRE(second.called_once());
    CHECK(!second.ec());
}

// ------------------------------------------------------------------------ connect timeouts

TEST_CASE_METHOD(
    F, "a connect slower than connect_timeout fails with connect_timeout and frees its slot",
    "[timeout][connect]")
{
    auto& p = make_pool({.max_size = 1,
                         .acquire_timeout = 60s,
                         .connect_timeout = 1s,
                         .backoff_initial = 100ms,
                         .backoff_max = 100ms});
    backend->push_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(backend->connects_started() == 1);
    CHECK(p.stats().pending == 1);
    advance(999ms);
    CHECK(p.stats().connect_failures == 0);
    advance(2ms);
    auto s = p.stats();
    CHECK(s.connect_failures == 1);
    CHECK(s.last_connect_error == errc::connect_timeout);
    CHECK(s.last_connect_error == boost::system::errc::timed_out);
    CHECK(s.pending == 0);
    CHECK(s.size == 0);                       // the slot is free again
    CHECK(backend->pending_connects() == 0);  // the attempt was cancelled, not abandoned
    CHECK(!r.called());                       // the waiter keeps waiting for its own deadline
    // After the backoff a new attempt succeeds and serves the waiter.
    advance_until([&] { return r.called(); }, 10ms, 1s);
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(backend->connects_started() == 2);
    CHECK(p.stats().size == 1);
}

TEST_CASE_METHOD(F, "a waiter whose connects time out reports connect_timeout",
                 "[timeout][connect][last_error]")
{
    // Attempt at 0 ms times out at 300 ms; the retry comes after a backoff of 250..500 ms, so at
    // the waiter's deadline (500 ms) no attempt is in flight and the last one timed out.
    auto& p = make_pool(
        {.max_size = 1, .connect_timeout = 300ms, .backoff_initial = 500ms, .backoff_max = 500ms});
    backend->set_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(500ms, r.handler());
    poll();
    advance_in_steps(500ms, 10ms);
    advance(1ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::connect_timeout);
    CHECK(p.stats().connect_failures == 1);
}

// ------------------------------------------------------------------------------- backoff

namespace {
// Time from one failed attempt to the next, measured on the manual clock in 5 ms steps.
template <class Fx>
std::chrono::milliseconds time_to_next_attempt(Fx& fx)
{
    const long before = fx.backend->connects_started();
    return fx.advance_until([&] { return fx.backend->connects_started() > before; }, 5ms, 60s);
}
}  // namespace

TEST_CASE_METHOD(F, "after failures the next connect waits for a growing, capped backoff",
                 "[backoff][connect]")
{
    auto& p = make_pool(
        {.max_size = 2, .acquire_timeout = 3600s, .backoff_initial = 100ms, .backoff_max = 800ms});
    backend->set_connect(outcome::fail(refused()));
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(backend->connects_started() == 1);
    CHECK(p.stats().connect_failures == 1);
    // Nominal delays 100, 200, 400, 800, 800, 800 ms; jitter may shorten each by up to 50 %.
    const long nominal[] = {100, 200, 400, 800, 800, 800};
    for (long n : nominal) {
        const auto waited = time_to_next_attempt(*this);
        INFO("nominal backoff " << n << " ms, waited " << waited.count() << " ms");
        CHECK(waited.count() >= n / 2);
        CHECK(waited.count() <= n + 5);
    }
    CHECK(backend->connects_in_flight() == 0);
    CHECK(!r.called());
    CHECK(p.stats().size == 0);
}

TEST_CASE_METHOD(F, "connect attempts are not retried at once after a failure",
                 "[backoff][connect]")
{
    auto& p = make_pool(
        {.max_size = 4, .max_concurrent_connects = 4, .backoff_initial = 100ms, .backoff_max = 2s});
    backend->set_connect(outcome::fail(refused()));
    std::vector<std::unique_ptr<acquire_result>> rs;
    for (int i = 0; i < 4; ++i) {
        rs.push_back(std::make_unique<acquire_result>());
        p.async_acquire(rs.back()->handler());
    }
    poll();
    const long first_wave = backend->connects_started();
    CHECK(first_wave >= 1);
    CHECK(first_wave <= 4);
    advance(49ms);  // shorter than any jittered first backoff
    CHECK(backend->connects_started() == first_wave);
}

TEST_CASE_METHOD(F, "a successful connect resets the backoff", "[backoff][connect]")
{
    auto& p = make_pool(
        {.max_size = 2, .acquire_timeout = 3600s, .backoff_initial = 100ms, .backoff_max = 1600ms});
    backend->set_connect(outcome::fail(refused()));
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    for (int i = 0; i < 4; ++i)
        time_to_next_attempt(*this);  // the backoff has grown to 1600 ms nominal
    backend->set_connect(outcome::ok());
    advance_until([&] { return r.called(); }, 5ms, 5s);
    REQUIRE(r.called_once());
    REQUIRE(!r.ec());
    // Kept after the success (documented): it is the most recent *failed* attempt's error.
    CHECK(p.stats().last_connect_error == asio::error::connection_refused);
    // A new failure starts again from backoff_initial.
    backend->set_connect(outcome::fail(refused()));
    acquire_result r2;
    p.async_acquire(r2.handler());
    poll();
    const auto waited = time_to_next_attempt(*this);
    CHECK(waited <= 105ms);
}

// -------------------------------------------------------------------- the last connect error

TEST_CASE_METHOD(F, "while connects fail a waiter whose deadline passes gets the connect error",
                 "[timeout][last_error]")
{
    auto& p = make_pool({.max_size = 2, .backoff_initial = 50ms, .backoff_max = 200ms});
    backend->set_connect(outcome::fail(refused()));
    acquire_result r;
    p.async_acquire(1s, r.handler());
    poll();
    CHECK(p.stats().last_connect_error == asio::error::connection_refused);
    advance_in_steps(1s, 10ms);
    advance(1ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::connection_refused);
    CHECK(!r.value());
    const auto s = p.stats();
    CHECK(s.last_connect_error == asio::error::connection_refused);
    CHECK(s.connect_failures >= 2);
    CHECK(s.timeouts == 1);
    CHECK(s.size == 0);
}

TEST_CASE_METHOD(F, "the most recent connect error is the one reported", "[timeout][last_error]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->push_connect(outcome::fail(refused()));
    backend->set_connect(outcome::fail(asio::error::host_unreachable));
    acquire_result r;
    p.async_acquire(500ms, r.handler());
    poll();
    advance_in_steps(510ms, 10ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::host_unreachable);
    CHECK(p.stats().last_connect_error == asio::error::host_unreachable);
}

TEST_CASE_METHOD(F, "a waiter reports acquire_timeout when the last connect succeeded",
                 "[timeout][last_error]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->push_connect(outcome::fail(refused()));
    acquire_result first;
    p.async_acquire(first.handler());
    poll();
    advance_until([&] { return first.called(); }, 5ms, 1s);  // retry succeeds
    REQUIRE(first.called_once());
    REQUIRE(!first.ec());
    acquire_result second;
    p.async_acquire(100ms, second.handler());
    poll();
    advance(101ms);
    REQUIRE(second.called_once());
    CHECK(second.ec() == errc::acquire_timeout);
}

TEST_CASE_METHOD(F, "a connect error fails no waiter before its deadline", "[timeout][last_error]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->push_connect(outcome::fail(refused()));
    acquire_result r;
    p.async_acquire(5s, r.handler());
    poll();
    CHECK(!r.called());  // one failure is not the end: the pool retries
    advance_until([&] { return r.called(); }, 5ms, 1s);
    REQUIRE(r.called_once());
    CHECK(!r.ec());
}

// ------------------------------------------------------------------ permanent connect errors

namespace {
// A backend that classifies access_denied (think: a wrong password) as permanent.
struct strict_factory : connect_only_factory {
    using connect_only_factory::connect_only_factory;
    bool is_permanent_error(const error_code& ec) const { return ec == asio::error::access_denied; }
};
using strict_fixture = fixture<strict_factory>;
}  // namespace

TEST_CASE_METHOD(strict_fixture, "a permanent connect error fails the waiters at once",
                 "[timeout][last_error][permanent]")
{
    auto& p = make_pool({.max_size = 2, .backoff_initial = 10ms, .backoff_max = 1s});
    backend->set_connect(outcome::fail(asio::error::access_denied));
    acquire_result a, b;
    p.async_acquire(3600s, a.handler());
    p.async_acquire(3600s, b.handler());
    poll();
    REQUIRE(a.called_once());
    REQUIRE(b.called_once());
    CHECK(a.ec() == asio::error::access_denied);
    CHECK(b.ec() == asio::error::access_denied);
    const auto s = p.stats();
    CHECK(s.waiters == 0);
    CHECK(s.timeouts == 0);
    CHECK(s.size == 0);
    CHECK(s.last_connect_error == asio::error::access_denied);
}

TEST_CASE_METHOD(strict_fixture,
                 "after a permanent error new acquires fail at once until the full backoff "
                 "has passed, then the pool tries again and recovers",
                 "[timeout][backoff][permanent]")
{
    make_pool({.max_size = 2, .backoff_initial = 10ms, .backoff_max = 1s});
    backend->set_connect(outcome::fail(asio::error::access_denied));
    auto first = start_acquire(3600s);
    REQUIRE(first->called_once());
    REQUIRE(backend->connects_started() == 1);

    advance(400ms);  // within the shortest jittered backoff_max (500 ms)
    auto during = start_acquire(3600s);
    REQUIRE(during->called_once());  // no new attempt, no wait
    CHECK(during->ec() == asio::error::access_denied);
    CHECK(backend->connects_started() == 1);

    backend->set_connect(outcome::ok());  // the configuration is fixed
    advance(600ms);                       // past any jittered backoff_max
    auto after = start_acquire(3600s);
    advance_until([&] { return after->called(); }, 5ms, 1s);
    REQUIRE(after->called_once());
    CHECK(!after->ec());
    CHECK(backend->connects_started() == 2);
}

TEST_CASE_METHOD(strict_fixture,
                 "a permanent error does not fail a waiter that a lent connection can serve",
                 "[timeout][permanent]")
{
    auto& p = make_pool({.max_size = 2, .backoff_initial = 10ms, .backoff_max = 1s});
    auto held = acquire_now();
    backend->set_connect(outcome::fail(asio::error::access_denied));
    auto waiting = start_acquire(3600s);
    REQUIRE(backend->connects_started() == 2);  // the second connect failed for good
    CHECK(!waiting->called());
    held = handle{};  // returned: it goes to the waiter
    poll();
    REQUIRE(waiting->called_once());
    CHECK(!waiting->ec());
    CHECK(p.stats().in_use == 1);
}

TEST_CASE_METHOD(F, "an error the factory does not call permanent keeps its waiters waiting",
                 "[timeout][permanent]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->set_connect(outcome::fail(asio::error::access_denied));
    auto r = start_acquire(1s);
    advance_in_steps(500ms, 5ms);
    CHECK(!r->called());
    CHECK(backend->connects_started() > 10);  // retried every 5-10 ms
    CHECK(p.stats().waiters == 1);
}

// ----------------------------------------------------------------------------- max_waiters

TEST_CASE_METHOD(F, "one waiter more than max_waiters fails at once with pool_exhausted",
                 "[exhausted]")
{
    auto& p = make_pool({.max_size = 1, .max_waiters = 2});
    auto held = acquire_now();
    acquire_result w1, w2, w3;
    p.async_acquire(w1.handler());
    p.async_acquire(w2.handler());
    poll();
    CHECK(p.stats().waiters == 2);
    p.async_acquire(w3.handler());
    CHECK(w3.calls() == 0);
    poll();  // no clock movement needed
    REQUIRE(w3.called_once());
    CHECK(w3.ec() == errc::pool_exhausted);
    CHECK(!w3.value());
    CHECK(!w1.called());
    CHECK(!w2.called());
    CHECK(p.stats().exhausted == 1);
    CHECK(p.stats().waiters == 2);
    held.release();
    poll();
    CHECK(w1.called_once());
}

TEST_CASE_METHOD(F, "with max_waiters 0 an idle connection is still lent", "[exhausted]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1, .max_waiters = 0});
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    acquire_result r2;
    p.async_acquire(r2.handler());
    poll();
    REQUIRE(r2.called_once());
    CHECK(r2.ec() == errc::pool_exhausted);
}

// ---------------------------------------------------------------------------- cancellation

namespace {
const char* name_of(asio::cancellation_type t)
{
    switch (t) {
    case asio::cancellation_type::terminal:
        return "terminal";
    case asio::cancellation_type::partial:
        return "partial";
    case asio::cancellation_type::total:
        return "total";
    default:
        return "?";
    }
}
}  // namespace

TEST_CASE_METHOD(F, "a cancelled waiter completes with operation_aborted and leaves no trace",
                 "[cancel]")
{
    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                               asio::cancellation_type::total);
    INFO("cancellation type " << name_of(type));
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    REQUIRE(p.stats().waiters == 1);
    sig.emit(type);
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    CHECK(!r.value());
    auto s = p.stats();
    CHECK(s.waiters == 0);
    CHECK(s.cancelled == 1);
    CHECK(s.timeouts == 0);
    // No slot leaked: the held connection is the only one and is lent again at once.
    held.release();
    poll();
    auto again = acquire_now();
    CHECK(again->id == 1);
    CHECK(backend->connects_started() == 1);
    CHECK(p.stats().size == 1);
}

TEST_CASE_METHOD(F, "cancelling the first waiter lets the next one have the connection",
                 "[cancel][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    asio::cancellation_signal sig;
    acquire_result first, second;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), first.handler()));
    p.async_acquire(second.handler());
    poll();
    sig.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(first.called_once());
    CHECK(first.ec() == asio::error::operation_aborted);
    held.release();
    poll();
    REQUIRE(second.called_once());
    CHECK(!second.ec());
}

TEST_CASE_METHOD(F,
                 "cancelling a waiter whose connect is in flight leaks neither slot nor connection",
                 "[cancel][connect]")
{
    auto& p = make_pool({.max_size = 1});
    backend->set_connect(outcome::pending());
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    REQUIRE(backend->pending_connects() == 1);
    sig.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    CHECK(p.stats().waiters == 0);
    // Whether the connect is allowed to finish or is abandoned, nothing may stay stuck.
    backend->complete_next_connect();
    poll();
    CHECK(p.stats().size <= 1);
    CHECK(p.stats().pending == 0);
    backend->set_connect(outcome::ok());
    auto h = acquire_now();
    CHECK(h);
    CHECK(p.stats().size == 1);
    CHECK(backend->live() == 1);
}

TEST_CASE_METHOD(F, "cancelling after the handoff happened does not lose the connection",
                 "[cancel][handoff]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    held.release();                               // handed to the waiter...
    sig.emit(asio::cancellation_type::terminal);  // ...whose handler has not run yet
    poll();
    REQUIRE(r.called_once());
    if (r.ec()) {
        CHECK(r.ec() == asio::error::operation_aborted);
        CHECK(!r.value());
    } else {
        CHECK(r.value());
        r.value().release();
    }
    poll();
    // Either way the connection is back and can be lent.
    const auto s = p.stats();
    CHECK(s.in_use == 0);
    CHECK(s.idle == 1);
    CHECK(s.size == 1);
    auto again = p.try_acquire();
    REQUIRE(again);
    CHECK((*again)->id == 1);
}

TEST_CASE_METHOD(F, "cancelling a completed acquire has no effect", "[cancel]")
{
    auto& p = make_pool({.max_size = 1});
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    REQUIRE(r.called_once());
    REQUIRE(!r.ec());
    sig.emit(asio::cancellation_type::terminal);
    poll();
    CHECK(r.called_once());
    CHECK(r.value());
    CHECK(p.stats().cancelled == 0);
    CHECK(p.stats().in_use == 1);
}

TEST_CASE_METHOD(F, "cancelling a waiter frees its place for max_waiters", "[cancel][exhausted]")
{
    auto& p = make_pool({.max_size = 1, .max_waiters = 1});
    auto held = acquire_now();
    asio::cancellation_signal sig;
    acquire_result first, second;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), first.handler()));
    poll();
    sig.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(first.called_once());
    p.async_acquire(second.handler());
    poll();
    CHECK(!second.called());
    held.release();
    poll();
    REQUIRE(second.called_once());
    CHECK(!second.ec());
}

TEST_CASE_METHOD(F, "a cancelled timed acquire does not also time out", "[cancel][timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    asio::cancellation_signal sig;
    acquire_result r;
    p.async_acquire(100ms, asio::bind_cancellation_slot(sig.slot(), r.handler()));
    poll();
    sig.emit(asio::cancellation_type::partial);
    poll();
    advance(200ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    CHECK(p.stats().timeouts == 0);
    CHECK(p.stats().cancelled == 1);
}
