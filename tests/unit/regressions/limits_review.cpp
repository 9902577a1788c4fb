// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Regressions found by the adversarial review of the shared limits and resize (issue 10): each
// case failed before its fix. Manual clock, fake backend, one thread.

#include "support/pools_fixture.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::connection_limit;
using connpool::pool_options;
using connpool::test::checked_result;
using connpool::test::poll_all;

namespace {

using F = connpool::test::pools_fixture;
using handle = F::handle;
using acquire_result = F::acquire_result;

}  // namespace

// A pool's place in its limit's FIFO is the demand of its waiters. When they leave without a
// connect (they gave up, were cancelled, or were served by a connection returned inside their
// pool), the place must go with them: a stale place made every other pool under the limit close
// its returned connections for a demand that no longer existed, so that their own waiters paid a
// connect (or timed out behind a failing backend) instead of getting the connection back.
TEST_CASE_METHOD(F,
                 "a returned connection is not closed for a pool whose waiters are gone, it goes "
                 "to the waiter of its own pool",
                 "[limit][pool][fairness][regression]")
{
    auto limit = std::make_shared<connection_limit>(2);
    auto& a = add_pool({.max_size = 4, .limit = limit});
    auto& b = add_pool({.max_size = 4, .limit = limit});
    auto a1 = acquire_now(a);
    std::optional<handle> filler;  // keeps the limit full

    SECTION("the other pool's waiter gave up")
    {
        auto a2 = acquire_now(a);
        auto gone = start_acquire(b, 100ms);
        advance(100ms);
        REQUIRE(gone->called());
        CHECK(gone->ec() == connpool::errc::acquire_timeout);
        filler.emplace(std::move(a2));
    }
    SECTION("the other pool's waiter was cancelled")
    {
        auto a2 = acquire_now(a);
        boost::asio::cancellation_signal cancel;
        acquire_result cancelled;
        b.async_acquire(boost::asio::bind_cancellation_slot(cancel.slot(), cancelled.handler()));
        poll();
        REQUIRE(!cancelled.called());
        cancel.emit(boost::asio::cancellation_type::terminal);
        poll();
        REQUIRE(cancelled.called());
        CHECK(cancelled.ec() == boost::asio::error::operation_aborted);
        filler.emplace(std::move(a2));
    }
    SECTION("the other pool's waiter was served by a connection returned inside its pool")
    {
        auto held_by_b = acquire_now(b);
        auto served = start_acquire(b);  // b asks the limit for a unit: it is full
        REQUIRE(!served->called());
        held_by_b.release();  // nobody asked before b's waiter: handed over inside b
        poll();
        REQUIRE(served->called());
        REQUIRE(!served->ec());
        filler.emplace(std::move(served->value()));
    }
    REQUIRE(limit->in_use() == 2);
    const long connects_before = backend_of(0).connects_started();

    advance(10ms);
    auto wa = start_acquire(a);  // a asks the limit for a unit now
    REQUIRE(!wa->called());
    const int returned_id = a1->id;
    a1.release();  // nobody else waits for a unit any more: a's own waiter gets it
    poll();
    REQUIRE(wa->called());
    REQUIRE(!wa->ec());
    CHECK(wa->value()->id == returned_id);
    CHECK(a.stats().destroyed_surplus == 0);
    CHECK(backend_of(0).connects_started() == connects_before);
    CHECK(limit->in_use() == 2);
}

// A connect takes its unit when it is planned, under the pool's mutex, and starts later on the
// pool's strand. set_max lowering the limit in between did not stop it: the backend saw a new
// connection after the max was lowered below the count ("no connect starts until the count is
// below the new max").
TEST_CASE_METHOD(F, "a connect planned before set_max lowered the limit does not start after it",
                 "[limit][pool][set_max][regression]")
{
    auto limit = std::make_shared<connection_limit>(2);
    auto& a = add_pool({.max_size = 4, .limit = limit});
    auto held = acquire_now(a);
    REQUIRE(backend_of(0).connects_started() == 1);
    acquire_result waiting;
    a.async_acquire(waiting.handler());  // takes the second unit; the connect is posted
    REQUIRE(limit->in_use() == 2);
    limit->set_max(1);  // before the strand ran the connect
    poll();
    CHECK(backend_of(0).connects_started() == 1);
    CHECK(limit->in_use() == 1);
    CHECK(!waiting.called());
    held.release();  // the limit is within its max again: handed to the waiter
    poll();
    REQUIRE(waiting.called());
    CHECK(!waiting.ec());
    CHECK(limit->in_use() == 1);
    CHECK(backend_of(0).connects_started() == 1);
}

// resize() and set_max() close the idle surplus at once and the lent surplus when it comes back;
// a connection that was connecting (or being pinged) when the max was lowered was neither, and
// when it arrived it was offered like any other: with no waiter it stayed idle above the max for
// good (min_size, or idle_timeout, keep it), the pool or the limit over its max while quiescent.
TEST_CASE_METHOD(F, "a connection that arrives after the max was lowered is closed as surplus",
                 "[limit][pool][resize][set_max][regression]")
{
    SECTION("resize lowered max_size while it connected")
    {
        backend_of_next().set_connect(outcome::pending());
        auto& a = add_pool({.min_size = 2, .max_size = 2});
        REQUIRE(backend_of(0).pending_connects() == 2);
        a.resize(0, 1);
        backend_of(0).set_connect(outcome::ok());
        while (backend_of(0).complete_next_connect())
            poll();
        CHECK(a.stats().size == 1);
        CHECK(a.stats().destroyed_surplus == 1);
        CHECK(backend_of(0).live() == 1);
    }
    SECTION("set_max lowered the limit while it connected")
    {
        auto limit = std::make_shared<connection_limit>(2);
        backend_of_next().set_connect(outcome::pending());
        auto& a = add_pool({.min_size = 2, .max_size = 4, .limit = limit});
        REQUIRE(backend_of(0).pending_connects() == 2);
        limit->set_max(1);
        backend_of(0).set_connect(outcome::ok());
        while (backend_of(0).complete_next_connect())
            poll();
        CHECK(limit->in_use() == 1);
        CHECK(a.stats().size == 1);
        CHECK(backend_of(0).live() == 1);
    }
}

TEST_CASE("a connection back from a ping after resize lowered max_size is closed as surplus",
          "[pool][resize][regression]")
{
    manual_clock_guard clock_guard;
    boost::asio::io_context ioc;
    auto backend = std::make_shared<fake_backend>();
    {
        connpool::pool<fake_connection, ping_factory, manual_clock> p(
            ioc.get_executor(), ping_factory(ioc.get_executor(), backend),
            {.max_size = 2, .validation_interval = 0ms});  // a ping before every lease
        {
            checked_result<decltype(p)::handle_type> x, y;
            p.async_acquire(x.handler());
            p.async_acquire(y.handler());
            poll_all(ioc);
            REQUIRE(x.called());
            REQUIRE(y.called());
        }  // both idle now
        poll_all(ioc);
        REQUIRE(p.stats().idle == 2);
        backend->set_ping(outcome::pending());
        checked_result<decltype(p)::handle_type> waiting;
        p.async_acquire(waiting.handler());  // both idle ones go to be pinged
        poll_all(ioc);
        REQUIRE(backend->pending_pings() == 2);
        p.resize(0, 1);
        while (backend->complete_next_ping())
            poll_all(ioc);
        REQUIRE(waiting.called());
        CHECK(!waiting.ec());
        CHECK(p.stats().size == 1);
        CHECK(p.stats().destroyed_surplus == 1);
        CHECK(backend->live() == 1);
    }
    poll_all(ioc);
    CHECK(backend->live() == 0);
}

namespace {

// What the limit counted while each connection existed (see the next test).
struct connection_census {
    std::shared_ptr<connection_limit> limit;
    std::size_t live = 0;
    std::size_t uncounted = 0;  // times a connection existed that the limit did not count
};

// A connection that checks, when it is made and when its destructor runs, that the limit counts
// every connection that exists (the contract: "until their destructor returns").
class census_connection {
public:
    explicit census_connection(std::shared_ptr<connection_census> c) : census_(std::move(c))
    {
        ++census_->live;
        check();
    }
    census_connection(census_connection&& o) noexcept : census_(std::move(o.census_)) {}
    census_connection& operator=(census_connection&& o) noexcept
    {
        if (this != &o) {
            gone();
            census_ = std::move(o.census_);
        }
        return *this;
    }
    ~census_connection() { gone(); }

private:
    void check() const
    {
        if (census_->live > census_->limit->in_use())
            ++census_->uncounted;
    }
    void gone() noexcept
    {
        if (!census_)
            return;
        check();
        --census_->live;
        census_.reset();
    }
    std::shared_ptr<connection_census> census_;
};

// A factory whose connect ignores cancellation, as a blocking driver's does (blocking_factory runs
// PQconnectdb on a worker thread; nothing can stop it): the test completes it when it likes.
struct deaf_factory {
    std::shared_ptr<
        std::deque<boost::asio::any_completion_handler<void(error_code, census_connection)>>>
        connects = std::make_shared<
            std::deque<boost::asio::any_completion_handler<void(error_code, census_connection)>>>();

    template <class Token>
    auto async_connect(Token&& token)
    {
        return boost::asio::async_initiate<Token, void(error_code, census_connection)>(
            [q = connects](auto handler) { q->emplace_back(std::move(handler)); }, token);
    }
};

}  // namespace

// A connect that the pool gave up on (connect_timeout) but that succeeds later delivers a live
// connection with the timeout error. The pool counted its unit out (free_slot releases it to the
// limit's next waiter) before that connection's destructor ran, when the completion handler's
// argument went out of scope: for that moment the backend saw one connection more than the
// limit, and the limit's next connect could already be running.
TEST_CASE("a connection that arrives after its connect timed out is destroyed before its unit "
          "goes back to the limit",
          "[limit][pool][regression]")
{
    manual_clock_guard clock_guard;
    boost::asio::io_context ioc;
    auto census = std::make_shared<connection_census>();
    census->limit = std::make_shared<connection_limit>(1);
    deaf_factory factory;
    {
        connpool::pool<census_connection, deaf_factory, manual_clock> p(
            ioc.get_executor(), factory,
            {.min_size = 1, .max_size = 1, .connect_timeout = 1s, .limit = census->limit});
        poll_all(ioc);
        REQUIRE(factory.connects->size() == 1);
        REQUIRE(census->limit->in_use() == 1);
        advance(ioc, 1s);  // the pool's timeout: the connect is cancelled, and does not listen
        REQUIRE(factory.connects->size() == 1);
        auto late = std::move(factory.connects->front());
        factory.connects->pop_front();
        std::move(late)(error_code{}, census_connection(census));  // it succeeds, too late
        poll_all(ioc);
        CHECK(census->live == 0);
        CHECK(census->uncounted == 0);
        p.close();
        poll_all(ioc);
        factory.connects->clear();  // a retry's connect, never completed
    }
    poll_all(ioc);
    CHECK(census->limit->in_use() == 0);
}
