// Unit tests of core/waiting.hpp: who may wait, what a waiter is told when it may not or when its
// deadline passes, when a connect error fails every waiter, and the adaptive spin budget.
// Plain calls, no io_context, no threads.
#include <connpool/detail/core/waiting.hpp>
#include <connpool/error.hpp>

#include <boost/system/errc.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using connpool::errc;
using connpool::error_code;
using connpool::detail::admission;
using connpool::detail::admission_facts;
using connpool::detail::admit;

// ---------------------------------------------------------------------------------------- admit

TEST_CASE("an acquirer is queued while fewer than max_waiters wait", "[core][waiting]")
{
    CHECK(admit({.waiters = 0, .max_waiters = 1}) == admission::queue);
    CHECK(admit({.waiters = 4, .max_waiters = 5}) == admission::queue);
    CHECK(admit({.waiters = 1000, .max_waiters = SIZE_MAX}) == admission::queue);
}

TEST_CASE("an acquirer is refused as exhausted once max_waiters wait", "[core][waiting]")
{
    CHECK(admit({.waiters = 5, .max_waiters = 5}) == admission::exhausted);
    CHECK(admit({.waiters = 6, .max_waiters = 5}) == admission::exhausted);
}

TEST_CASE("max_waiters 0 refuses every waiter as exhausted", "[core][waiting]")
{
    CHECK(admit({.waiters = 0, .max_waiters = 0}) == admission::exhausted);
}

TEST_CASE("a closed pool refuses an acquirer as closed, before any other reason", "[core][waiting]")
{
    CHECK(admit({.closed = true, .waiters = 0, .max_waiters = 10}) == admission::closed);
    CHECK(admit({.closed = true,
                 .cancelled = true,
                 .expired = true,
                 .backend_refuses = true,
                 .waiters = 10,
                 .max_waiters = 10}) == admission::closed);
}

TEST_CASE("a cancelled acquirer is refused as cancelled, before expiry, backend refusal and "
          "exhaustion",
          "[core][waiting]")
{
    CHECK(admit({.cancelled = true, .waiters = 0, .max_waiters = 10}) == admission::cancelled);
    CHECK(admit({.cancelled = true,
                 .expired = true,
                 .backend_refuses = true,
                 .waiters = 10,
                 .max_waiters = 10}) == admission::cancelled);
}

TEST_CASE("an acquirer whose deadline has passed is refused as expired, before backend refusal "
          "and exhaustion",
          "[core][waiting]")
{
    CHECK(admit({.expired = true, .waiters = 0, .max_waiters = 10}) == admission::expired);
    CHECK(admit({.expired = true, .backend_refuses = true, .waiters = 10, .max_waiters = 10}) ==
          admission::expired);
}

TEST_CASE(
    "an acquirer is refused with the backend's error (a permanent error, fail_fast) before it "
    "is refused as exhausted",
    "[core][waiting]")
{
    CHECK(admit({.backend_refuses = true, .waiters = 0, .max_waiters = 10}) ==
          admission::backend_refuses);
    CHECK(admit({.backend_refuses = true, .waiters = 10, .max_waiters = 10}) ==
          admission::backend_refuses);
    CHECK(admit({.backend_refuses = true, .waiters = 0, .max_waiters = 0}) ==
          admission::backend_refuses);
}

// ------------------------------------------------------------------------- refuse_acquirers

namespace {
using connpool::detail::outage_facts;
using connpool::detail::refuse_acquirers;

// The pool in an outage: nothing open, the last attempt failed, its backoff runs.
constexpr outage_facts outage{.open = 0, .last_failed = true, .backing_off = true};
}  // namespace

TEST_CASE("the backend refuses for good when nothing is open, the last connect failed "
          "permanently and its backoff runs",
          "[core][waiting]")
{
    outage_facts f = outage;
    f.failed_permanently = true;
    CHECK(refuse_acquirers(f));
}

TEST_CASE("an open connection means acquirers are never refused, permanent error or fail_fast",
          "[core][waiting]")
{
    outage_facts f = outage;
    f.open = 1;
    f.failed_permanently = true;
    CHECK_FALSE(refuse_acquirers(f));
    f.fail_fast = true;
    CHECK_FALSE(refuse_acquirers(f));
    f.open = 3;
    CHECK_FALSE(refuse_acquirers(f));
}

TEST_CASE("a transient connect failure refuses no acquirer without fail_fast", "[core][waiting]")
{
    CHECK_FALSE(refuse_acquirers(outage));
    outage_facts after_backoff = outage;
    after_backoff.backing_off = false;
    CHECK_FALSE(refuse_acquirers(after_backoff));
}

TEST_CASE("once a permanent failure's backoff has run out, acquirers wait for the next attempt",
          "[core][waiting]")
{
    outage_facts f = outage;
    f.failed_permanently = true;
    f.backing_off = false;
    CHECK_FALSE(refuse_acquirers(f));
}

TEST_CASE("fail_fast refuses acquirers after any connect error while nothing is open, during "
          "the backoff and after it",
          "[core][waiting][fail_fast]")
{
    outage_facts f = outage;
    f.fail_fast = true;
    CHECK(refuse_acquirers(f));
    f.backing_off = false;  // a retry may be in flight: it is not an open connection
    CHECK(refuse_acquirers(f));
    f.failed_permanently = true;
    CHECK(refuse_acquirers(f));
}

TEST_CASE("fail_fast refuses nobody before a connect has failed, nor once one has succeeded",
          "[core][waiting][fail_fast]")
{
    // A fresh pool (no attempt yet), or one whose latest attempt succeeded: last_failed false.
    CHECK_FALSE(refuse_acquirers({.open = 0, .fail_fast = true}));
    CHECK_FALSE(refuse_acquirers({.open = 0, .backing_off = true, .fail_fast = true}));
}

// ----------------------------------------------------------------- fail_waiters_on_connect_error

namespace {
using connpool::detail::fail_waiters_on_connect_error;
// Just after a failed attempt: it failed, its backoff starts.
constexpr outage_facts just_failed{.open = 0, .last_failed = true, .backing_off = true};
}  // namespace

TEST_CASE("a permanent connect error fails the waiters when no connection is open",
          "[core][waiting]")
{
    outage_facts f = just_failed;
    f.failed_permanently = true;
    CHECK(fail_waiters_on_connect_error(f));
    f.backing_off = false;  // a zero backoff_max: over at once, the waiters still fail
    CHECK(fail_waiters_on_connect_error(f));
}

TEST_CASE("waiters keep waiting after a transient connect error without fail_fast",
          "[core][waiting]")
{
    CHECK_FALSE(fail_waiters_on_connect_error(just_failed));
    outage_facts f = just_failed;
    f.open = 3;
    CHECK_FALSE(fail_waiters_on_connect_error(f));
}

TEST_CASE("with fail_fast any connect error fails the waiters when no connection is open",
          "[core][waiting][fail_fast]")
{
    outage_facts f = just_failed;
    f.fail_fast = true;
    CHECK(fail_waiters_on_connect_error(f));
    f.backing_off = false;
    CHECK(fail_waiters_on_connect_error(f));
}

TEST_CASE("waiters keep waiting after a connect error while a connection is open, permanent "
          "error or fail_fast",
          "[core][waiting][fail_fast]")
{
    outage_facts f = just_failed;
    f.open = 1;
    f.failed_permanently = true;
    f.fail_fast = true;
    CHECK_FALSE(fail_waiters_on_connect_error(f));
    f.open = 5;
    CHECK_FALSE(fail_waiters_on_connect_error(f));
}

// ------------------------------------------------------------------------------- deadline_error

TEST_CASE("a waiter's deadline reports acquire_timeout when no connect has failed",
          "[core][waiting]")
{
    const error_code ec = connpool::detail::deadline_error(error_code{});
    CHECK(ec == errc::acquire_timeout);
    CHECK(ec != errc::connect_timeout);
    CHECK(std::string(ec.category().name()) == "connpool");
}

TEST_CASE("a waiter's deadline reports the last connect error instead of acquire_timeout",
          "[core][waiting]")
{
    using connpool::detail::deadline_error;
    const error_code refused = make_error_code(boost::system::errc::connection_refused);
    CHECK(deadline_error(refused) == refused);
    CHECK(deadline_error(refused) != errc::acquire_timeout);
    // A connect timeout is reported as such, not as the acquire's own timeout.
    const error_code slow = make_error_code(errc::connect_timeout);
    CHECK(deadline_error(slow) == errc::connect_timeout);
}

// ---------------------------------------------------------------------------------- spin_budget

TEST_CASE("a successful spin grows the budget by a quarter plus 8", "[core][waiting]")
{
    constexpr connpool::detail::spin_budget b{0, 1024};
    CHECK(b.after(0, true) == 8);  // the step lets a budget of 0 grow again
    CHECK(b.after(8, true) == 18);
    CHECK(b.after(100, true) == 133);
}

TEST_CASE("a successful spin never grows the budget past max", "[core][waiting]")
{
    constexpr connpool::detail::spin_budget b{0, 1024};
    CHECK(b.after(1000, true) == 1024);
    CHECK(b.after(1024, true) == 1024);
    constexpr connpool::detail::spin_budget narrow{128, 512};
    CHECK(narrow.after(500, true) == 512);
}

TEST_CASE("a failed spin shrinks the budget by an eighth plus 1", "[core][waiting]")
{
    constexpr connpool::detail::spin_budget b{0, 1024};
    CHECK(b.after(1024, false) == 895);
    CHECK(b.after(16, false) == 13);
    CHECK(b.after(7, false) == 6);  // small budgets still shrink
}

TEST_CASE("a failed spin never shrinks the budget below min", "[core][waiting]")
{
    constexpr connpool::detail::spin_budget b{0, 1024};
    CHECK(b.after(1, false) == 0);
    CHECK(b.after(0, false) == 0);
    constexpr connpool::detail::spin_budget narrow{128, 512};
    CHECK(narrow.after(130, false) == 128);
    CHECK(narrow.after(128, false) == 128);
}

TEST_CASE("from max, a bounded run of failed spins brings the budget down to min",
          "[core][waiting]")
{
    // A blocked acquirer stops polling soon once holds become long: the budget halves in about
    // five failures and reaches the floor within a few dozen.
    struct bounds {
        connpool::detail::spin_budget b;
        int at_most;
    };
    for (const bounds& c : {bounds{{0, 1024}, 40}, bounds{{128, 512}, 11}}) {
        CAPTURE(c.b.min, c.b.max);
        int budget = c.b.max;
        int failures = 0;
        while (budget != c.b.min && failures < 1000) {
            budget = c.b.after(budget, false);
            ++failures;
        }
        CHECK(budget == c.b.min);
        CHECK(failures <= c.at_most);
        CHECK(c.b.after(budget, false) == c.b.min);  // and stays there
    }
}

TEST_CASE("from min, a bounded run of successful spins brings the budget up to max",
          "[core][waiting]")
{
    struct bounds {
        connpool::detail::spin_budget b;
        int at_most;
    };
    for (const bounds& c : {bounds{{0, 1024}, 16}, bounds{{128, 512}, 6}}) {
        CAPTURE(c.b.min, c.b.max);
        int budget = c.b.min;
        int successes = 0;
        while (budget != c.b.max && successes < 1000) {
            budget = c.b.after(budget, true);
            ++successes;
        }
        CHECK(budget == c.b.max);
        CHECK(successes <= c.at_most);
    }
}
