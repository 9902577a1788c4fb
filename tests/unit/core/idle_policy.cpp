// Unit tests of core/idle_policy.hpp: what becomes of one connection when it is lent, returned or
// found idle by the sweep. Plain calls; the callables count how often they are asked, because
// each question costs a call into the driver (is_healthy) or the pool's mutex (a retirement).
#include "fake_clock.hpp"

#include <connpool/detail/core/idle_policy.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

using namespace std::chrono_literals;
using connpool::pool_options;
using connpool::detail::destroy_cause;
using connpool::test::core::at;
using connpool::test::core::fake_clock;

namespace {

// A callable that answers `answer` and counts how often it was asked.
template <class T>
struct counted {
    T answer;
    int calls = 0;
    T operator()()
    {
        ++calls;
        return answer;
    }
};

using cause_opt = std::optional<destroy_cause>;

}  // namespace

// --------------------------------------------------------------------------------- why_unusable

TEST_CASE("a closed pool makes a connection unusable as closed, without asking is_healthy",
          "[core][idle]")
{
    using connpool::detail::why_unusable;
    counted<bool> healthy{false};
    // Closed wins over a stale generation and over a broken connection.
    CHECK(why_unusable(true, false, healthy) == destroy_cause::closed);
    CHECK(why_unusable(true, true, healthy) == destroy_cause::closed);
    CHECK(healthy.calls == 0);
}

TEST_CASE("a connection opened before clear() is unusable as cleared, without asking is_healthy",
          "[core][idle]")
{
    using connpool::detail::why_unusable;
    counted<bool> healthy{false};
    // Cleared wins over a broken connection.
    CHECK(why_unusable(false, false, healthy) == destroy_cause::cleared);
    CHECK(healthy.calls == 0);
}

TEST_CASE("a current connection in an open pool is broken exactly when is_healthy says no",
          "[core][idle]")
{
    using connpool::detail::why_unusable;
    counted<bool> sick{false};
    CHECK(why_unusable(false, true, sick) == destroy_cause::broken);
    CHECK(sick.calls == 1);

    counted<bool> well{true};
    CHECK(why_unusable(false, true, well) == std::nullopt);
    CHECK(well.calls == 1);
}

// ----------------------------------------------------------------------------------- judge_lend

TEST_CASE("judge_lend with nothing known asks once whether usable and whether due, then lends",
          "[core][idle]")
{
    using namespace connpool::detail;
    counted<cause_opt> unusable{std::nullopt};
    counted<bool> due{false};
    const lend_verdict v = judge_lend(offer_check::none, unusable, due);
    CHECK(v.action == lend_action::lend);
    CHECK(unusable.calls == 1);
    CHECK(due.calls == 1);
}

TEST_CASE("judge_lend with nothing known validates a usable connection that is due", "[core][idle]")
{
    using namespace connpool::detail;
    counted<cause_opt> unusable{std::nullopt};
    counted<bool> due{true};
    const lend_verdict v = judge_lend(offer_check::none, unusable, due);
    CHECK(v.action == lend_action::validate);
    CHECK(unusable.calls == 1);
    CHECK(due.calls == 1);
}

TEST_CASE("judge_lend with nothing known discards an unusable connection with its cause, and "
          "asks nothing more",
          "[core][idle]")
{
    using namespace connpool::detail;
    for (destroy_cause cause :
         {destroy_cause::closed, destroy_cause::cleared, destroy_cause::broken}) {
        CAPTURE(static_cast<int>(cause));
        counted<cause_opt> unusable{cause};
        counted<bool> due{true};
        const lend_verdict v = judge_lend(offer_check::none, unusable, due);
        CHECK(v.action == lend_action::discard);
        CHECK(v.cause == cause);
        CHECK(unusable.calls == 1);
        CHECK(due.calls == 0);  // no validation is planned for a connection about to die
    }
}

TEST_CASE("judge_lend of a connection known usable does not ask again, only whether it is due",
          "[core][idle]")
{
    using namespace connpool::detail;
    // The unusable callable would say "broken": asking it would show in the verdict.
    counted<cause_opt> unusable{destroy_cause::broken};
    counted<bool> not_due{false};
    const lend_verdict lent = judge_lend(offer_check::usable, unusable, not_due);
    CHECK(lent.action == lend_action::lend);
    CHECK(not_due.calls == 1);

    counted<bool> due{true};
    const lend_verdict validated = judge_lend(offer_check::usable, unusable, due);
    CHECK(validated.action == lend_action::validate);
    CHECK(due.calls == 1);

    CHECK(unusable.calls == 0);
}

TEST_CASE("judge_lend of a connection just validated lends it and asks nothing", "[core][idle]")
{
    using namespace connpool::detail;
    counted<cause_opt> unusable{destroy_cause::broken};
    counted<bool> due{true};
    const lend_verdict v = judge_lend(offer_check::validated, unusable, due);
    CHECK(v.action == lend_action::lend);
    CHECK(unusable.calls == 0);
    CHECK(due.calls == 0);
}

// --------------------------------------------------------------------------------- judge_return

TEST_CASE("an invalidated connection is destroyed as broken on return, and nothing is asked",
          "[core][idle]")
{
    using namespace connpool::detail;
    for (bool can_reset : {false, true}) {
        CAPTURE(can_reset);
        // why_not_kept would name another cause: asking it would show in the verdict.
        counted<cause_opt> why_not_kept{destroy_cause::lifetime};
        const return_verdict v = judge_return(true, why_not_kept, can_reset);
        CHECK(v.action == return_action::discard);
        CHECK(v.cause == destroy_cause::broken);
        CHECK(why_not_kept.calls == 0);
    }
}

TEST_CASE("a returned connection is destroyed with the cause why_not_kept names, never reset",
          "[core][idle]")
{
    using namespace connpool::detail;
    for (destroy_cause cause : {destroy_cause::lifetime, destroy_cause::broken,
                                destroy_cause::cleared, destroy_cause::closed}) {
        CAPTURE(static_cast<int>(cause));
        counted<cause_opt> why_not_kept{cause};
        const return_verdict v = judge_return(false, why_not_kept, true);
        CHECK(v.action == return_action::discard);
        CHECK(v.cause == cause);
        CHECK(why_not_kept.calls == 1);
    }
}

TEST_CASE("a returned connection that may be kept is reset when the factory can, else offered",
          "[core][idle]")
{
    using namespace connpool::detail;
    counted<cause_opt> keep_a{std::nullopt};
    CHECK(judge_return(false, keep_a, true).action == return_action::reset);
    CHECK(keep_a.calls == 1);

    counted<cause_opt> keep_b{std::nullopt};
    CHECK(judge_return(false, keep_b, false).action == return_action::offer);
    CHECK(keep_b.calls == 1);
}

// ----------------------------------------------------------------------------------- surplus_of

TEST_CASE("the surplus is the connections above min_size, and never negative", "[core][idle]")
{
    using connpool::detail::surplus_of;
    CHECK(surplus_of(5, 2) == 3);
    CHECK(surplus_of(3, 0) == 3);
    CHECK(surplus_of(2, 2) == 0);
    CHECK(surplus_of(1, 2) == 0);  // below min_size: nothing is surplus (no wrap-around)
    CHECK(surplus_of(0, 0) == 0);
}

// ----------------------------------------------------------------------------------- judge_idle

namespace {
// idle 60 s, keepalive 30 s: the sweep's options in the judge_idle tests below.
const pool_options sweep_opts{.idle_timeout = 60s, .keepalive_interval = 30s};

connpool::detail::idle_verdict judge(const pool_options& o, std::chrono::milliseconds now,
                                     cause_opt unusable, bool surplus, bool can_ping,
                                     std::chrono::milliseconds last_used,
                                     std::chrono::milliseconds last_checked)
{
    return connpool::detail::judge_idle<fake_clock>(o, at(now), unusable, surplus, can_ping,
                                                    at(last_used), at(last_checked));
}
}  // namespace

TEST_CASE("the idle sweep destroys an unusable connection with its cause before anything else",
          "[core][idle]")
{
    using namespace connpool::detail;
    // Surplus and idle past idle_timeout: the given cause wins over "idle".
    const idle_verdict surplus =
        judge(sweep_opts, 100s, destroy_cause::lifetime, true, true, 0s, 0s);
    CHECK(surplus.action == idle_action::discard);
    CHECK(surplus.cause == destroy_cause::lifetime);

    // Kept and due for a keepalive ping: not pinged, destroyed.
    const idle_verdict kept = judge(sweep_opts, 100s, destroy_cause::cleared, false, true, 0s, 0s);
    CHECK(kept.action == idle_action::discard);
    CHECK(kept.cause == destroy_cause::cleared);

    // Freshly used: destroyed all the same.
    const idle_verdict fresh = judge(sweep_opts, 1s, destroy_cause::broken, false, false, 1s, 1s);
    CHECK(fresh.action == idle_action::discard);
    CHECK(fresh.cause == destroy_cause::broken);
}

TEST_CASE("a surplus connection is closed as idle once idle for idle_timeout since its last use",
          "[core][idle]")
{
    using namespace connpool::detail;
    CHECK(judge(sweep_opts, 69'999ms, std::nullopt, true, true, 10s, 69s).action ==
          idle_action::keep);
    const idle_verdict v = judge(sweep_opts, 70s, std::nullopt, true, true, 10s, 69s);
    CHECK(v.action == idle_action::discard);
    CHECK(v.cause == destroy_cause::idle);
    // Idleness counts from the last use, not from the last check.
    CHECK(judge(sweep_opts, 70s, std::nullopt, true, true, 11s, 0s).action == idle_action::keep);
}

TEST_CASE("idle_timeout 0 never closes a surplus connection for idleness", "[core][idle]")
{
    using namespace connpool::detail;
    const pool_options o{.idle_timeout = 0ms, .keepalive_interval = 30s};
    CHECK(judge(o, 100'000s, std::nullopt, true, true, 0s, 0s).action == idle_action::keep);
}

TEST_CASE("a connection within min_size is never closed for idleness", "[core][idle]")
{
    using namespace connpool::detail;
    // Idle far past idle_timeout, no ping possible: kept.
    CHECK(judge(sweep_opts, 1000s, std::nullopt, false, false, 0s, 0s).action == idle_action::keep);
}

TEST_CASE("a surplus connection is never keepalive-pinged", "[core][idle]")
{
    using namespace connpool::detail;
    // Not idle past idle_timeout yet, last checked long ago, the factory can ping: kept as is.
    CHECK(judge(sweep_opts, 59s, std::nullopt, true, true, 0s, 0s).action == idle_action::keep);
}

TEST_CASE("a kept connection is pinged once keepalive_interval has passed since its last check",
          "[core][idle]")
{
    using namespace connpool::detail;
    CHECK(judge(sweep_opts, 39'999ms, std::nullopt, false, true, 10s, 10s).action ==
          idle_action::keep);
    CHECK(judge(sweep_opts, 40s, std::nullopt, false, true, 10s, 10s).action ==
          idle_action::keepalive);
    // The last check counts, not the last use: recently used but unchecked is pinged ...
    CHECK(judge(sweep_opts, 40s, std::nullopt, false, true, 39s, 10s).action ==
          idle_action::keepalive);
    // ... and recently checked (a keepalive ping) is not, however long unused.
    CHECK(judge(sweep_opts, 40s, std::nullopt, false, true, 0s, 39s).action == idle_action::keep);
}

TEST_CASE("no keepalive ping when the factory cannot ping", "[core][idle]")
{
    using namespace connpool::detail;
    CHECK(judge(sweep_opts, 1000s, std::nullopt, false, false, 0s, 0s).action == idle_action::keep);
}

TEST_CASE("keepalive_interval 0 turns background pings off", "[core][idle]")
{
    using namespace connpool::detail;
    const pool_options o{.idle_timeout = 60s, .keepalive_interval = 0ms};
    CHECK(judge(o, 1000s, std::nullopt, false, true, 0s, 0s).action == idle_action::keep);
}

// ------------------------------------------------- needs_validation, needs_keepalive, idle_expired

TEST_CASE("a connection is validated before lending once validation_interval has passed since "
          "its last check",
          "[core][idle]")
{
    using connpool::detail::needs_validation;
    const pool_options o{.validation_interval = 500ms};
    CHECK_FALSE(needs_validation<fake_clock>(o, at(1499ms), at(1000ms)));
    CHECK(needs_validation<fake_clock>(o, at(1500ms), at(1000ms)));
    CHECK(needs_validation<fake_clock>(o, at(9000ms), at(1000ms)));
    // A stamp ahead of `now` (a coarse clock) is not due.
    CHECK_FALSE(needs_validation<fake_clock>(o, at(900ms), at(1000ms)));
}

TEST_CASE("validation_interval 0 validates before every lease, whatever the stamps say",
          "[core][idle]")
{
    using connpool::detail::needs_validation;
    const pool_options o{.validation_interval = 0ms};
    CHECK(needs_validation<fake_clock>(o, at(1000ms), at(1000ms)));
    CHECK(needs_validation<fake_clock>(o, at(900ms), at(1000ms)));  // stamp ahead of now
}

TEST_CASE("keepalive is due keepalive_interval after the last check; 0 = never", "[core][idle]")
{
    using connpool::detail::needs_keepalive;
    const pool_options o{.keepalive_interval = 30s};
    CHECK_FALSE(needs_keepalive<fake_clock>(o, at(34'999ms), at(5s)));
    CHECK(needs_keepalive<fake_clock>(o, at(35s), at(5s)));
    const pool_options off{.keepalive_interval = 0ms};
    CHECK_FALSE(needs_keepalive<fake_clock>(off, at(100'000s), at(0s)));
    CHECK_FALSE(needs_keepalive<fake_clock>(off, at(0s), at(0s)));  // not "always" like validation
}

TEST_CASE("idle expiry comes idle_timeout after the last use; 0 = never", "[core][idle]")
{
    using connpool::detail::idle_expired;
    const pool_options o{.idle_timeout = 60s};
    CHECK_FALSE(idle_expired<fake_clock>(o, at(64'999ms), at(5s)));
    CHECK(idle_expired<fake_clock>(o, at(65s), at(5s)));
    const pool_options never{.idle_timeout = 0ms};
    CHECK_FALSE(idle_expired<fake_clock>(never, at(100'000s), at(0s)));
    CHECK_FALSE(idle_expired<fake_clock>(never, at(0s), at(0s)));
}
