// Unit tests of core/housekeeping.hpp: how often the background work runs, and which leases are
// reported as suspected leaks. Plain calls and hand-made time points.
#include "fake_clock.hpp"

#include <connpool/detail/core/housekeeping.hpp>
#include <connpool/detail/core/options.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono_literals;
using connpool::pool_options;
using connpool::detail::housekeeping_period;
using connpool::test::core::at;
using connpool::test::core::fake_clock;

// -------------------------------------------------------------------------- housekeeping_period

namespace {
// Every option that shortens the period turned off (or long), so that one at a time can be set.
pool_options quiet()
{
    return {
        .idle_timeout = 0ms, .max_lifetime = 0ms, .keepalive_interval = 0ms, .leak_threshold = 0ms};
}
}  // namespace

TEST_CASE("housekeeping runs once a second when no option asks for more", "[core][housekeeping]")
{
    CHECK(housekeeping_period(quiet()) == 1000ms);
    // The defaults: idle_timeout 600 s, keepalive 60 s, max_lifetime 1800 s over 16 slots.
    CHECK(housekeeping_period(pool_options{}) == 1000ms);
}

TEST_CASE("a short idle_timeout shortens the period to idle_timeout", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.idle_timeout = 200ms;
    CHECK(housekeeping_period(o) == 200ms);
}

TEST_CASE("a short keepalive_interval shortens the period to half of it", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.keepalive_interval = 100ms;
    CHECK(housekeeping_period(o) == 50ms);
}

TEST_CASE("max_lifetime shortens the period to max_lifetime / max_size", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.max_size = 100;
    o.max_lifetime = 10s;
    CHECK(housekeeping_period(o) == 100ms);
    // max_lifetime 0 (unlimited) asks for nothing, whatever max_size.
    o.max_lifetime = 0ms;
    o.max_size = 100'000;
    CHECK(housekeeping_period(o) == 1000ms);
}

TEST_CASE("a leak_threshold shortens the period to half of it", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.leak_threshold = 300ms;
    CHECK(housekeeping_period(o) == 150ms);
}

TEST_CASE("the option that asks for the shortest period wins", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.idle_timeout = 400ms;
    o.keepalive_interval = 600ms;  // 300 ms
    o.leak_threshold = 500ms;      // 250 ms
    o.max_size = 4;
    o.max_lifetime = 1200ms;  // 300 ms
    CHECK(housekeeping_period(o) == 250ms);
    o.idle_timeout = 120ms;
    CHECK(housekeeping_period(o) == 120ms);
}

TEST_CASE("the period is at most a second, however long the options", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.idle_timeout = 5s;
    o.keepalive_interval = 10s;
    o.leak_threshold = 4s;
    o.max_size = 2;
    o.max_lifetime = 1h;
    CHECK(housekeeping_period(o) == 1000ms);
    o.idle_timeout = connpool::detail::never;
    CHECK(housekeeping_period(o) == 1000ms);
}

TEST_CASE("the period is at least a millisecond", "[core][housekeeping]")
{
    pool_options o = quiet();
    o.idle_timeout = 1ms;
    CHECK(housekeeping_period(o) == 1ms);
    o = quiet();
    o.keepalive_interval = 2ms;
    CHECK(housekeeping_period(o) == 1ms);
    o = quiet();
    o.leak_threshold = 3ms;  // half of it rounds down to 1 ms
    CHECK(housekeeping_period(o) == 1ms);
}

// An option whose share of the period rounds down to 0 ms (keepalive_interval or leak_threshold
// of 1 ms, max_lifetime / max_size below 1 ms) was once ignored, and the period jumped back to 1 s.
TEST_CASE("an option asking for a sub-millisecond period gets the 1 ms floor, not 1 s",
          "[core][housekeeping]")
{
    pool_options o = quiet();
    o.keepalive_interval = 1ms;
    CHECK(housekeeping_period(o) == 1ms);
    o = quiet();
    o.leak_threshold = 1ms;
    CHECK(housekeeping_period(o) == 1ms);
    o = quiet();
    o.max_size = 100;
    o.max_lifetime = 10ms;  // one retirement every 0.1 ms
    CHECK(housekeeping_period(o) == 1ms);
}

// ------------------------------------------------------------------------------- leak_to_report

namespace {
// The reported_for of a slot whose leases were never reported.
const fake_clock::time_point never_reported = fake_clock::time_point::min();

bool leak(const pool_options& o, std::chrono::milliseconds now, std::chrono::milliseconds lent_at,
          fake_clock::time_point reported_for)
{
    return connpool::detail::leak_to_report<fake_clock>(o, at(now), at(lent_at), reported_for);
}
}  // namespace

TEST_CASE("leak_threshold 0 reports no lease as a leak", "[core][housekeeping]")
{
    const pool_options o{.leak_threshold = 0ms};
    CHECK_FALSE(leak(o, 100'000s, 0s, never_reported));
    CHECK_FALSE(leak(o, 0s, 0s, never_reported));  // not "at once"
}

TEST_CASE("a lease is a suspected leak once held for leak_threshold", "[core][housekeeping]")
{
    const pool_options o{.leak_threshold = 5s};
    CHECK_FALSE(leak(o, 14'999ms, 10s, never_reported));
    CHECK(leak(o, 15s, 10s, never_reported));
    CHECK(leak(o, 500s, 10s, never_reported));
}

TEST_CASE("a lease is reported once: the same lent_at is not reported again",
          "[core][housekeeping]")
{
    const pool_options o{.leak_threshold = 5s};
    CHECK(leak(o, 15s, 10s, never_reported));
    // Housekeeping recorded lent_at = 10 s as reported; later scans of the same lease stay quiet.
    CHECK_FALSE(leak(o, 16s, 10s, at(10s)));
    CHECK_FALSE(leak(o, 1000s, 10s, at(10s)));
}

TEST_CASE("a new lease of the same connection is reported again", "[core][housekeeping]")
{
    const pool_options o{.leak_threshold = 5s};
    // The lease from 10 s was reported; the connection came back and was lent again at 20 s.
    CHECK_FALSE(leak(o, 24'999ms, 20s, at(10s)));
    CHECK(leak(o, 25s, 20s, at(10s)));
}
