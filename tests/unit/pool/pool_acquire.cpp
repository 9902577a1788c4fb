// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Acquiring and returning: LIFO reuse, strict FIFO waiters, direct handoff, try_acquire,
// completion tokens, handlers never run inside the initiating function, stats counters
// (issue items 3, 4, 11, 12 and the completion-token requirements).

#include "support/pool_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <set>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

using F = fixture<>;
using PF = fixture<ping_factory>;

// ------------------------------------------------------------------------------- basics

TEST_CASE_METHOD(F, "an acquire on an empty pool opens a connection and lends it", "[acquire]")
{
    auto& p = make_pool({.max_size = 4});
    CHECK(backend->connects_started() == 0);  // min_size 0: nothing opened up front
    acquire_result r;
    p.async_acquire(r.handler());
    CHECK(r.calls() == 0);  // never inside the initiating function
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    auto& h = r.value();
    REQUIRE(h);
    CHECK(h->id == 1);
    CHECK((*h).id == 1);
    CHECK(backend->connects_started() == 1);
    CHECK(backend->live() == 1);
    const auto s = p.stats();
    CHECK(s.size == 1);
    CHECK(s.in_use == 1);
    CHECK(s.idle == 0);
    CHECK(s.acquired == 1);
    CHECK(s.created == 1);
}

TEST_CASE_METHOD(F, "a returned connection is reused instead of opening a new one", "[acquire]")
{
    make_pool({.max_size = 4});
    {
        auto h = acquire_now();
        h->uses = 41;
    }  // destruction returns it
    poll();
    CHECK(stats().idle == 1);
    CHECK(stats().in_use == 0);
    auto h = acquire_now();
    CHECK(h->id == 1);
    CHECK(h->uses == 41);  // the very same connection object
    CHECK(backend->connects_started() == 1);
    CHECK(stats().acquired == 2);
}

TEST_CASE_METHOD(F, "release() returns the connection now and empties the lease", "[acquire]")
{
    make_pool({.max_size = 1});
    auto h = acquire_now();
    h.release();
    CHECK(!h);
    h.release();  // a second release is a no-op
    poll();
    CHECK(stats().idle == 1);
    auto again = acquire_now();
    CHECK(again->id == 1);
}

TEST_CASE_METHOD(F, "a moved lease keeps the connection and the moved-from one is empty",
                 "[acquire]")
{
    make_pool({.max_size = 2});
    auto a = acquire_now();
    const int id = a->id;
    handle b = std::move(a);
    CHECK(!a);
    REQUIRE(b);
    CHECK(b->id == id);
    handle c = acquire_now();
    const int other = c->id;
    c = std::move(b);  // move-assignment returns c's previous connection
    CHECK(c->id == id);
    poll();
    CHECK(stats().in_use == 1);
    CHECK(stats().idle == 1);
    auto d = acquire_now();
    CHECK(d->id == other);
}

TEST_CASE_METHOD(F, "invalidate survives moving the lease", "[acquire][invalidate]")
{
    make_pool({.max_size = 1});
    auto a = acquire_now();
    a.invalidate();
    handle b = std::move(a);
    b.release();
    poll();
    CHECK(!backend->is_live(1));
    CHECK(stats().destroyed_broken == 1);
}

TEST_CASE_METHOD(F, "the most recently returned connection is lent first (LIFO)", "[acquire][lifo]")
{
    make_pool({.max_size = 3});
    auto a = acquire_now();
    auto b = acquire_now();
    auto c = acquire_now();
    const int ia = a->id, ib = b->id, ic = c->id;
    CHECK(std::set<int>{ia, ib, ic}.size() == 3);
    a.release();
    c.release();
    b.release();  // returned last: lent first
    poll();
    REQUIRE(stats().idle == 3);
    auto x = acquire_now();
    auto y = acquire_now();
    auto z = acquire_now();
    CHECK(x->id == ib);
    CHECK(y->id == ic);
    CHECK(z->id == ia);
    CHECK(backend->connects_started() == 3);
}

TEST_CASE_METHOD(F, "try_acquire also takes the most recently returned connection",
                 "[acquire][lifo]")
{
    make_pool({.max_size = 2});
    auto a = acquire_now();
    auto b = acquire_now();
    const int ia = a->id, ib = b->id;
    b.release();
    a.release();
    poll();
    auto x = pool().try_acquire();
    REQUIRE(x);
    CHECK((*x)->id == ia);
    auto y = pool().try_acquire();
    REQUIRE(y);
    CHECK((*y)->id == ib);
}

// ------------------------------------------------------------------------------ FIFO waiters

TEST_CASE_METHOD(F, "waiters are served in arrival order", "[waiters][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    std::vector<int> order;
    std::vector<std::unique_ptr<acquire_result>> waiters;
    for (int i = 0; i < 4; ++i) {
        waiters.push_back(std::make_unique<acquire_result>());
        waiters.back()->on_call([&order, i] { order.push_back(i); });
        p.async_acquire(waiters.back()->handler());
        poll();
    }
    CHECK(stats().waiters == 4);
    CHECK(order.empty());
    held.release();
    for (std::size_t i = 0; i < 4; ++i) {
        poll();
        REQUIRE(order.size() == i + 1);
        CHECK(order.back() == static_cast<int>(i));
        REQUIRE(!waiters[i]->ec());
        CHECK(waiters[i]->value()->id == 1);
        waiters[i]->value().release();  // hand it on to the next waiter
    }
    poll();
    CHECK(stats().waiters == 0);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F, "a returned connection goes straight to the oldest waiter",
                 "[waiters][handoff]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();  // waited for its connect
    const auto waited_before = stats().waited;
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    REQUIRE(stats().waiters == 1);
    held.release();
    // Before the waiter's handler has even run, the connection is not up for grabs.
    CHECK(!p.try_acquire());
    poll();
    REQUIRE(w.called_once());
    REQUIRE(!w.ec());
    CHECK(w.value()->id == 1);
    CHECK(stats().waiters == 0);
    CHECK(stats().waited == waited_before + 1);
}

TEST_CASE_METHOD(F, "a newcomer async_acquire never overtakes a waiter", "[waiters][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result first, newcomer;
    p.async_acquire(first.handler());
    poll();
    held.release();
    p.async_acquire(newcomer.handler());  // arrives after the release, before any poll
    poll();
    REQUIRE(first.called_once());
    CHECK(!first.ec());
    CHECK(!newcomer.called());
    CHECK(stats().waiters == 1);
    first.value().release();
    poll();
    REQUIRE(newcomer.called_once());
    CHECK(!newcomer.ec());
    CHECK(newcomer.value()->id == 1);
}

TEST_CASE_METHOD(F, "try_acquire never overtakes a waiter", "[waiters][fifo][try_acquire]")
{
    auto& p = make_pool({.max_size = 2});
    auto a = acquire_now();
    auto b = acquire_now();
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    REQUIRE(stats().waiters == 1);
    b.release();
    CHECK(!p.try_acquire());  // the waiter is first in line
    poll();
    CHECK(!p.try_acquire());
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id == 2);
}

TEST_CASE_METHOD(F, "try_acquire returns nothing while waiters exist even if connections return",
                 "[waiters][try_acquire]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    acquire_result w1, w2;
    p.async_acquire(w1.handler());
    p.async_acquire(w2.handler());
    poll();
    held.release();
    CHECK(!p.try_acquire());
    poll();
    REQUIRE(w1.called_once());
    CHECK(!w2.called());
    CHECK(!p.try_acquire());
    w1.value().release();
    CHECK(!p.try_acquire());
    poll();
    CHECK(w2.called_once());
}

TEST_CASE_METHOD(F, "a waiter is served by a new connection when one can be opened", "[waiters]")
{
    auto& p = make_pool({.max_size = 2});
    backend->set_connect(outcome::pending());
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    CHECK(!w.called());
    CHECK(stats().waiters == 1);
    CHECK(stats().pending == 1);
    REQUIRE(backend->complete_next_connect());
    poll();
    REQUIRE(w.called_once());
    CHECK(!w.ec());
    CHECK(w.value()->id == 1);
    CHECK(stats().pending == 0);
    CHECK(stats().in_use == 1);
}

TEST_CASE_METHOD(F, "a connection that comes back serves a waiter before its own connect finishes",
                 "[waiters][handoff]")
{
    auto& p = make_pool({.max_size = 2});
    auto held = acquire_now();
    backend->set_connect(outcome::pending());
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    REQUIRE(backend->pending_connects() == 1);
    held.release();
    poll();
    REQUIRE(w.called_once());
    CHECK(w.value()->id == 1);
    // The late connect is not lost: it becomes an idle connection.
    REQUIRE(backend->complete_next_connect());
    poll();
    CHECK(stats().size == 2);
    CHECK(stats().idle == 1);
    auto other = p.try_acquire();
    REQUIRE(other);
    CHECK((*other)->id == 2);
}

// ------------------------------------------------------------------------------ try_acquire

TEST_CASE_METHOD(F, "try_acquire returns nothing when no connection is idle and never connects",
                 "[try_acquire]")
{
    auto& p = make_pool({.max_size = 4});
    CHECK(!p.try_acquire());
    poll();
    CHECK(backend->connects_started() == 0);  // it never waits, so it creates no demand
    CHECK(stats().waiters == 0);
}

TEST_CASE_METHOD(F, "try_acquire lends an idle connection at once", "[try_acquire]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    REQUIRE(stats().idle == 1);
    auto h = p.try_acquire();
    REQUIRE(h);
    REQUIRE(*h);
    CHECK((*h)->id == 1);
    CHECK(stats().in_use == 1);
    CHECK(stats().acquired == 1);
    CHECK(!p.try_acquire());  // the only one is lent
}

TEST_CASE_METHOD(PF,
                 "try_acquire does not hand out a connection due for validation, and validates it",
                 "[try_acquire][validation]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1, .validation_interval = 500ms});
    REQUIRE(stats().idle == 1);
    advance(501ms);  // now idle longer than validation_interval
    const long pings_before = backend->pings();
    backend->push_ping(outcome::pending());
    CHECK(!p.try_acquire());
    poll();
    CHECK(backend->pings() == pings_before + 1);  // validated in the background
    CHECK(!p.try_acquire());                      // still being validated
    REQUIRE(backend->complete_next_ping());
    poll();
    auto h = p.try_acquire();  // validated just now: lent
    REQUIRE(h);
    CHECK((*h)->id == 1);
}

TEST_CASE_METHOD(PF, "try_acquire lends a recently used connection without a ping",
                 "[try_acquire][validation]")
{
    auto& p = make_pool({.max_size = 1, .validation_interval = 500ms});
    acquire_now().release();
    poll();
    advance(100ms);
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK(backend->pings() == 0);
}

// ------------------------------------------------------------------------ completion tokens

TEST_CASE_METHOD(F, "a plain callback completes through the pool's executor, never inline",
                 "[tokens]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    REQUIRE(stats().idle == 1);
    bool returned = false, called_after_return = false;
    int calls = 0;
    p.async_acquire([&](error_code ec, handle h) {
        ++calls;
        called_after_return = returned;
        CHECK(!ec);
        CHECK(h);
    });
    returned = true;
    CHECK(calls == 0);  // an idle connection was available, yet no inline completion
    poll();
    CHECK(calls == 1);
    CHECK(called_after_return);
}

TEST_CASE_METHOD(F, "failing acquires complete after the initiating function returned", "[tokens]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1, .max_waiters = 0});
    auto held = acquire_now();
    acquire_result exhausted;
    p.async_acquire(exhausted.handler());
    CHECK(exhausted.calls() == 0);
    poll();
    REQUIRE(exhausted.called_once());
    CHECK(exhausted.ec() == errc::pool_exhausted);

    p.close();
    acquire_result closed;
    p.async_acquire(closed.handler());
    CHECK(closed.calls() == 0);
    poll();
    REQUIRE(closed.called_once());
    CHECK(closed.ec() == errc::pool_closed);
}

TEST_CASE_METHOD(F, "the handler runs on its associated executor", "[tokens]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    auto strand = asio::make_strand(ioc);
    bool on_strand = false;
    int calls = 0;
    p.async_acquire(asio::bind_executor(strand, [&](error_code ec, handle) {
        ++calls;
        CHECK(!ec);
        on_strand = strand.running_in_this_thread();
    }));
    poll();
    CHECK(calls == 1);
    CHECK(on_strand);
}

TEST_CASE_METHOD(F, "a handler bound to another io_context runs only when that one runs",
                 "[tokens]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    asio::io_context other;
    acquire_result r;
    p.async_acquire(asio::bind_executor(other.get_executor(), r.handler()));
    poll();
    CHECK(!r.called());
    poll_all(other);
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(r.value()->id == 1);
    r.value().release();
    poll();
}

TEST_CASE_METHOD(F, "a deferred acquire starts only when it is launched", "[tokens]")
{
    auto& p = make_pool({.max_size = 1});
    auto op = p.async_acquire(asio::deferred);
    auto op2 = p.async_acquire(250ms, asio::deferred);
    poll();
    CHECK(backend->connects_started() == 0);
    CHECK(stats().waiters == 0);
    acquire_result r;
    std::move(op)(r.handler());
    CHECK(r.calls() == 0);
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    acquire_result r2;
    std::move(op2)(r2.handler());
    poll();
    CHECK(!r2.called());  // r holds the only connection
    advance(251ms);
    REQUIRE(r2.called_once());
    CHECK(r2.ec() == errc::acquire_timeout);
}

TEST_CASE_METHOD(F, "use_awaitable returns the lease and throws pool errors", "[tokens]")
{
    auto& p = make_pool({.max_size = 1});
    int got_id = 0;
    error_code thrown;
    bool done = false;
    // If the test body ends early, the pool's destruction resumes the coroutine: it must not
    // touch the pool then.
    auto alive = std::make_shared<bool>(true);
    struct guard_t {
        std::shared_ptr<bool> a;
        ~guard_t() { *a = false; }
    } guard{alive};
    asio::co_spawn(
        ioc,
        [&, alive]() -> asio::awaitable<void> {
            auto h = co_await p.async_acquire(asio::use_awaitable);
            got_id = h->id;
            auto [ec, h2] = co_await p.async_acquire(10ms, asio::as_tuple(asio::use_awaitable));
            if (!*alive)
                co_return;
            CHECK(ec == errc::acquire_timeout);
            CHECK(!h2);
            h.release();
            p.close();
            try {
                (void)co_await p.async_acquire(asio::use_awaitable);
            } catch (const boost::system::system_error& e) {
                thrown = e.code();
            }
            done = true;
        },
        asio::detached);
    poll();
    CHECK(got_id == 1);
    advance(11ms);
    CHECK(done);
    CHECK(thrown == errc::pool_closed);
}

// --------------------------------------------------------------------------------- stats

TEST_CASE_METHOD(F, "stats counters move as documented", "[stats]")
{
    auto& p = make_pool({.max_size = 1, .max_waiters = 1});
    auto s = p.stats();
    CHECK(s.acquired == 0);
    CHECK(s.created == 0);
    CHECK(s.total_wait_time == std::chrono::nanoseconds::zero());

    auto h = acquire_now();
    s = p.stats();
    CHECK(s.acquired == 1);
    CHECK(s.created == 1);
    CHECK(s.in_use == 1);
    CHECK(s.size == 1);
    const auto waited_before = s.waited;  // 0 or 1: the first acquire waited for its connect
    CHECK(waited_before <= 1);

    // A waiter that is served after a while: waited and total_wait_time move.
    acquire_result w;
    p.async_acquire(w.handler());
    poll();
    CHECK(p.stats().waiters == 1);
    acquire_result refused;  // one more than max_waiters
    p.async_acquire(refused.handler());
    poll();
    REQUIRE(refused.called_once());
    CHECK(refused.ec() == errc::pool_exhausted);
    CHECK(p.stats().exhausted == 1);
    advance(30ms);
    h.release();
    poll();
    REQUIRE(w.called_once());
    s = p.stats();
    CHECK(s.waited == waited_before + 1);
    CHECK(s.acquired == 2);
    CHECK(s.waiters == 0);
    CHECK(s.total_wait_time >= std::chrono::milliseconds(30));

    // A waiter that times out.
    acquire_result late;
    p.async_acquire(20ms, late.handler());
    poll();
    advance(21ms);
    REQUIRE(late.called_once());
    CHECK(late.ec() == errc::acquire_timeout);
    s = p.stats();
    CHECK(s.timeouts == 1);
    CHECK(s.acquired == 2);

    // Broken connections.
    w.value().invalidate();
    w.value().release();
    poll();
    s = p.stats();
    CHECK(s.destroyed_broken == 1);
    CHECK(s.size == 0);
    CHECK(backend->live() == 0);
    CHECK(s.size == s.idle + s.in_use + s.pending + s.maintenance);
}

TEST_CASE_METHOD(F, "the size gauges add up", "[stats]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 4});
    backend->set_connect(outcome::pending());
    auto a = acquire_now();
    acquire_result b, c;
    p.async_acquire(b.handler());
    p.async_acquire(c.handler());
    poll();
    // One idle was left after a: b takes it, c needs a connect.
    auto s = p.stats();
    CHECK(s.size == s.idle + s.in_use + s.pending + s.maintenance);
    CHECK(s.in_use == 2);
    CHECK(s.pending == 1);
    CHECK(s.waiters == 1);
    CHECK(s.size == 3);
    backend->complete_next_connect();
    poll();
    s = p.stats();
    CHECK(s.size == 3);
    CHECK(s.in_use == 3);
    CHECK(s.pending == 0);
    CHECK(s.size == s.idle + s.in_use + s.pending + s.maintenance);
}
