// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Distributions (issue 11, item 2): the fixed buckets of duration_histogram and its quantile
// estimate, with plain calls; then what a pool records in pool::histograms(): acquire wait time,
// lease use time (pool_options::measure_use_time) and connect time, on the manual clock, so the
// recorded durations are exact.

#include "support/pool_fixture.hpp"

#include <connpool/histogram.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

using namespace connpool::test;
using namespace connpool::testing;
using connpool::duration_histogram;
using connpool::errc;
using std::chrono::nanoseconds;
namespace asio = boost::asio;

using F = fixture<>;

namespace {

duration_histogram with(std::initializer_list<std::pair<nanoseconds, int>> samples)
{
    duration_histogram h;
    for (auto [d, n] : samples) {
        h.buckets[duration_histogram::bucket_of(d)] += static_cast<std::uint64_t>(n);
        h.sum += d * n;
    }
    return h;
}

}  // namespace

// ------------------------------------------------------------------------ the buckets

TEST_CASE("histogram buckets double from 1.024 us to 68.7 s, then overflow", "[histogram]")
{
    CHECK(duration_histogram::bucket_count == 28);
    CHECK(duration_histogram::upper_bound(0) == nanoseconds(1024));
    CHECK(duration_histogram::upper_bound(1) == nanoseconds(2048));
    CHECK(duration_histogram::upper_bound(26) == nanoseconds(68'719'476'736));
    for (std::size_t i = 0; i < duration_histogram::finite_buckets; ++i) {
        INFO("bucket " << i);
        const nanoseconds bound = duration_histogram::upper_bound(i);
        CHECK(duration_histogram::bucket_of(bound) == i);  // upper bounds are inclusive (le)
        CHECK(duration_histogram::bucket_of(bound + nanoseconds(1)) == i + 1);
        if (i > 0)
            CHECK(bound == 2 * duration_histogram::upper_bound(i - 1));
    }
}

TEST_CASE("zero and negative durations count in the first bucket, hours in the overflow bucket",
          "[histogram]")
{
    CHECK(duration_histogram::bucket_of(nanoseconds(0)) == 0);
    CHECK(duration_histogram::bucket_of(nanoseconds(-5)) == 0);
    CHECK(duration_histogram::bucket_of(nanoseconds(1)) == 0);
    CHECK(duration_histogram::bucket_of(std::chrono::hours(5)) ==
          duration_histogram::finite_buckets);
    CHECK(duration_histogram::bucket_of(nanoseconds::max()) == duration_histogram::finite_buckets);
}

TEST_CASE("count and cumulative counts add the buckets up", "[histogram]")
{
    const auto h = with({{5us, 3}, {300ms, 2}, {2h, 1}});
    CHECK(h.count() == 6);
    CHECK(h.cumulative(0) == 0);
    CHECK(h.cumulative(duration_histogram::bucket_of(5us)) == 3);
    CHECK(h.cumulative(duration_histogram::bucket_of(300ms)) == 5);
    CHECK(h.cumulative(duration_histogram::finite_buckets - 1) == 5);
    CHECK(h.cumulative(duration_histogram::finite_buckets) == 6);
    CHECK(h.sum == 15us + 600ms + 2h);
}

TEST_CASE("the quantile estimate interpolates within the bucket that holds the rank", "[histogram]")
{
    SECTION("nothing recorded: zero")
    {
        CHECK(duration_histogram{}.quantile(0.5) == nanoseconds(0));
    }
    SECTION("one bucket: spread evenly between its bounds")
    {
        // 1.5 ms is in (1.048576 ms, 2.097152 ms].
        const auto h = with({{1500us, 100}});
        CHECK(h.quantile(0.5) == nanoseconds(1'048'576 + 1'048'576 / 2));
        CHECK(h.quantile(1.0) == nanoseconds(2'097'152));
        CHECK(h.quantile(0.0) == nanoseconds(1'048'576));  // the lowest non-empty bucket's floor
    }
    SECTION("a fast majority and a slow tail: p50 among the fast, p99 among the slow")
    {
        const auto h = with({{10us, 90}, {100ms, 10}});
        CHECK(duration_histogram::bucket_of(h.quantile(0.5)) ==
              duration_histogram::bucket_of(10us));
        CHECK(duration_histogram::bucket_of(h.quantile(0.99)) ==
              duration_histogram::bucket_of(100ms));
        // Within a factor of 2 of the truth, as the doubling buckets promise.
        CHECK(h.quantile(0.99) > 50ms);
        CHECK(h.quantile(0.99) <= 200ms);
    }
    SECTION("a rank in the overflow bucket gives the last finite bound")
    {
        const auto h = with({{1ms, 1}, {3h, 9}});
        CHECK(h.quantile(0.9) == duration_histogram::upper_bound(26));
    }
    SECTION("q outside [0, 1] is clamped")
    {
        const auto h = with({{1500us, 10}});
        CHECK(h.quantile(2.0) == h.quantile(1.0));
        CHECK(h.quantile(-1.0) == h.quantile(0.0));
    }
}

TEST_CASE("histograms add up (the pools of a service)", "[histogram]")
{
    auto a = with({{5us, 1}, {1s, 2}});
    const auto b = with({{5us, 4}});
    a += b;
    CHECK(a == with({{5us, 5}, {1s, 2}}));

    connpool::pool_histograms x, y;
    x.wait_time = with({{1ms, 1}});
    y.wait_time = with({{1ms, 2}});
    y.use_time_measured = true;
    x += y;
    CHECK(x.wait_time.count() == 3);
    CHECK(x.use_time_measured);
}

// ------------------------------------------------------------------------ wait time

TEST_CASE_METHOD(F, "an acquire served at once records no wait time", "[histogram][wait]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    auto h = acquire_now();
    CHECK(p.histograms().wait_time.count() == 0);
    CHECK(p.stats().waited == 0);
}

TEST_CASE_METHOD(F, "a served waiter records the time it spent queued", "[histogram][wait]")
{
    // Pre-warmed: the first acquire is served at once.
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    auto held = acquire_now();
    auto r = start_acquire();
    advance(300ms);
    CHECK(p.histograms().wait_time.count() == 0);  // still waiting: recorded when it leaves
    held.release();
    poll();
    REQUIRE(r->called_once());
    REQUIRE(!r->ec());
    const auto w = p.histograms().wait_time;
    CHECK(w.count() == 1);
    CHECK(w.sum == 300ms);
    CHECK(w.buckets[duration_histogram::bucket_of(300ms)] == 1);
    const auto st = p.stats();
    CHECK(st.total_wait_time == w.sum);
    CHECK(st.waited == w.count());
}

TEST_CASE_METHOD(F, "waits that time out or are cancelled are recorded too", "[histogram][wait]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    auto held = acquire_now();

    auto timed_out = start_acquire(100ms);
    advance(150ms);  // the deadline timer runs at 150 ms on the manual clock
    REQUIRE(timed_out->called_once());
    CHECK(timed_out->ec() == errc::acquire_timeout);

    asio::cancellation_signal sig;
    acquire_result cancelled;
    p.async_acquire(asio::bind_cancellation_slot(sig.slot(), cancelled.handler()));
    poll();
    advance(40ms);
    sig.emit(asio::cancellation_type::terminal);
    poll();
    REQUIRE(cancelled.called_once());
    CHECK(cancelled.ec() == asio::error::operation_aborted);

    const auto w = p.histograms().wait_time;
    CHECK(w.count() == 2);
    CHECK(w.sum == 190ms);
    CHECK(w.buckets[duration_histogram::bucket_of(150ms)] == 1);
    CHECK(w.buckets[duration_histogram::bucket_of(40ms)] == 1);
    CHECK(p.stats().waited == 2);
}

// ------------------------------------------------------------------------ use time

TEST_CASE_METHOD(F, "with measure_use_time, each lease records its use time", "[histogram][use]")
{
    auto& p = make_pool({.max_size = 2, .measure_use_time = true});
    CHECK(p.histograms().use_time_measured);
    auto a = acquire_now();  // lent by a connect's offer
    advance(250ms);
    a.release();
    auto b = p.try_acquire();  // the fast path
    REQUIRE(b);
    advance(2s);
    b->invalidate();  // an invalidated lease is a lease too
    b->release();
    poll();
    const auto u = p.histograms().use_time;
    CHECK(u.count() == 2);
    CHECK(u.sum == 2250ms);
    CHECK(u.buckets[duration_histogram::bucket_of(250ms)] == 1);
    CHECK(u.buckets[duration_histogram::bucket_of(2s)] == 1);
    CHECK(p.stats().acquired == 2);
}

TEST_CASE_METHOD(F, "a connection handed straight to a waiter starts its use time then",
                 "[histogram][use]")
{
    auto& p = make_pool({.max_size = 1, .measure_use_time = true});
    auto first = acquire_now();
    auto r = start_acquire();
    advance(100ms);
    first.release();  // 100 ms of use; the waiter gets the connection now
    poll();
    REQUIRE(r->called_once());
    advance(30ms);
    r->value().release();
    const auto u = p.histograms().use_time;
    CHECK(u.count() == 2);
    CHECK(u.sum == 130ms);
    CHECK(u.buckets[duration_histogram::bucket_of(100ms)] == 1);
    CHECK(u.buckets[duration_histogram::bucket_of(30ms)] == 1);
}

TEST_CASE_METHOD(F, "without measure_use_time, use time is not recorded and says so",
                 "[histogram][use]")
{
    auto& p = make_pool({.max_size = 1});
    auto a = acquire_now();
    advance(250ms);
    a.release();
    const auto h = p.histograms();
    CHECK_FALSE(h.use_time_measured);
    CHECK(h.use_time.count() == 0);
}

// ------------------------------------------------------------------------ create time

TEST_CASE_METHOD(F, "each connect attempt records its duration, success or failure",
                 "[histogram][create]")
{
    backend->push_connect(outcome::fail(refused()).after(25ms));
    backend->set_connect(outcome::ok().after(40ms));
    auto& p = make_pool({.min_size = 1, .max_size = 1, .backoff_initial = 100ms});
    advance(25ms);  // the first attempt fails
    CHECK(p.histograms().create_time.count() == 1);
    advance_until([&] { return p.stats().idle == 1; }, 10ms, 1s);  // the retry succeeds
    REQUIRE(p.stats().idle == 1);
    const auto c = p.histograms().create_time;
    CHECK(c.count() == 2);
    CHECK(c.sum == 65ms);
    CHECK(c.buckets[duration_histogram::bucket_of(25ms)] == 1);
    CHECK(c.buckets[duration_histogram::bucket_of(40ms)] == 1);
    const auto st = p.stats();
    CHECK(c.count() == st.created + st.connect_failures);
}

TEST_CASE_METHOD(F, "a connect that times out records its connect_timeout, once",
                 "[histogram][create]")
{
    backend->push_connect(outcome::pending());
    auto& p = make_pool({.min_size = 1, .max_size = 1, .connect_timeout = 100ms});
    advance(100ms);
    const auto c = p.histograms().create_time;
    CHECK(c.count() == 1);
    CHECK(c.sum == 100ms);
    CHECK(p.stats().connect_failures == 1);
    poll();  // the cancelled connect's completion: not a second record
    CHECK(p.histograms().create_time.count() == 1);
}
