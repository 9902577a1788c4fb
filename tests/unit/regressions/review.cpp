// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Review of the issue 7 fixes: guards of the new code (the pool-wide deadline timer, the refusal
// paths of enqueue, the thread cache table, move operations, the blocking adapter's shutdown
// tracker). Deterministic: manual clock, scripted fakes, polled io_context, except where a test
// says it needs a real thread (then every wait is bounded against hangs).

#include "support/io_runner.hpp"
#include "support/pool_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

// ------------------------------------------------------------------------- the deadline timer

// One pool timer serves every waiter, armed for the earliest deadline. Waiters queued latest
// deadline first make it re-arm earlier each time; each must still expire at its own deadline,
// not sooner and not later.
TEST_CASE_METHOD(fixture<>, "review: waiters queued latest deadline first each expire on time",
                 "[review][timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    auto a = start_acquire(30s);
    auto b = start_acquire(20s);
    auto c = start_acquire(10s);
    auto d = start_acquire(20s);  // a tie with b
    REQUIRE(p.stats().waiters == 4);

    advance_in_steps(9s, 1s);
    CHECK(!a->called());
    CHECK(!b->called());
    CHECK(!c->called());
    advance(1s);  // t = 10 s
    REQUIRE(c->called_once());
    CHECK(c->ec() == errc::acquire_timeout);
    CHECK(!a->called());
    CHECK(!b->called());
    CHECK(!d->called());

    advance_in_steps(9s, 1s);  // t = 19 s
    CHECK(!b->called());
    CHECK(!d->called());
    advance(1s);  // t = 20 s: both of the tie
    REQUIRE(b->called_once());
    REQUIRE(d->called_once());
    CHECK(b->ec() == errc::acquire_timeout);
    CHECK(d->ec() == errc::acquire_timeout);
    CHECK(!a->called());

    advance_in_steps(10s, 1s);  // t = 30 s
    REQUIRE(a->called_once());
    CHECK(a->ec() == errc::acquire_timeout);
    CHECK(p.stats().waiters == 0);
    CHECK(p.stats().timeouts == 4);
}

// The timer is armed for the head's deadline; the head is then served (or cancelled). The next
// deadline must still fire at its time, and a newcomer with an earlier deadline than the one
// armed must re-arm the timer.
TEST_CASE_METHOD(fixture<>,
                 "review: after the earliest waiter leaves, the remaining deadlines still fire "
                 "on time, and an earlier newcomer re-arms the timer",
                 "[review][timeout]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    const bool by_cancel = GENERATE(false, true);
    CAPTURE(by_cancel);

    asio::cancellation_signal sig;
    acquire_result first;
    p.async_acquire(2s, asio::bind_cancellation_slot(sig.slot(), first.handler()));
    auto later = start_acquire(11s);
    poll();
    advance(1s);  // t = 1 s
    if (by_cancel) {
        sig.emit(asio::cancellation_type::terminal);
        poll();
        REQUIRE(first.called_once());
        CHECK(first.ec() == asio::error::operation_aborted);
    } else {
        held.release();
        poll();
        REQUIRE(first.called_once());
        REQUIRE(!first.ec());
        held = std::move(first.value());  // holds the only connection again
    }
    advance_in_steps(2s, 1s);  // t = 3 s: past the deadline the timer was armed for
    CHECK(!later->called());

    auto newcomer = start_acquire(3s);  // deadline t = 6 s, before the later waiter's 11 s
    advance_in_steps(2s, 1s);           // t = 5 s
    CHECK(!newcomer->called());
    advance(1s);  // t = 6 s
    REQUIRE(newcomer->called_once());
    CHECK(newcomer->ec() == errc::acquire_timeout);
    CHECK(!later->called());
    advance_in_steps(4s, 1s);  // t = 10 s
    CHECK(!later->called());
    advance(1s);  // t = 11 s
    REQUIRE(later->called_once());
    CHECK(later->ec() == errc::acquire_timeout);
    CHECK(p.stats().waiters == 0);
}

// close() fails every waiter once with pool_closed; their deadlines, still in the pool's timer,
// do nothing afterwards.
TEST_CASE_METHOD(fixture<>, "review: close() with deadlines armed completes each waiter once",
                 "[review][timeout][close]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    std::vector<std::unique_ptr<acquire_result>> ws;
    for (int i = 1; i <= 5; ++i)
        ws.push_back(start_acquire(std::chrono::seconds(i)));
    advance(1500ms);  // the first has timed out
    REQUIRE(ws[0]->called_once());
    CHECK(ws[0]->ec() == errc::acquire_timeout);
    p.close();
    poll();
    for (std::size_t i = 1; i < ws.size(); ++i) {
        REQUIRE(ws[i]->called_once());
        CHECK(ws[i]->ec() == errc::pool_closed);
    }
    advance_in_steps(10s, 1s);
    for (auto& w : ws)
        CHECK(w->called_once());
    held.release();
    poll();
    CHECK(p.stats().size == 0);
}

// A waiter's deadline error is the last connect error when the backend refuses (the pool-wide
// timer reports it as the per-waiter timers did).
TEST_CASE_METHOD(fixture<>, "review: an expired waiter reports the last connect error",
                 "[review][timeout]")
{
    backend->set_connect(outcome::fail(refused()));
    auto& p = make_pool({.max_size = 1, .backoff_initial = 100ms, .backoff_max = 200ms});
    auto w = start_acquire(1s);
    advance_in_steps(1s, 100ms);
    REQUIRE(w->called_once());
    CHECK(w->ec() == asio::error::connection_refused);
    CHECK(p.stats().last_connect_error == asio::error::connection_refused);
    backend->set_connect(outcome::ok());
    advance_in_steps(1s, 100ms);
    auto h = acquire_now();
    CHECK(h);
}

// ---------------------------------------------------------------------- enqueue's refusals

// A zero timeout never waits, and is refused without a connect (its deadline has passed: there
// is no demand left to open one for).
TEST_CASE_METHOD(fixture<>, "review: a zero-timeout acquire with nothing idle fails at once",
                 "[review][timeout]")
{
    auto& p = make_pool({.max_size = 2});
    auto r = start_acquire(0ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == errc::acquire_timeout);
    CHECK(p.stats().waiters == 0);
    // A later acquire with time to wait is served as usual.
    auto h = acquire_now();
    CHECK(h);
}

// max_waiters: a refused acquirer still counts as demand, so a connect opens for it (once), and
// the connection it opens serves the next acquirer.
TEST_CASE_METHOD(fixture<>, "review: an acquire refused for max_waiters opens one connection",
                 "[review][max_waiters]")
{
    backend->set_connect(outcome::pending());
    auto& p = make_pool({.max_size = 4, .max_waiters = 1});
    auto first = start_acquire(10s);  // queued; one connect for it
    REQUIRE(!first->called());
    CHECK(backend->connects_started() == 1);
    auto second = start_acquire(10s);  // refused, but a connect opens for it
    REQUIRE(second->called_once());
    CHECK(second->ec() == errc::pool_exhausted);
    CHECK(backend->connects_started() == 2);
    auto third = start_acquire(10s);  // refused: the connect for the refused demand is running
    REQUIRE(third->called_once());
    CHECK(third->ec() == errc::pool_exhausted);
    CHECK(backend->connects_started() <= 3);
    while (backend->complete_next_connect())
        poll();
    poll();
    REQUIRE(first->called_once());
    CHECK(!first->ec());
    CHECK(p.stats().exhausted == 2);
    auto again = p.try_acquire();  // opened for the refused demand, now idle
    CHECK(again.has_value());
}

// ----------------------------------------------------------------------- the thread cache

// More pools than the thread cache has entries: an evicted entry's connection stays `cached` in
// its pool, where another thread's try_acquire and the owning thread itself still find it.
TEST_CASE("review: a connection whose cache entry was evicted is still found by every thread",
          "[review][thread_cache]")
{
    manual_clock_guard clock_guard;
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    using pool_type = connpool::pool<fake_connection, connect_only_factory, manual_clock>;
    std::vector<std::unique_ptr<pool_type>> pools;
    for (int i = 0; i < 12; ++i)
        pools.push_back(std::make_unique<pool_type>(
            ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
            connpool::pool_options{.min_size = 1, .max_size = 1}));
    poll_all(ioc);
    for (auto& pl : pools)
        REQUIRE(pl->stats().idle == 1);

    // This thread parks one connection of each pool in its cache (12 pools, 8 entries).
    for (auto& pl : pools) {
        auto h = pl->try_acquire();
        REQUIRE(h);
    }
    // Another thread finds every one of them.
    int found_elsewhere = 0;
    std::thread([&] {
        for (auto& pl : pools) {
            auto h = pl->try_acquire();
            if (h)
                ++found_elsewhere;
        }
    }).join();
    CHECK(found_elsewhere == 12);
    // Parked again by this thread, then taken by this thread: all found.
    for (auto& pl : pools) {
        auto h = pl->try_acquire();
        REQUIRE(h);
    }
    int found_here = 0;
    for (auto& pl : pools) {
        auto h = pl->try_acquire();
        if (h)
            ++found_here;
    }
    CHECK(found_here == 12);
    // This thread's entry for pools[0] is evicted by the others; an async acquire still finds
    // the connection it parked.
    {
        auto h = pools[0]->try_acquire();
        REQUIRE(h);
    }
    for (std::size_t i = 1; i < pools.size(); ++i)
        (void)pools[i]->try_acquire();
    checked_result<pool_type::handle_type> w;
    pools[0]->async_acquire(std::chrono::milliseconds(1000), w.handler());
    REQUIRE(run_until(ioc, [&] { return w.called(); }));
    CHECK(!w.ec());
    w.value().release();
    pools.clear();
    poll_all(ioc);
}

// ------------------------------------------------------------------------ move operations

TEST_CASE_METHOD(fixture<>, "review: a moved-to pool serves; move assignment closes its old pool",
                 "[review][move]")
{
    auto& p = make_pool({.max_size = 1});
    auto held = acquire_now();
    auto waiting = start_acquire(10s);

    pool_type other(ioc.get_executor(),
                    connect_only_factory(ioc.get_executor(), std::make_shared<fake_backend>()),
                    {.min_size = 1, .max_size = 1});
    poll();
    auto other_waiter_handle = other.try_acquire();
    REQUIRE(other_waiter_handle);
    acquire_result other_waiter;
    other.async_acquire(10s, other_waiter.handler());
    poll();
    REQUIRE(!other_waiter.called());

    // `other` takes p's state: its own waiter fails with pool_closed.
    other = std::move(p);
    poll();
    REQUIRE(other_waiter.called_once());
    CHECK(other_waiter.ec() == errc::pool_closed);
    other_waiter_handle.reset();
    poll();

    // p's waiter is served by the moved-to pool.
    held.release();
    poll();
    REQUIRE(waiting->called_once());
    CHECK(!waiting->ec());
    waiting->value().release();
    auto h = other.try_acquire();
    CHECK(h);
    h.reset();
    // The fixture's pool object is now empty: give it back the state so that the fixture's
    // accounting checks the pool that did the work.
    *pool_ptr = std::move(other);
    poll();
}

// --------------------------------------------------- blocking_factory and context shutdown

namespace {

struct slow_conn {
    int id = 0;
};

struct slow_driver {
    std::shared_ptr<std::atomic<int>> started = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> finished = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<bool>> release = std::make_shared<std::atomic<bool>>(false);
    slow_conn connect()
    {
        const int n = started->fetch_add(1) + 1;
        while (!release->load())
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        finished->fetch_add(1);
        return slow_conn{n};
    }
};

}  // namespace

// Calls queued behind a busy worker (one thread) when the io_context is destroyed: the
// destruction waits for the running call and the queued one, drops both completions, and
// nothing is left behind.
TEST_CASE("review: destroying an io_context waits for blocking calls running and queued",
          "[review][blocking][shutdown]")
{
    slow_driver drv;
    auto started = drv.started;
    auto finished = drv.finished;
    auto release = drv.release;
    std::atomic<int> completions{0};
    {
        connpool::blocking_factory<slow_driver> f(drv, 1);
        auto ioc = std::make_unique<asio::io_context>();
        for (int i = 0; i < 2; ++i)
            f.async_connect(asio::bind_executor(
                ioc->get_executor(), [&](error_code, slow_conn) { completions.fetch_add(1); }));
        REQUIRE(wait_until([&] { return started->load() == 1; }));
        std::thread releaser([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            release->store(true);
        });
        ioc.reset();  // waits for both calls
        CHECK(finished->load() == 2);
        releaser.join();
    }
    CHECK(completions.load() == 0);
}

// A blocking call whose handler has no associated executor completes on the adapter's own
// threads; destroying the adapter right after waits for it and runs its completion.
// (Found by review: the last reference to the adapter's state went on a worker, ~state stopped
// the workers, and the completion posted to them was destroyed without being invoked.)
TEST_CASE("review: a blocking call without an associated executor completes on the workers",
          "[review][blocking]")
{
    slow_driver drv;
    drv.release->store(true);
    std::atomic<int> completions{0};
    {
        connpool::blocking_factory<slow_driver> f(drv, 1);
        f.async_connect([&](error_code ec, slow_conn c) {
            if (!ec && c.id == 1)
                completions.fetch_add(1);
        });
    }
    CHECK(wait_until([&] { return completions.load() == 1; }, std::chrono::seconds(10)));
}
