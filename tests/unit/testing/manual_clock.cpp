// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The test kit's manual clock (<connpool/testing/manual_clock.hpp>): time moves only when a test
// moves it, and advance(ioc, d) / run_due(ioc) fire exactly the timers due by then.

#include <connpool/testing/manual_clock.hpp>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

using namespace std::chrono_literals;
using connpool::testing::manual_clock;
using connpool::testing::manual_clock_guard;
using timer = boost::asio::basic_waitable_timer<manual_clock>;
using boost::system::error_code;

TEST_CASE("the manual clock moves only when advanced, and never back", "[testing][clock]")
{
    manual_clock_guard guard;
    const auto t0 = manual_clock::now();
    CHECK(t0.time_since_epoch() == manual_clock::start_offset);
    CHECK(manual_clock::now() == t0);
    manual_clock::advance(1500ms);
    CHECK(manual_clock::now() - t0 == 1500ms);
    manual_clock::advance(-1s);  // a steady clock: ignored
    manual_clock::advance(0s);
    CHECK(manual_clock::now() - t0 == 1500ms);
    manual_clock::reset();
    CHECK(manual_clock::now() == t0);
}

TEST_CASE("manual_clock_guard puts the clock back when the test ends", "[testing][clock]")
{
    {
        manual_clock_guard guard;
        manual_clock::advance(1h);
    }
    CHECK(manual_clock::now().time_since_epoch() == manual_clock::start_offset);
}

TEST_CASE("advance(ioc, d) fires the timers due by the new time, and no other", "[testing][clock]")
{
    manual_clock_guard guard;
    boost::asio::io_context ioc;
    std::vector<int> fired;
    timer a(ioc), b(ioc), c(ioc);
    a.expires_after(1s);
    b.expires_after(3s);
    c.expires_after(2s);
    a.async_wait([&](error_code ec) { fired.push_back(ec ? -1 : 1); });
    b.async_wait([&](error_code ec) { fired.push_back(ec ? -3 : 3); });
    c.async_wait([&](error_code ec) { fired.push_back(ec ? -2 : 2); });

    CHECK(connpool::testing::run_due(ioc) == 0);  // nothing due yet
    CHECK(fired.empty());
    CHECK(connpool::testing::advance(ioc, 2s) == 2);  // a and c, in deadline order
    CHECK(fired == std::vector<int>{1, 2});
    CHECK(connpool::testing::advance(ioc, 999ms) == 0);
    CHECK(connpool::testing::advance(ioc, 1ms) == 1);
    CHECK(fired == std::vector<int>{1, 2, 3});
}

TEST_CASE("run_due runs a timer that a due timer's handler arms already due", "[testing][clock]")
{
    manual_clock_guard guard;
    boost::asio::io_context ioc;
    timer first(ioc), second(ioc);
    bool second_fired = false;
    first.expires_after(1s);
    first.async_wait([&](error_code) {
        second.expires_at(manual_clock::now());  // due at once
        second.async_wait([&](error_code ec) { second_fired = !ec; });
    });
    manual_clock::advance(1s);
    CHECK(connpool::testing::run_due(ioc) == 2);
    CHECK(second_fired);
}

TEST_CASE("run_due restarts a stopped io_context and runs what is ready", "[testing][clock]")
{
    manual_clock_guard guard;
    boost::asio::io_context ioc;
    ioc.stop();
    timer t(ioc);
    bool fired = false;
    t.expires_after(10ms);
    t.async_wait([&](error_code ec) { fired = !ec; });
    CHECK(connpool::testing::advance(ioc, 10ms) == 1);
    CHECK(fired);
}
