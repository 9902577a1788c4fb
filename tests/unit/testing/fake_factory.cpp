// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The test kit's scripted fake (<connpool/testing/fake_factory.hpp>): outcomes and delays happen
// as scripted, calls and live connections are counted, and a pool sees what was scripted.

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include "support/checked_handler.hpp"
#include "support/pool_fixture.hpp"
#include "support/run_until.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using namespace connpool::testing;
using connpool::test::checked_ec;
using connpool::test::checked_result;
using connpool::test::poll_all;
namespace asio = boost::asio;

namespace {

struct kit_setup {
    manual_clock_guard guard;
    std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    complete_factory factory{ioc.get_executor(), backend};

    ~kit_setup()
    {
        backend->drop_pending();
        poll_all(ioc);
    }

    // Runs one connect to completion (or until nothing is left to run) and returns its result.
    std::pair<error_code, fake_connection> connect_now()
    {
        checked_result<fake_connection> r;
        factory.async_connect(r.handler());
        run_due(ioc);
        REQUIRE(r.called_once());
        return {r.ec(), std::move(r.value())};
    }
};

}  // namespace

TEST_CASE_METHOD(kit_setup,
                 "a connect takes the queued outcomes first, then the script, then the default",
                 "[testing][fake]")
{
    backend->set_connect(outcome::fail(asio::error::host_unreachable));
    backend->push_connect(outcome::fail(refused()));
    backend->push_connect(outcome::ok());
    std::vector<long> script_calls;
    backend->script_connect([&](const call_info& call) {
        script_calls.push_back(call.number);
        CHECK(call.connection_id == 0);
        return call.number == 3 ? outcome::ok() : outcome::fail(asio::error::timed_out);
    });

    CHECK(connect_now().first == refused());  // queued 1
    auto second = connect_now();              // queued 2
    CHECK(!second.first);
    CHECK(second.second.id == 1);
    auto third = connect_now();  // script, call 3
    CHECK(!third.first);
    CHECK(third.second.id == 2);
    CHECK(connect_now().first == asio::error::timed_out);  // script, call 4
    backend->script_connect({});
    CHECK(connect_now().first == asio::error::host_unreachable);  // the default again
    CHECK(script_calls == std::vector<long>{3, 4});

    CHECK(backend->connects_started() == 5);
    CHECK(backend->connects_succeeded() == 2);
    CHECK(backend->connects_failed() == 3);
    CHECK(backend->live() == 2);
    second.second = fake_connection();
    CHECK(backend->live() == 1);
    CHECK(backend->destroyed_ids() == std::vector<int>{1});
}

TEST_CASE_METHOD(kit_setup, "a delayed connect completes when the manual clock reaches its delay",
                 "[testing][fake]")
{
    backend->push_connect(outcome::ok().after(2s));
    backend->push_connect(outcome::fail(refused()).after(1s));
    checked_result<fake_connection> slow, failing;
    factory.async_connect(slow.handler());
    factory.async_connect(failing.handler());
    run_due(ioc);
    CHECK(backend->pending_connects() == 2);
    CHECK(backend->connects_in_flight() == 2);
    CHECK(!slow.called());
    CHECK(!failing.called());

    advance(ioc, 1s);
    REQUIRE(failing.called_once());
    CHECK(failing.ec() == refused());
    CHECK(!slow.called());
    CHECK(backend->live() == 0);

    advance(ioc, 999ms);
    CHECK(!slow.called());
    advance(ioc, 1ms);
    REQUIRE(slow.called_once());
    CHECK(!slow.ec());
    CHECK(slow.value().id == 1);
    CHECK(backend->live() == 1);
    CHECK(backend->pending_connects() == 0);
    CHECK(backend->connects_in_flight() == 0);
}

TEST_CASE_METHOD(kit_setup, "a delayed connect cancelled before its delay makes no connection",
                 "[testing][fake]")
{
    backend->set_connect(outcome::ok().after(5s));
    asio::cancellation_signal signal;
    checked_result<fake_connection> r;
    factory.async_connect(asio::bind_cancellation_slot(signal.slot(), r.handler()));
    run_due(ioc);
    CHECK(!r.called());
    signal.emit(asio::cancellation_type::terminal);
    run_due(ioc);
    REQUIRE(r.called_once());
    CHECK(r.ec() == asio::error::operation_aborted);
    CHECK(backend->connects_cancelled() == 1);
    advance(ioc, 10s);  // the delay's timer is gone with the operation
    CHECK(r.calls() == 1);
    CHECK(backend->live() == 0);
    CHECK(backend->connects_succeeded() == 0);
}

TEST_CASE_METHOD(kit_setup, "pings and resets follow their script, their delays and their counts",
                 "[testing][fake]")
{
    auto [ec, conn] = connect_now();
    REQUIRE(!ec);
    conn.dirty = true;

    std::vector<call_info> pings;
    backend->script_ping([&](const call_info& call) {
        pings.push_back(call);
        return call.number == 1 ? outcome::ok().after(100ms)
                                : outcome::fail(asio::error::connection_reset);
    });
    checked_ec p1, p2;
    factory.async_ping(conn, p1.handler());
    run_due(ioc);
    CHECK(!p1.called());
    CHECK(backend->pending_pings() == 1);
    advance(ioc, 100ms);
    REQUIRE(p1.called_once());
    CHECK(!p1.ec());
    factory.async_ping(conn, p2.handler());
    run_due(ioc);
    REQUIRE(p2.called_once());
    CHECK(p2.ec() == asio::error::connection_reset);
    REQUIRE(pings.size() == 2);
    CHECK(pings[0].connection_id == conn.id);
    CHECK(pings[1].number == 2);
    CHECK(backend->pings() == 2);
    CHECK(backend->pings_failed() == 1);

    backend->push_reset(outcome::fail(asio::error::broken_pipe).after(1s));
    checked_ec r1, r2;
    factory.async_reset(conn, r1.handler());
    advance(ioc, 1s);
    REQUIRE(r1.called_once());
    CHECK(r1.ec() == asio::error::broken_pipe);
    CHECK(conn.dirty);  // a failed reset leaves the session as it was
    factory.async_reset(conn, r2.handler());
    run_due(ioc);
    REQUIRE(r2.called_once());
    CHECK(!r2.ec());
    CHECK(!conn.dirty);
    CHECK(backend->resets() == 2);
    CHECK(backend->resets_failed() == 1);
    CHECK(backend->reset_ids() == std::vector<int>{conn.id, conn.id});
}

TEST_CASE_METHOD(kit_setup, "a delayed ping honours cancellation; a pending one waits for the test",
                 "[testing][fake]")
{
    auto [ec, conn] = connect_now();
    REQUIRE(!ec);
    backend->push_ping(outcome::ok().after(1s));
    backend->push_ping(outcome::pending());
    asio::cancellation_signal signal;
    checked_ec delayed, pending;
    factory.async_ping(conn, asio::bind_cancellation_slot(signal.slot(), delayed.handler()));
    factory.async_ping(conn, pending.handler());
    run_due(ioc);
    CHECK(backend->pending_pings() == 2);
    signal.emit(asio::cancellation_type::terminal);
    run_due(ioc);
    REQUIRE(delayed.called_once());
    CHECK(delayed.ec() == asio::error::operation_aborted);
    CHECK(!pending.called());
    CHECK(backend->complete_next_ping(asio::error::timed_out));
    run_due(ioc);
    REQUIRE(pending.called_once());
    CHECK(pending.ec() == asio::error::timed_out);
}

TEST_CASE_METHOD(kit_setup, "is_healthy and is_permanent_error answer as scripted and are counted",
                 "[testing][fake]")
{
    auto [e1, c1] = connect_now();
    auto [e2, c2] = connect_now();
    REQUIRE((!e1 && !e2));
    CHECK(factory.is_healthy(c1));
    backend->script_health([](const fake_connection& c) { return c.id != 2; });
    CHECK(factory.is_healthy(c1));
    CHECK(!factory.is_healthy(c2));
    backend->set_unhealthy(c1.id);
    CHECK(!factory.is_healthy(c1));
    CHECK(backend->health_checks() == 4);

    CHECK(!factory.is_permanent_error(refused()));  // default: everything is retried
    backend->script_permanent_error(
        [](const error_code& ec) { return ec == asio::error::access_denied; });
    CHECK(factory.is_permanent_error(asio::error::access_denied));
    CHECK(!factory.is_permanent_error(refused()));
    CHECK(backend->permanent_error_checks() == 3);
}

TEST_CASE("the optional members exist only when enabled", "[testing][fake]")
{
    static_assert(connpool::connection_factory<connect_only_factory, fake_connection>);
    static_assert(connpool::factory_has_async_ping<ping_factory, fake_connection>);
    static_assert(!connpool::factory_has_async_ping<connect_only_factory, fake_connection>);
    static_assert(connpool::factory_has_async_reset<reset_factory, fake_connection>);
    static_assert(!connpool::factory_has_async_reset<ping_factory, fake_connection>);
    static_assert(connpool::factory_has_is_healthy<health_factory, fake_connection>);
    static_assert(!connpool::factory_has_is_permanent_error<full_factory>);
    static_assert(connpool::factory_has_is_permanent_error<complete_factory>);
    SUCCEED("checked at compile time");
}

// --- what a pool sees --------------------------------------------------------------------------

using connpool::test::fixture;

TEST_CASE_METHOD(fixture<>, "a connect delayed past connect_timeout times out and leaves nothing",
                 "[testing][fake][pool]")
{
    backend->set_connect(outcome::ok().after(10s));
    make_pool({.max_size = 1,
               .acquire_timeout = std::chrono::milliseconds(3000),
               .connect_timeout = std::chrono::milliseconds(1000)});
    auto r = start_acquire();
    CHECK(backend->pending_connects() == 1);
    advance_in_steps(3s, 100ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == connpool::errc::connect_timeout);
    CHECK(backend->connects_succeeded() == 0);
    CHECK(backend->connects_cancelled() >= 1);
    CHECK(backend->live() == 0);
    const auto report = check_invariants(pool(), *backend);
    INFO(report.message());
    CHECK(report.ok());
}

TEST_CASE_METHOD(fixture<complete_factory>,
                 "an error the script calls permanent fails the waiters at once",
                 "[testing][fake][pool]")
{
    backend->script_permanent_error(
        [](const error_code& ec) { return ec == asio::error::access_denied; });
    backend->set_connect(outcome::fail(asio::error::access_denied));
    make_pool({.max_size = 2});
    auto r = start_acquire();  // polls: the connect fails, the pool asks is_permanent_error
    REQUIRE(r->called_once());
    CHECK(r->ec() == asio::error::access_denied);
    CHECK(backend->permanent_error_checks() >= 1);
}
