// Unit tests of the sans-io core: plain calls, a fake time line, no io_context, no threads.
#include <connpool/detail/core/backoff.hpp>
#include <connpool/detail/core/housekeeping.hpp>
#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/core/lifetime.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/core/sizing.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono_literals;
using connpool::pool_options;
using connpool::detail::connects_to_start;
using connpool::detail::sizing_state;

namespace {
// A clock whose time points the tests make by hand.
struct fake_clock {
    using duration = std::chrono::milliseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<fake_clock>;
    static time_point now() noexcept { return time_point{}; }
};
fake_clock::time_point at(std::chrono::milliseconds t)
{
    return fake_clock::time_point(t);
}
}  // namespace

TEST_CASE("one waiter causes one connect, whatever the connect concurrency", "[core][sizing]")
{
    pool_options o{.max_size = 8, .max_concurrent_connects = 4};
    CHECK(connects_to_start(o, {.size = 0, .waiters = 1}) == 1);
    CHECK(connects_to_start(o, {.size = 0, .waiters = 3}) == 3);
    CHECK(connects_to_start(o, {.size = 0, .waiters = 9}) == 4);
}

TEST_CASE("connects already on their way count against the waiting demand", "[core][sizing]")
{
    pool_options o{.max_size = 8, .max_concurrent_connects = 4};
    CHECK(connects_to_start(o, {.size = 1, .connecting = 1, .waiters = 1}) == 0);
    CHECK(connects_to_start(o, {.size = 2, .connecting = 1, .waiters = 3}) == 2);
    // A connection being reset or validated will serve a waiter without a connect.
    CHECK(connects_to_start(o, {.size = 2, .maintenance = 2, .waiters = 2}) == 0);
    CHECK(connects_to_start(o, {.size = 2, .maintenance = 1, .waiters = 2}) == 1);
}

TEST_CASE("max_size caps connects, counting connects in flight", "[core][sizing]")
{
    pool_options o{.max_size = 3, .max_concurrent_connects = 8};
    CHECK(connects_to_start(o, {.size = 3, .connecting = 1, .waiters = 10}) == 0);
    CHECK(connects_to_start(o, {.size = 1, .waiters = 10}) == 2);
    CHECK(connects_to_start(o, {.size = 3, .waiters = 10}) == 0);
}

TEST_CASE("the connect concurrency limit holds", "[core][sizing]")
{
    pool_options o{.max_size = 16, .max_concurrent_connects = 2};
    CHECK(connects_to_start(o, {.size = 2, .connecting = 2, .waiters = 10}) == 0);
    CHECK(connects_to_start(o, {.size = 1, .connecting = 1, .waiters = 10}) == 1);
}

TEST_CASE("min_size is filled without any waiter", "[core][sizing]")
{
    pool_options o{.min_size = 3, .max_size = 8, .max_concurrent_connects = 8};
    CHECK(connects_to_start(o, {.size = 0}) == 3);
    CHECK(connects_to_start(o, {.size = 2, .connecting = 2}) == 1);
    CHECK(connects_to_start(o, {.size = 3}) == 0);
}

TEST_CASE("no connect while backing off or closed", "[core][sizing]")
{
    pool_options o{.min_size = 2, .max_size = 8};
    CHECK(connects_to_start(o, {.size = 0, .waiters = 5, .backing_off = true}) == 0);
    CHECK(connects_to_start(o, {.size = 0, .waiters = 5, .closed = true}) == 0);
}

TEST_CASE("backoff doubles from backoff_initial up to backoff_max, jittered down by up to half",
          "[core][backoff]")
{
    using tracker = connpool::detail::connect_tracker<fake_clock>;
    pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    CHECK(tracker::delay(o, 1, 0.0) == 100ms);
    CHECK(tracker::delay(o, 2, 0.0) == 200ms);
    CHECK(tracker::delay(o, 3, 0.0) == 400ms);
    CHECK(tracker::delay(o, 5, 0.0) == 1600ms);
    CHECK(tracker::delay(o, 6, 0.0) == 2000ms);
    CHECK(tracker::delay(o, 60, 0.0) == 2000ms);  // no overflow far down the sequence
    CHECK(tracker::delay(o, 1, 0.999) >= 50ms);
    CHECK(tracker::delay(o, 1, 0.5) == 75ms);
    CHECK(tracker::delay(o, 60, 0.999) >= 1000ms);
}

TEST_CASE("a failure starts a backoff; a success ends it and forgets the error", "[core][backoff]")
{
    pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    connpool::detail::connect_tracker<fake_clock> t;
    CHECK_FALSE(t.backing_off(at(0ms)));
    CHECK_FALSE(t.last_failure());

    const auto refused = make_error_code(boost::system::errc::connection_refused);
    t.on_failure(o, refused, at(1000ms), 0.0);
    CHECK(t.backing_off(at(1099ms)));
    CHECK_FALSE(t.backing_off(at(1100ms)));
    CHECK(t.last_failure() == refused);

    t.on_failure(o, refused, at(1100ms), 0.0);  // second in a row: 200 ms
    CHECK(t.backing_off(at(1299ms)));
    CHECK_FALSE(t.backing_off(at(1300ms)));

    t.on_success();
    CHECK_FALSE(t.backing_off(at(1100ms)));
    CHECK_FALSE(t.last_failure());
    t.on_failure(o, refused, at(5000ms), 0.0);  // the sequence starts again
    CHECK_FALSE(t.backing_off(at(5100ms)));
}

TEST_CASE("lifetime is shortened by at most lifetime_jitter", "[core][lifetime]")
{
    using connpool::detail::expiry_of;
    pool_options o{.max_lifetime = 1000s, .lifetime_jitter = 0.1};
    CHECK(expiry_of<fake_clock>(o, at(0ms), 0.0) == at(1000s));
    CHECK(expiry_of<fake_clock>(o, at(0ms), 0.5) == at(950s));
    CHECK(expiry_of<fake_clock>(o, at(0ms), 0.999) > at(900s));
    pool_options unlimited{.max_lifetime = 0ms};
    CHECK(expiry_of<fake_clock>(unlimited, at(0ms), 0.5) == fake_clock::time_point::max());
}

TEST_CASE("retirements are spread to one per max_lifetime / max_size", "[core][lifetime]")
{
    pool_options o{.max_size = 10, .max_lifetime = 1000s};  // spacing 100 s
    connpool::detail::retire_limiter<fake_clock> lim(o);
    const auto created = at(0ms);
    CHECK_FALSE(lim.may_retire(at(899s), created, at(900s)));  // not due yet
    CHECK(lim.may_retire(at(900s), created, at(900s)));
    CHECK_FALSE(lim.may_retire(at(901s), created, at(901s)));  // next turn at 1000 s
    CHECK_FALSE(lim.may_retire(at(950s), created, at(920s)));
    // Past the full max_lifetime a connection retires regardless of turns.
    CHECK(lim.may_retire(at(1000s), created, at(920s)));
    CHECK_FALSE(lim.may_retire(at(1050s), at(100s), at(1000s)));
    CHECK(lim.may_retire(at(1100s), at(100s), at(1000s)));
}

TEST_CASE("validation, keepalive and idle expiry follow their options", "[core][health]")
{
    using namespace connpool::detail;
    pool_options o{.idle_timeout = 60s, .validation_interval = 500ms, .keepalive_interval = 30s};
    CHECK_FALSE(needs_validation<fake_clock>(o, at(1499ms), at(1000ms)));
    CHECK(needs_validation<fake_clock>(o, at(1500ms), at(1000ms)));
    CHECK_FALSE(needs_keepalive<fake_clock>(o, at(29s), at(0ms)));
    CHECK(needs_keepalive<fake_clock>(o, at(30s), at(0ms)));
    CHECK_FALSE(idle_expired<fake_clock>(o, at(59s), at(0ms)));
    CHECK(idle_expired<fake_clock>(o, at(60s), at(0ms)));

    pool_options off{.idle_timeout = 0ms, .validation_interval = 0ms, .keepalive_interval = 0ms};
    CHECK(needs_validation<fake_clock>(off, at(0ms), at(0ms)));  // 0 = always validate
    CHECK_FALSE(needs_keepalive<fake_clock>(off, at(1000s), at(0ms)));
    CHECK_FALSE(idle_expired<fake_clock>(off, at(1000s), at(0ms)));
}

TEST_CASE("housekeeping runs often enough for the idle bound, at most once a second apart",
          "[core][housekeeping]")
{
    using connpool::detail::housekeeping_period;
    CHECK(housekeeping_period(pool_options{}) == 1000ms);
    CHECK(housekeeping_period(pool_options{.idle_timeout = 200ms}) == 200ms);
    CHECK(housekeeping_period(pool_options{.keepalive_interval = 100ms}) == 50ms);
    CHECK(housekeeping_period(pool_options{.max_size = 100, .max_lifetime = 10s}) == 100ms);
    CHECK(housekeeping_period(pool_options{
              .idle_timeout = 0ms, .max_lifetime = 0ms, .keepalive_interval = 0ms}) == 1000ms);
}

TEST_CASE("bad options are rejected naming the field", "[core][options]")
{
    using connpool::detail::validate;
    auto message_of = [](const pool_options& o) -> std::string {
        try {
            validate(o);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    CHECK(message_of(pool_options{}).empty());
    CHECK_THAT(message_of({.max_size = 0}), Catch::Contains("max_size"));
    CHECK_THAT(message_of({.min_size = 5, .max_size = 4}), Catch::Contains("min_size"));
    CHECK_THAT(message_of({.acquire_timeout = -1ms}), Catch::Contains("acquire_timeout"));
    CHECK_THAT(message_of({.connect_timeout = 0ms}), Catch::Contains("connect_timeout"));
    CHECK_THAT(message_of({.idle_timeout = -5ms}), Catch::Contains("idle_timeout"));
    CHECK_THAT(message_of({.lifetime_jitter = 1.0}), Catch::Contains("lifetime_jitter"));
    CHECK_THAT(message_of({.lifetime_jitter = -0.1}), Catch::Contains("lifetime_jitter"));
    CHECK_THAT(message_of({.max_concurrent_connects = 0}),
               Catch::Contains("max_concurrent_connects"));
    CHECK_THAT(message_of({.backoff_initial = 3s, .backoff_max = 2s}),
               Catch::Contains("backoff_initial"));
}
