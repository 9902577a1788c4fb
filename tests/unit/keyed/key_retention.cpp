// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// core/key_retention.hpp with plain calls: when the sweep forgets a key, and how often it looks.

#include <connpool/detail/core/key_retention.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

using namespace std::chrono_literals;
using connpool::pool_options;
using connpool::detail::forget_key;
using connpool::detail::key_activity;

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

const time_point t0 = time_point(1h);

key_activity<time_point> quiet(time_point last_use)
{
    return {false, last_use};
}
key_activity<time_point> busy(time_point last_use)
{
    return {true, last_use};
}

}  // namespace

TEST_CASE("a key is forgotten once sweeps found it quiet for idle_timeout",
          "[keyed][core][retention]")
{
    const pool_options o{.idle_timeout = 10s};
    std::optional<time_point> quiet_since;
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 10s, o));  // first seen quiet: the spell starts
    REQUIRE(quiet_since);
    CHECK(*quiet_since == t0 + 10s);
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 19s, o));
    CHECK(forget_key(quiet(t0), quiet_since, t0 + 20s, o));
}

TEST_CASE("a busy key is never forgotten, and its quiet spell starts again",
          "[keyed][core][retention]")
{
    const pool_options o{.idle_timeout = 10s};
    std::optional<time_point> quiet_since;
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 10s, o));
    CHECK(!forget_key(busy(t0), quiet_since, t0 + 15s, o));  // a connection, a waiter or a pin
    CHECK(!quiet_since);
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 20s, o));  // quiet again: from now on
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 29s, o));
    CHECK(forget_key(quiet(t0), quiet_since, t0 + 30s, o));
}

TEST_CASE("a key used since its quiet spell began is kept until the use is idle_timeout old",
          "[keyed][core][retention]")
{
    // Used between two sweeps without leaving a connection behind (say an acquire that failed).
    const pool_options o{.idle_timeout = 10s};
    std::optional<time_point> quiet_since;
    CHECK(!forget_key(quiet(t0), quiet_since, t0 + 10s, o));
    CHECK(!forget_key(quiet(t0 + 18s), quiet_since, t0 + 20s, o));
    CHECK(!forget_key(quiet(t0 + 18s), quiet_since, t0 + 27s, o));
    CHECK(forget_key(quiet(t0 + 18s), quiet_since, t0 + 28s, o));
}

TEST_CASE("with idle_timeout 0 no key is ever forgotten", "[keyed][core][retention]")
{
    const pool_options o{.idle_timeout = 0ms};
    CHECK(!connpool::detail::keys_are_forgotten(o));
    std::optional<time_point> quiet_since;
    for (int i = 0; i < 5; ++i)
        CHECK(!forget_key(quiet(t0), quiet_since, t0 + std::chrono::hours(24 * 365 * i), o));
}

TEST_CASE("the sweep looks twice per idle_timeout", "[keyed][core][retention]")
{
    CHECK(connpool::detail::key_sweep_period({.idle_timeout = 10s}) == 5s);
    CHECK(connpool::detail::key_sweep_period({.idle_timeout = 1ms}) == 1ms);
}
