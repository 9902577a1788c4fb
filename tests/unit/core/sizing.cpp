// Unit tests of core/sizing.hpp's plan_connects: the connects to start now, and the retry the
// engine schedules when a backoff alone holds them back (else nobody would plan again when the
// backoff ends, and waiters would sit out their whole deadline). connects_to_start's rules are
// in decisions.cpp.
#include <connpool/detail/core/sizing.hpp>

#include <catch2/catch.hpp>

using connpool::pool_options;
using connpool::detail::connect_plan;
using connpool::detail::plan_connects;

TEST_CASE("plan_connects starts the connects the demand wants, without a retry", "[core][sizing]")
{
    const pool_options o{.min_size = 0, .max_size = 8, .max_concurrent_connects = 4};
    const connect_plan waiters = plan_connects(o, {.size = 0, .waiters = 3});
    CHECK(waiters.connects == 3);
    CHECK_FALSE(waiters.retry);

    const pool_options warm{.min_size = 2, .max_size = 8, .max_concurrent_connects = 4};
    const connect_plan min_size = plan_connects(warm, {.size = 0});
    CHECK(min_size.connects == 2);
    CHECK_FALSE(min_size.retry);
}

TEST_CASE("plan_connects starts nothing during a backoff and asks for a retry when it ends",
          "[core][sizing]")
{
    const pool_options o{.min_size = 0, .max_size = 8, .max_concurrent_connects = 4};
    const connect_plan plan = plan_connects(o, {.size = 0, .waiters = 2, .backing_off = true});
    CHECK(plan.connects == 0);
    CHECK(plan.retry);

    // The min_size deficit is demand as well: a pool pre-warming through a backoff retries.
    const pool_options warm{.min_size = 2, .max_size = 8};
    const connect_plan upkeep = plan_connects(warm, {.size = 1, .backing_off = true});
    CHECK(upkeep.connects == 0);
    CHECK(upkeep.retry);
}

TEST_CASE("no retry is asked for a closed pool", "[core][sizing]")
{
    const pool_options o{.min_size = 2, .max_size = 8};
    const connect_plan plan =
        plan_connects(o, {.size = 0, .waiters = 5, .closed = true, .backing_off = true});
    CHECK(plan.connects == 0);
    CHECK_FALSE(plan.retry);
}

TEST_CASE("no retry is asked at max_size", "[core][sizing]")
{
    const pool_options o{.max_size = 3};
    const connect_plan plan = plan_connects(o, {.size = 3, .waiters = 5, .backing_off = true});
    CHECK(plan.connects == 0);
    CHECK_FALSE(plan.retry);
}

TEST_CASE("no retry is asked when no connect is wanted", "[core][sizing]")
{
    const pool_options o{.min_size = 1, .max_size = 8, .max_concurrent_connects = 4};
    // No waiter, min_size met.
    CHECK_FALSE(plan_connects(o, {.size = 1, .backing_off = true}).retry);
    // The waiters will be served by connections already on their way.
    CHECK_FALSE(
        plan_connects(
            o, {.size = 3, .connecting = 1, .maintenance = 1, .waiters = 2, .backing_off = true})
            .retry);
}

TEST_CASE("no retry is asked while the connect concurrency limit holds connects back",
          "[core][sizing]")
{
    // The connects in flight plan again when they end: a retry timer would be redundant.
    const pool_options o{.max_size = 8, .max_concurrent_connects = 2};
    const connect_plan plan =
        plan_connects(o, {.size = 2, .connecting = 2, .waiters = 5, .backing_off = true});
    CHECK(plan.connects == 0);
    CHECK_FALSE(plan.retry);
}

TEST_CASE("without a backoff plan_connects never asks for a retry", "[core][sizing]")
{
    const pool_options o{.max_size = 3, .max_concurrent_connects = 2};
    CHECK_FALSE(plan_connects(o, {.size = 3, .waiters = 5}).retry);  // held back by max_size
    CHECK_FALSE(plan_connects(o, {.size = 2, .connecting = 2, .waiters = 5}).retry);
    CHECK_FALSE(plan_connects(o, {.size = 0, .waiters = 5, .closed = true}).retry);
}
