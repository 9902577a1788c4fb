// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// pool_options::fail_fast (issue 10, item 5): while no connection is open and the latest connect
// attempt failed, acquires fail at once with that attempt's error instead of waiting out their
// deadline, the waiters already queued fail too, and acquires wait again once a connect succeeds;
// retries go on in the background. Without fail_fast, acquires wait (regression checks).

#include "support/pool_fixture.hpp"
#include "support/run_until.hpp"

#include <boost/asio/error.hpp>

#include <future>
#include <memory>
#include <thread>
#include <utility>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

namespace {

using F = fixture<>;

// A pool that fails fast; the backoff is short next to the acquires' hour-long deadlines.
connpool::pool_options fail_fast_options(std::size_t max_size = 2)
{
    return {
        .max_size = max_size, .backoff_initial = 100ms, .backoff_max = 400ms, .fail_fast = true};
}

// Brings the pool into an outage: one acquire, whose connect is refused. Returns that acquire.
template <class Fixture>
std::unique_ptr<typename Fixture::acquire_result> refuse_first_connect(Fixture& f)
{
    f.backend->set_connect(outcome::fail(refused()));
    auto first = f.start_acquire(3600s);
    REQUIRE(f.backend->connects_failed() == 1);
    return first;
}

// One connection lent, then a connect refused for a waiter: no outage, a connection is open.
template <class Fixture>
std::pair<typename Fixture::handle, std::unique_ptr<typename Fixture::acquire_result>>
wait_beside_a_lent_connection(Fixture& f)
{
    auto held = f.acquire_now();
    f.backend->set_connect(outcome::fail(refused()));
    auto waiting = f.start_acquire(3600s);
    REQUIRE(f.backend->connects_failed() == 1);
    REQUIRE(!waiting->called());  // the lent connection can come back to it
    return {std::move(held), std::move(waiting)};
}

}  // namespace

TEST_CASE_METHOD(F,
                 "with fail_fast, a waiter whose connect is refused fails at once with the "
                 "connect error",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto first = refuse_first_connect(*this);
    REQUIRE(first->called_once());  // no clock movement: not its deadline
    CHECK(first->ec() == asio::error::connection_refused);
    CHECK(!first->value());
    const auto s = p.stats();
    CHECK(s.waiters == 0);
    CHECK(s.timeouts == 0);
    CHECK(s.last_connect_error == asio::error::connection_refused);
}

TEST_CASE_METHOD(F, "with fail_fast, an acquire during an outage fails at once, async or blocking",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto first = refuse_first_connect(*this);
    const long attempts = backend->connects_started();

    auto async = start_acquire(3600s);
    REQUIRE(async->called_once());
    CHECK(async->ec() == asio::error::connection_refused);

    // The blocking acquire on another thread (nothing runs the io_context meanwhile: the
    // verdict needs none). Bounded: a regression would otherwise block for an hour.
    auto blocking = std::async(std::launch::async, [&] {
        error_code ec;
        auto h = p.acquire(3600s, ec);
        return std::make_pair(ec, static_cast<bool>(h));
    });
    const bool returned = blocking.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    CHECK(returned);
    if (!returned)
        p.close();  // frees the blocked thread
    const auto [ec, got] = blocking.get();
    CHECK(ec == asio::error::connection_refused);
    CHECK(!got);
    CHECK(p.stats().waiters == 0);
    CHECK(backend->connects_started() == attempts);  // no attempt during the backoff
}

TEST_CASE_METHOD(F, "with fail_fast, the throwing blocking acquire throws the connect error",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto first = refuse_first_connect(*this);
    try {
        auto h = p.acquire(3600s);
        FAIL("acquire returned a connection during an outage");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == asio::error::connection_refused);
    }
}

TEST_CASE_METHOD(F,
                 "with fail_fast, every queued waiter fails when the connect fails, though "
                 "another connect is still in flight",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options(3));
    backend->set_connect(outcome::pending());
    auto a = start_acquire(3600s);
    auto b = start_acquire(3600s);
    auto c = start_acquire(3600s);
    REQUIRE(backend->pending_connects() == 2);  // max_concurrent_connects
    REQUIRE(p.stats().waiters == 3);

    backend->complete_next_connect(refused());
    poll();
    for (auto* r : {a.get(), b.get(), c.get()}) {
        REQUIRE(r->called_once());
        CHECK(r->ec() == asio::error::connection_refused);
    }
    CHECK(p.stats().waiters == 0);
    CHECK(p.stats().pending == 1);

    // A newcomer is refused while that connect is in flight: it is no open connection.
    auto during = start_acquire(3600s);
    REQUIRE(during->called_once());
    CHECK(during->ec() == asio::error::connection_refused);

    // It succeeds: acquires are served again.
    backend->complete_next_connect();
    poll();
    CHECK(p.stats().idle == 1);
    auto h = acquire_now();
    CHECK(h->id == 1);
}

TEST_CASE_METHOD(F, "with fail_fast, a connect timeout fails the waiters when it happens",
                 "[fail_fast][timeout]")
{
    auto& p = make_pool({.max_size = 1, .connect_timeout = 2s, .fail_fast = true});
    backend->set_connect(outcome::pending());
    auto r = start_acquire(3600s);
    advance(1999ms);
    CHECK(!r->called());
    advance(1ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == errc::connect_timeout);
    CHECK(p.stats().timeouts == 0);  // not the acquire's deadline
}

TEST_CASE_METHOD(F,
                 "with fail_fast, retries go on in the background after the waiters failed, "
                 "and acquires are served again once a connect succeeds",
                 "[fail_fast][backoff]")
{
    auto& p = make_pool(fail_fast_options());
    auto first = refuse_first_connect(*this);
    REQUIRE(first->called_once());

    // Nobody waits, yet the pool keeps trying, with the backoff.
    advance_in_steps(2s, 10ms);
    const long tried = backend->connects_started();
    CHECK(tried >= 4);   // 2 s at most 400 ms apart
    CHECK(tried <= 21);  // at least 50 ms apart (backoff_initial jittered by at most half)
    CHECK(p.stats().size == 0);

    backend->set_connect(outcome::ok());  // the backend is back
    advance_until([&] { return p.stats().idle == 1; }, 10ms, 1s);
    REQUIRE(p.stats().idle == 1);  // opened in the background, before any acquire
    const long after_recovery = backend->connects_started();
    auto h = start_acquire(3600s);
    REQUIRE(h->called_once());
    CHECK(!h->ec());
    advance_in_steps(2s, 100ms);
    CHECK(backend->connects_started() == after_recovery);  // no more retries once connected
}

TEST_CASE_METHOD(F,
                 "with fail_fast, acquires wait again once a connect succeeded, even when a "
                 "later connect fails while a connection is open",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto [held, waiting] = wait_beside_a_lent_connection(*this);
    CHECK(p.stats().waiters == 1);

    held = handle{};
    poll();
    REQUIRE(waiting->called_once());
    CHECK(!waiting->ec());
    CHECK(waiting->value()->id == 1);
}

TEST_CASE_METHOD(F,
                 "with fail_fast, losing the last open connection while connects fail fails "
                 "the queued waiters at once",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto [held, waiting] = wait_beside_a_lent_connection(*this);

    held.invalidate();
    held = handle{};  // destroyed: nothing is open any more
    poll();
    REQUIRE(waiting->called_once());
    CHECK(waiting->ec() == asio::error::connection_refused);
    CHECK(p.stats().waiters == 0);
    CHECK(p.stats().size == 0);
}

TEST_CASE_METHOD(F,
                 "with fail_fast, an acquire beyond max_waiters during an outage reports the "
                 "connect error, not pool_exhausted",
                 "[fail_fast][exhausted]")
{
    auto& p = make_pool({.max_size = 1,
                         .max_waiters = 0,
                         .backoff_initial = 100ms,
                         .backoff_max = 400ms,
                         .fail_fast = true});
    backend->set_connect(outcome::fail(refused()));
    auto first = start_acquire(3600s);
    REQUIRE(first->called_once());
    CHECK(first->ec() == errc::pool_exhausted);  // before any failure: max_waiters 0
    REQUIRE(backend->connects_failed() == 1);    // its demand still opened a connect

    auto second = start_acquire(3600s);
    REQUIRE(second->called_once());
    CHECK(second->ec() == asio::error::connection_refused);
    CHECK(p.stats().exhausted == 1);
}

TEST_CASE_METHOD(F, "with fail_fast, try_acquire still just returns nothing during an outage",
                 "[fail_fast]")
{
    auto& p = make_pool(fail_fast_options());
    auto first = refuse_first_connect(*this);
    CHECK(!p.try_acquire());
    CHECK(p.stats().waiters == 0);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F,
                 "without fail_fast, acquires wait out their deadline during an outage and "
                 "then report the connect error",
                 "[fail_fast][timeout][last_error]")
{
    auto& p = make_pool(
        {.max_size = 2, .acquire_timeout = 1s, .backoff_initial = 10ms, .backoff_max = 50ms});
    backend->set_connect(outcome::fail(refused()));
    auto first = start_acquire();
    REQUIRE(backend->connects_failed() >= 1);
    advance_in_steps(500ms, 10ms);
    auto second = start_acquire();
    CHECK(!first->called());
    CHECK(!second->called());  // queued: the backend's refusal is not for good
    CHECK(p.stats().waiters == 2);
    advance_in_steps(500ms, 10ms);
    REQUIRE(first->called_once());
    CHECK(first->ec() == asio::error::connection_refused);
    CHECK(!second->called());
    advance_in_steps(500ms, 10ms);
    REQUIRE(second->called_once());
    CHECK(second->ec() == asio::error::connection_refused);
    CHECK(p.stats().timeouts == 2);
}

TEST_CASE_METHOD(F,
                 "without fail_fast, a blocked thread waits through failed connects and is "
                 "served when one succeeds",
                 "[fail_fast][blocking]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->set_connect(outcome::pending());
    auto blocking = std::async(std::launch::async, [&] {
        error_code ec;
        auto h = p.acquire(3600s, ec);
        return std::make_pair(ec, h ? h->id : 0);
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    REQUIRE(run_until(ioc, [&] { return backend->pending_connects() == 1; }));
    backend->complete_next_connect(refused());
    poll();
    CHECK(blocking.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
    advance(10ms);  // the retry
    REQUIRE(run_until(ioc, [&] { return backend->pending_connects() == 1; }));
    backend->complete_next_connect();
    poll();
    REQUIRE(blocking.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto [ec, id] = blocking.get();
    CHECK(!ec);
    CHECK(id == 1);
}

TEST_CASE_METHOD(F,
                 "with fail_fast, a blocked thread fails when the connect it waits for is "
                 "refused",
                 "[fail_fast][blocking]")
{
    auto& p = make_pool(fail_fast_options(1));
    backend->set_connect(outcome::pending());
    auto blocking = std::async(std::launch::async, [&] {
        error_code ec;
        auto h = p.acquire(3600s, ec);
        return std::make_pair(ec, static_cast<bool>(h));
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    REQUIRE(run_until(ioc, [&] { return backend->pending_connects() == 1; }));
    backend->complete_next_connect(refused());
    poll();
    const bool returned = blocking.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    CHECK(returned);
    if (!returned)
        p.close();
    const auto [ec, got] = blocking.get();
    CHECK(ec == asio::error::connection_refused);
    CHECK(!got);
}
