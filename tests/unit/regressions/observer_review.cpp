// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// An adversarial review of the pool observer and the leak call sites (helper-14): promises of
// <connpool/observer.hpp> and the README ("Events and hooks", "Leaks") that the first tests did
// not pin down. Deterministic: manual clock, one thread polling.

#include "support/pool_fixture.hpp"
#include "unit/keyed/keyed_fixture.hpp"

#include <connpool/call_site.hpp>
#include <connpool/observer.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using connpool::acquire_event;
using connpool::destroy_cause;
using connpool::errc;
using connpool::leak_event;
namespace asio = boost::asio;

namespace {

// Tallies what a pool reports: acquires (with their errors), destructions by cause, connects,
// leaks, and the connections before_lend was asked about. before_lend answers `lend`.
struct tally : connpool::pool_observer<fake_connection> {
    std::mutex mtx;
    std::vector<error_code> acquire_errors;
    std::array<std::uint64_t, 7> destroyed_by{};
    std::uint64_t connects_ok = 0;
    std::uint64_t connects_failed = 0;
    std::vector<leak_event> leaks;
    std::vector<int> asked_before_lend;
    std::function<bool(fake_connection&)> lend;

    void on_acquire(const acquire_event& e) override
    {
        std::lock_guard lk(mtx);
        acquire_errors.push_back(e.error);
    }
    void on_destroyed(destroy_cause c) override
    {
        std::lock_guard lk(mtx);
        ++destroyed_by[static_cast<std::size_t>(c)];
    }
    void on_connect_finished(const connpool::connect_event& e) override
    {
        std::lock_guard lk(mtx);
        ++(e.error ? connects_failed : connects_ok);
    }
    void on_leak_suspected(const leak_event& e) override
    {
        std::lock_guard lk(mtx);
        leaks.push_back(e);
    }
    bool before_lend(fake_connection& c) override
    {
        asked_before_lend.push_back(c.id);
        return lend ? lend(c) : true;
    }

    std::uint64_t destroyed(destroy_cause c) const
    {
        return destroyed_by[static_cast<std::size_t>(c)];
    }
};

template <class Factory = connect_only_factory>
struct observed : fixture<Factory> {
    std::shared_ptr<tally> obs = std::make_shared<tally>();
    auto& make(connpool::pool_options opts = {}) { return this->make_pool(opts, obs); }

    // The observer's destructions match stats()'s, cause by cause.
    void check_destroyed_match()
    {
        const auto st = this->pool().stats();
        CHECK(obs->destroyed(destroy_cause::idle) == st.destroyed_idle);
        CHECK(obs->destroyed(destroy_cause::lifetime) == st.destroyed_lifetime);
        CHECK(obs->destroyed(destroy_cause::broken) == st.destroyed_broken);
        CHECK(obs->destroyed(destroy_cause::cleared) == st.destroyed_cleared);
        CHECK(obs->destroyed(destroy_cause::closed) == st.destroyed_closed);
        CHECK(obs->destroyed(destroy_cause::surplus) == st.destroyed_surplus);
        CHECK(obs->destroyed(destroy_cause::vetoed) == st.destroyed_vetoed);
        CHECK(obs->connects_ok == st.created);
        CHECK(obs->connects_failed == st.connect_failures);
    }
};
using F = observed<>;

using keyed_F = keyed_fixture<>;

}  // namespace

// ------------------------------------------------------------------------ before_lend

// A connection's first lease is not asked about (after_connect vetted it). The slots are reused:
// a new connection in the slot of a refused one has never been lent either. Asking about it made
// a before_lend that refuses everything reconnect without end while the acquirer waited.
TEST_CASE_METHOD(F, "before_lend refuses all: a new connection in a reused slot is lent unasked",
                 "[observer][review][before_lend]")
{
    // A loop must end for the test to fail rather than hang: from the 6th on, connects hang.
    backend->script_connect(
        [](const call_info& c) { return c.number <= 5 ? outcome::ok() : outcome::pending(); });
    auto& p = make({.max_size = 1});
    {
        auto first = acquire_now();
    }  // connection 1 is lent once, and comes back
    obs->lend = [](fake_connection&) { return false; };
    auto r = start_acquire(1s);  // 1 is refused; 2 opens in its slot
    REQUIRE(r->called());
    CHECK(!r->ec());
    if (r->value())
        CHECK(r->value()->id == 2);
    CHECK(backend->connects_succeeded() == 2);
    CHECK(obs->asked_before_lend == std::vector<int>{1});
    CHECK(p.stats().destroyed_vetoed == 1);
}

TEST_CASE_METHOD(F, "before_lend refuses all: try_acquire after a refusal gets the new one unasked",
                 "[observer][review][before_lend]")
{
    auto& p = make({.min_size = 1, .max_size = 1});
    p.try_acquire().reset();  // connection 1 lent once
    obs->lend = [](fake_connection&) { return false; };
    CHECK(!p.try_acquire());  // 1 refused; min_size opens 2 in the same slot
    poll();
    REQUIRE(p.stats().idle == 1);
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 2);
    CHECK(obs->asked_before_lend == std::vector<int>{1});
}

// ------------------------------------------------------------------------ acquire events

TEST_CASE_METHOD(F, "every acquire path reports exactly one acquire event with its error",
                 "[observer][review][acquire]")
{
    auto& p = make({.max_size = 1, .max_waiters = 1});
    auto served = start_acquire(1s);  // waits for the connect
    REQUIRE(served->called());
    auto timed_out = start_acquire(100ms);
    auto exhausted = start_acquire(1s);  // max_waiters 1: refused
    REQUIRE(exhausted->called());
    advance(100ms);
    REQUIRE(timed_out->called());

    asio::cancellation_signal cancel;
    checked_result<F::handle> cancelled;
    p.async_acquire(1s, asio::bind_cancellation_slot(cancel.slot(), cancelled.handler()));
    poll();
    cancel.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(cancelled.called());

    CHECK(!p.try_acquire());  // nothing idle: not an acquire, not reported
    error_code ec;
    auto none = p.acquire(0ms, ec);  // a zero timeout fails at once
    CHECK(ec == errc::acquire_timeout);
    served->value().release();
    auto fast = p.try_acquire();
    REQUIRE(fast);
    fast->release();

    p.close();
    auto closed = start_acquire(1s);
    REQUIRE(closed->called());
    auto blocking_closed = p.acquire(1s, ec);
    CHECK(ec == errc::pool_closed);

    const std::vector<error_code> expected{
        {},
        make_error_code(errc::pool_exhausted),
        timed_out->ec(),
        cancelled.ec(),
        make_error_code(errc::acquire_timeout),
        {},
        make_error_code(errc::pool_closed),
        make_error_code(errc::pool_closed),
    };
    CHECK(obs->acquire_errors == expected);
    CHECK(timed_out->ec() == errc::acquire_timeout);
    CHECK(cancelled.ec() == asio::error::operation_aborted);
}

TEST_CASE_METHOD(keyed_F, "a closed keyed pool reports the acquires it refuses",
                 "[observer][review][keyed][acquire]")
{
    auto obs = std::make_shared<tally>();
    auto& k = make_keyed({.per_key = {.max_size = 1}}, obs);
    {
        auto h = acquire_now("a");
    }
    REQUIRE(obs->acquire_errors.size() == 1);
    k.close();
    auto held = start_acquire("a");   // a key held
    auto fresh = start_acquire("b");  // a key never used
    REQUIRE(held->called());
    REQUIRE(fresh->called());
    CHECK(held->ec() == errc::pool_closed);
    CHECK(fresh->ec() == errc::pool_closed);
    error_code ec;
    auto blocking = k.acquire("c", 1s, ec);
    CHECK(ec == errc::pool_closed);
    const std::vector<error_code> expected{{},
                                           make_error_code(errc::pool_closed),
                                           make_error_code(errc::pool_closed),
                                           make_error_code(errc::pool_closed)};
    CHECK(obs->acquire_errors == expected);
}

namespace {

// Records, for each acquire event, whether it was reported on `handlers`' thread.
struct executor_probe : connpool::pool_observer<fake_connection> {
    asio::io_context* handlers = nullptr;
    std::vector<bool> on_handler_executor;
    void on_acquire(const acquire_event&) override
    {
        on_handler_executor.push_back(handlers->get_executor().running_in_this_thread());
    }
};

}  // namespace

// observer.hpp: an async_acquire is reported "on the handler's executor, just before the handler
// runs", also when it completes at once (an idle connection, a closed pool).
TEST_CASE_METHOD(fixture<>, "async_acquire is reported on the handler's executor, even at once",
                 "[observer][review][acquire]")
{
    auto obs = std::make_shared<executor_probe>();
    asio::io_context handlers;
    obs->handlers = &handlers;
    auto& p = make_pool({.min_size = 1, .max_size = 1}, obs);
    REQUIRE(p.stats().idle == 1);
    std::vector<std::size_t> events_when_handled;
    auto handler = [&](error_code, F::handle) {
        events_when_handled.push_back(obs->on_handler_executor.size());
    };
    p.async_acquire(asio::bind_executor(handlers, handler));  // served at once
    poll();
    poll_all(handlers);
    p.close();
    p.async_acquire(asio::bind_executor(handlers, handler));  // refused at once
    poll();
    poll_all(handlers);
    CHECK(obs->on_handler_executor == std::vector<bool>{true, true});
    CHECK(events_when_handled == std::vector<std::size_t>{1, 2});  // each just before its handler
}

// ------------------------------------------------------------------------ destructions

TEST_CASE_METHOD(F, "destructions and connects reported add up to stats() by cause",
                 "[observer][review][destroyed]")
{
    auto& p = make({.min_size = 2,
                    .max_size = 4,
                    .idle_timeout = 10s,
                    .max_lifetime = 60s,
                    .lifetime_jitter = 0.0});
    REQUIRE(p.stats().idle == 2);
    p.clear();  // 2 cleared; min_size opens 2 more
    poll();
    check_destroyed_match();
    {
        auto a = acquire_now();
        auto b = acquire_now();
        auto c = acquire_now();
        auto d = acquire_now();
        p.resize(1, 2);  // shrinking: two lent above the new max, closed when they come back
    }
    poll();
    check_destroyed_match();
    CHECK(p.stats().destroyed_surplus == 2);
    p.resize(0, 4);
    {
        auto a = acquire_now();
    }
    advance_in_steps(70s, 1s);  // idle reaping, lifetime
    check_destroyed_match();
    {
        auto h = acquire_now();
    }
    p.close();
    poll();
    check_destroyed_match();
    CHECK(p.stats().destroyed_closed >= 1);
}

// ------------------------------------------------------------------------ leaks

TEST_CASE_METHOD(F, "a slot lent again after a reported leak is reported again, with its site",
                 "[observer][review][leak]")
{
    auto& p = make({.min_size = 1, .max_size = 1, .leak_threshold = 1s});
    auto first = p.try_acquire();
    REQUIRE(first);
    advance_in_steps(2s, 100ms);
    REQUIRE(obs->leaks.size() == 1);
    first->release();
    const std::uint_least32_t line = __LINE__ + 1;
    auto second = p.try_acquire();
    REQUIRE(second);
    advance_in_steps(500ms, 100ms);
    CHECK(obs->leaks.size() == 1);
    CHECK(p.stats().leases_overdue == 0);
    advance_in_steps(2s, 100ms);
    REQUIRE(obs->leaks.size() == 2);
    CHECK(obs->leaks[1].where.line() == line);
    CHECK(obs->leaks[1].held >= 1s);
    CHECK(obs->leaks[1].held <= 1500ms);
    CHECK(p.stats().leaks_suspected == 2);
}

TEST_CASE("stats() names the oldest of several leases, with or without use times and observer",
          "[observer][review][leak]")
{
    const bool measure = GENERATE(false, true);
    const bool observed = GENERATE(false, true);
    INFO("measure_use_time " << measure << ", observer " << observed);
    fixture<> f;
    auto& p = f.make_pool({.max_size = 3, .leak_threshold = 1s, .measure_use_time = measure},
                          observed ? std::make_shared<tally>() : nullptr);
    auto a = f.acquire_now();
    f.advance(400ms);
    checked_result<fixture<>::handle> waited;
    const std::uint_least32_t line = __LINE__ + 1;
    p.async_acquire(waited.handler());  // no idle connection: waits for a connect
    f.poll();
    REQUIRE(waited.called());
    auto b = std::move(waited.value());
    f.advance(400ms);
    auto c = f.acquire_now();
    a.release();  // the oldest is now b, held 400 ms
    auto st = p.stats();
    CHECK(st.oldest_lease_held == 400ms);
    CHECK(st.oldest_lease_where.line() == line);
    CHECK(st.leases_overdue == 0);
    f.advance(700ms);
    st = p.stats();
    CHECK(st.leases_overdue == 1);
    CHECK(st.oldest_lease_held == 1100ms);
}

// ------------------------------------------------------------------------ reentrancy

namespace {

// Calls its pool from every member (observer.hpp: none is called under a lock of the pool).
// One level deep: what the pool calls back from inside is not called again.
struct reentrant : connpool::pool_observer<fake_connection> {
    F::pool_type* pool = nullptr;
    bool inside = false;
    int calls = 0;

    template <class Body>
    void reenter(Body body)
    {
        if (!pool || inside)
            return;
        inside = true;
        ++calls;
        body(*pool);
        inside = false;
    }
    static void use_all(F::pool_type& p)
    {
        (void)p.stats();
        (void)p.histograms();
        if (auto h = p.try_acquire())
            h->release();
    }

    void on_connect_started() override { reenter(use_all); }
    void on_connect_finished(const connpool::connect_event&) override { reenter(use_all); }
    void on_acquire(const acquire_event&) override { reenter(use_all); }
    void on_release(const connpool::release_event&) override { reenter(use_all); }
    // clear() on a few destructions only: a clear() on each would discard the connections
    // opened meanwhile as they arrive, each destruction clearing again, without end.
    int clears_left = 3;
    void on_destroyed(destroy_cause) override
    {
        reenter([this](F::pool_type& p) {
            use_all(p);
            if (clears_left > 0) {
                --clears_left;
                p.clear();
            }
        });
    }
    void on_leak_suspected(const leak_event&) override
    {
        reenter([](F::pool_type& p) { p.clear(); });
    }
    error_code after_connect(fake_connection&) override
    {
        reenter(use_all);
        return {};
    }
    bool before_lend(fake_connection&) override
    {
        reenter(use_all);
        return true;
    }
    bool after_return(fake_connection&) override
    {
        reenter(use_all);
        return true;
    }
};

}  // namespace

TEST_CASE_METHOD(fixture<>,
                 "an observer may call stats, histograms, try_acquire and clear from any member",
                 "[observer][review][reentrant]")
{
    auto obs = std::make_shared<reentrant>();
    auto& p = make_pool({.min_size = 2, .max_size = 3, .leak_threshold = 1s}, obs);
    obs->pool = &p;
    for (int round = 0; round < 3; ++round) {
        auto a = acquire_now();
        auto b = p.try_acquire();
        auto c = start_acquire(1s);
        advance_in_steps(2s, 250ms);  // leaks reported: the observer clears
        a.release();
        if (b)
            b->invalidate();
        b.reset();
        c.reset();
        poll();
    }
    p.clear();
    poll();
    CHECK(obs->calls > 10);
    const auto st = p.stats();
    CHECK(st.in_use == 0);
    CHECK(st.waiters == 0);
    obs->pool = nullptr;
}
