// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// pool::async_wait_ready (issue 10, item 5): completes when min_size connections are open (idle
// or lent), at once when min_size is 0 or met already; with the last connect error (or
// acquire_timeout) when options().acquire_timeout passes first; with pool_closed on close;
// with operation_aborted when cancelled. Fake backend, manual clock.

#include "support/pool_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

namespace {

// A pool whose connects stay in flight until the test completes them: its waits for readiness
// stay pending meanwhile.
struct F : fixture<> {
    pool_type& make_unready_pool(connpool::pool_options opts = {.min_size = 1, .max_size = 1})
    {
        backend->set_connect(outcome::pending());
        return make_pool(opts);
    }
};

}  // namespace

TEST_CASE_METHOD(F,
                 "with min_size 0 a wait for readiness completes at once, but not inside the "
                 "call",
                 "[ready]")
{
    auto& p = make_pool({.max_size = 2});
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    CHECK(r.calls() == 0);
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(p.stats().size == 0);  // opens nothing
}

TEST_CASE_METHOD(F, "a wait for readiness completes once min_size connections are open", "[ready]")
{
    auto& p = make_unready_pool({.min_size = 3, .max_size = 4, .max_concurrent_connects = 3});
    REQUIRE(backend->pending_connects() == 3);
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    poll();
    backend->complete_next_connect();
    backend->complete_next_connect();
    poll();
    CHECK(p.stats().idle == 2);
    CHECK(!r.called());  // two of three
    backend->complete_next_connect();
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(p.stats().idle == 3);
}

TEST_CASE_METHOD(F, "a wait for readiness completes at once when min_size is met already",
                 "[ready]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 4});
    REQUIRE(p.stats().idle == 2);
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    CHECK(r.calls() == 0);
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
}

TEST_CASE_METHOD(F, "lent connections count as open; connects in flight do not", "[ready]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 3});
    auto a = acquire_now();
    auto b = acquire_now();
    checked_ec lent{must_complete};
    p.async_wait_ready(lent.handler());
    poll();
    REQUIRE(lent.called_once());
    CHECK(!lent.ec());

    backend->set_connect(outcome::pending());
    a.invalidate();
    a = handle{};  // one open: the replacement's connect stays in flight
    poll();
    REQUIRE(p.stats().pending == 1);
    checked_ec connecting{must_complete};
    p.async_wait_ready(connecting.handler());
    poll();
    CHECK(!connecting.called());
    backend->complete_next_connect();
    poll();
    REQUIRE(connecting.called_once());
    CHECK(!connecting.ec());
}

TEST_CASE_METHOD(F,
                 "a backend down then up: the first wait fails at its deadline with the "
                 "connect error, a second one succeeds once the backend is up",
                 "[ready][last_error]")
{
    bool down = true;
    backend->script_connect(
        [&down](const call_info&) { return down ? outcome::fail(refused()) : outcome::ok(); });
    auto& p = make_pool({.min_size = 2,
                         .max_size = 2,
                         .acquire_timeout = 1s,
                         .backoff_initial = 10ms,
                         .backoff_max = 50ms});
    checked_ec first{must_complete};
    p.async_wait_ready(first.handler());
    advance_in_steps(999ms, 1ms);
    CHECK(!first.called());
    advance(1ms);
    REQUIRE(first.called_once());
    CHECK(first.ec() == asio::error::connection_refused);
    CHECK(p.stats().last_connect_error == asio::error::connection_refused);
    CHECK(p.stats().size == 0);

    down = false;
    checked_ec second{must_complete};
    p.async_wait_ready(second.handler());
    advance_until([&] { return second.called(); }, 5ms, 1s);
    REQUIRE(second.called_once());
    CHECK(!second.ec());
    CHECK(p.stats().idle == 2);
    CHECK(backend->connects_failed() >= 2);
}

TEST_CASE_METHOD(F, "a wait for readiness outlasts a few refused connects within its deadline",
                 "[ready]")
{
    for (int i = 0; i < 3; ++i)
        backend->push_connect(outcome::fail(refused()));  // refuse 3 connects, then accept
    auto& p = make_pool({.min_size = 1,
                         .max_size = 1,
                         .acquire_timeout = 5s,
                         .backoff_initial = 10ms,
                         .backoff_max = 50ms});
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    advance_until([&] { return r.called(); }, 5ms, 2s);
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(backend->connects_failed() == 3);
    CHECK(p.stats().idle == 1);
}

TEST_CASE_METHOD(F, "a wait for readiness reports acquire_timeout when no connect has failed",
                 "[ready][timeout]")
{
    auto& p = make_unready_pool({.min_size = 1, .max_size = 1, .acquire_timeout = 1s});
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    poll();
    advance(999ms);
    CHECK(!r.called());
    advance(1ms);
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::acquire_timeout);
    CHECK(p.stats().timeouts == 0);  // not an acquire
}

TEST_CASE_METHOD(F,
                 "a wait for readiness is cancelled by terminal, partial and total "
                 "cancellation, and leaves no trace",
                 "[ready][cancel]")
{
    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                               asio::cancellation_type::total);
    auto& p = make_unready_pool({.min_size = 1, .max_size = 1, .acquire_timeout = 1s});
    asio::cancellation_signal signal;
    checked_ec r{must_complete};
    p.async_wait_ready(asio::bind_cancellation_slot(signal.slot(), r.handler()));
    poll();
    signal.emit(type);
    CHECK(r.calls() == 0);  // completed through the executor, never inside emit
    poll();
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    CHECK(!signal.slot().has_handler());  // the slot is cleared

    // Neither readiness nor the deadline completes it again.
    backend->complete_next_connect();
    advance(2s);
    CHECK(r.calls() == 1);
    CHECK(p.stats().idle == 1);
}

TEST_CASE_METHOD(F, "cancelling one wait for readiness leaves the others waiting",
                 "[ready][cancel]")
{
    auto& p = make_unready_pool();
    asio::cancellation_signal signal;
    checked_ec cancelled{must_complete}, kept{must_complete};
    p.async_wait_ready(asio::bind_cancellation_slot(signal.slot(), cancelled.handler()));
    p.async_wait_ready(kept.handler());
    poll();
    signal.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(cancelled.called_once());
    CHECK(!kept.called());
    backend->complete_next_connect();
    poll();
    REQUIRE(kept.called_once());
    CHECK(!kept.ec());
}

TEST_CASE_METHOD(F, "cancelling a wait for readiness that has completed has no effect",
                 "[ready][cancel]")
{
    auto& p = make_pool({.max_size = 1});
    asio::cancellation_signal signal;
    checked_ec r{must_complete};
    p.async_wait_ready(asio::bind_cancellation_slot(signal.slot(), r.handler()));
    poll();
    REQUIRE(r.called_once());
    signal.emit(asio::cancellation_type::terminal);  // nothing connected any more
    poll();
    CHECK(r.calls() == 1);
    CHECK(!r.ec());
}

TEST_CASE_METHOD(F, "any number of waits for readiness complete together", "[ready]")
{
    auto& p = make_unready_pool({.min_size = 1, .max_size = 2});
    std::vector<std::unique_ptr<checked_ec>> waits;
    for (int i = 0; i < 5; ++i) {
        waits.push_back(std::make_unique<checked_ec>(must_complete));
        p.async_wait_ready(waits.back()->handler());
    }
    poll();
    for (auto& w : waits)
        CHECK(!w->called());
    backend->complete_next_connect();
    poll();
    for (auto& w : waits) {
        REQUIRE(w->called_once());
        CHECK(!w->ec());
    }
}

TEST_CASE_METHOD(F,
                 "closing the pool fails the waits for readiness with pool_closed, and a "
                 "later wait too",
                 "[ready][close]")
{
    auto& p = make_unready_pool();
    checked_ec before{must_complete};
    p.async_wait_ready(before.handler());
    poll();
    p.close();
    poll();
    REQUIRE(before.called_once());
    CHECK(before.ec() == errc::pool_closed);

    checked_ec after{must_complete};
    p.async_wait_ready(after.handler());
    poll();
    REQUIRE(after.called_once());
    CHECK(after.ec() == errc::pool_closed);
}

TEST_CASE_METHOD(F, "destroying the pool fails a wait for readiness with pool_closed",
                 "[ready][close]")
{
    auto& p = make_unready_pool();
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    poll();
    destroy_pool();
    REQUIRE(r.called_once());
    CHECK(r.ec() == errc::pool_closed);
}

TEST_CASE_METHOD(F, "a wait for readiness completes on its handler's associated executor",
                 "[ready]")
{
    auto& p = make_unready_pool();
    asio::io_context other;
    checked_ec r{must_complete};
    p.async_wait_ready(asio::bind_executor(other.get_executor(), r.handler()));
    poll();
    CHECK(other.poll() == 0);
    CHECK(!other.stopped());  // the pending wait keeps work counted there
    backend->complete_next_connect();
    poll();
    CHECK(!r.called());  // posted to `other`, which nobody has run yet
    other.poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
}

TEST_CASE_METHOD(F, "a resize that lowers min_size completes the waits for readiness it meets",
                 "[ready][resize]")
{
    auto& p = make_unready_pool({.min_size = 3, .max_size = 3, .max_concurrent_connects = 3});
    checked_ec r{must_complete};
    p.async_wait_ready(r.handler());
    backend->complete_next_connect();
    poll();
    CHECK(!r.called());  // one of three
    p.resize(2, 3);
    poll();
    CHECK(!r.called());  // one of two
    p.resize(1, 3);
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
}
