// Unit tests of core/pool_state.hpp: the bookkeeping under the pool's mutex and the questions it
// answers for the engine (sizing, plan, backend_refuses, deadline_error, on_connect_failure).
// Plain calls: waiters are pushed by hand, time points are made by hand, nothing runs.
// The backoff's jitter is a draw the caller passes in, so the end of a backoff is exact.
#include "fake_clock.hpp"

#include <connpool/detail/core/pool_state.hpp>
#include <connpool/error.hpp>

#include <boost/system/errc.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono_literals;
using connpool::errc;
using connpool::error_code;
using connpool::pool_options;
using connpool::test::core::at;
using connpool::test::core::fake_clock;

namespace {

using state = connpool::detail::pool_state<int, fake_clock>;
using waiter = connpool::detail::waiter<int>;

void no_notify(waiter*) noexcept {}

const error_code refused = make_error_code(boost::system::errc::connection_refused);
const error_code denied = make_error_code(boost::system::errc::permission_denied);

}  // namespace

TEST_CASE("the sizing decision sees the queued waiters plus those refused just now",
          "[core][pool_state]")
{
    const pool_options o{.max_size = 8, .max_concurrent_connects = 8};
    state st(o);
    waiter a(no_notify), b(no_notify);
    st.waiters.push_back(a);
    st.waiters.push_back(b);
    st.size = 3;
    st.connecting = 1;
    st.maintenance = 1;

    const connpool::detail::sizing_state s = st.sizing(false, at(0ms));
    CHECK(s.waiters == 2);
    CHECK(s.size == 3);
    CHECK(s.connecting == 1);
    CHECK(s.maintenance == 1);
    CHECK_FALSE(s.closed);
    CHECK_FALSE(s.backing_off);

    CHECK(st.sizing(false, at(0ms), 1).waiters == 3);
    CHECK(st.sizing(true, at(0ms)).closed);

    st.waiters.pop_front();
    CHECK(st.sizing(false, at(0ms)).waiters == 1);
}

TEST_CASE("plan() connects for the waiters that no connection on its way will serve",
          "[core][pool_state]")
{
    const pool_options o{.max_size = 8, .max_concurrent_connects = 8};
    state st(o);
    waiter a(no_notify), b(no_notify), c(no_notify);
    for (waiter* w : {&a, &b, &c})
        st.waiters.push_back(*w);
    st.size = 1;
    st.connecting = 1;

    const connpool::detail::connect_plan plan = st.plan(false, at(0ms));
    CHECK(plan.connects == 2);
    CHECK_FALSE(plan.retry);
    // An acquirer refused for max_waiters just now is demand too.
    CHECK(st.plan(false, at(0ms), 1).connects == 3);
}

TEST_CASE("plan() starts no connect and asks no retry for a closed pool", "[core][pool_state]")
{
    const pool_options o{.min_size = 2, .max_size = 8};
    state st(o);
    waiter a(no_notify);
    st.waiters.push_back(a);
    const connpool::detail::connect_plan plan = st.plan(true, at(0ms));
    CHECK(plan.connects == 0);
    CHECK_FALSE(plan.retry);
}

TEST_CASE("on_connect_failure records the error for stats and starts the backoff",
          "[core][pool_state]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    CHECK_FALSE(st.last_connect_error);

    st.on_connect_failure(refused, at(1000ms), false, 0.0);
    CHECK(st.last_connect_error == refused);
    CHECK(st.tracker.failures() == 1);
    // The first failure backs off by backoff_initial, jittered down by at most half.
    CHECK(st.tracker.retry_at() == at(1100ms));
    state jittered(o);
    jittered.on_connect_failure(refused, at(1000ms), false, 0.5);
    CHECK(jittered.tracker.retry_at() == at(1075ms));
    CHECK(st.sizing(false, at(1000ms)).backing_off);
    CHECK(st.sizing(false, st.tracker.retry_at() - 1ms).backing_off);
    CHECK_FALSE(st.sizing(false, st.tracker.retry_at()).backing_off);
}

TEST_CASE("after a connect failure plan() waits for the backoff, then connects again",
          "[core][pool_state]")
{
    const pool_options o{.max_size = 8, .backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    waiter a(no_notify);
    st.waiters.push_back(a);
    st.on_connect_failure(refused, at(1000ms), false, 0.0);

    const connpool::detail::connect_plan during = st.plan(false, at(1000ms));
    CHECK(during.connects == 0);
    CHECK(during.retry);

    const connpool::detail::connect_plan after = st.plan(false, st.tracker.retry_at());
    CHECK(after.connects == 1);
    CHECK_FALSE(after.retry);
}

TEST_CASE("a deadline reports acquire_timeout while no connect has failed", "[core][pool_state]")
{
    const pool_options o{};
    state st(o);
    CHECK(st.deadline_error() == errc::acquire_timeout);
}

TEST_CASE("a deadline reports the last connect error while the last attempt failed",
          "[core][pool_state]")
{
    const pool_options o{};
    state st(o);
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    CHECK(st.deadline_error() == refused);
    st.on_connect_failure(make_error_code(errc::connect_timeout), at(1s), false, 0.0);
    CHECK(st.deadline_error() == errc::connect_timeout);  // the latest, not the first
}

TEST_CASE("after a successful connect, deadlines report acquire_timeout but stats keep the last "
          "connect error",
          "[core][pool_state]")
{
    const pool_options o{};
    state st(o);
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    st.tracker.on_success();
    CHECK(st.deadline_error() == errc::acquire_timeout);
    CHECK(st.last_connect_error == refused);
}

TEST_CASE("a permanent connect failure backs off by backoff_max, jittered down by at most half",
          "[core][pool_state]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    st.on_connect_failure(denied, at(0ms), true, 0.0);
    CHECK(st.tracker.retry_at() == at(2000ms));
    state jittered(o);
    jittered.on_connect_failure(denied, at(0ms), true, 0.5);
    CHECK(jittered.tracker.retry_at() == at(1500ms));
    CHECK(st.last_connect_error == denied);
}

TEST_CASE("after a permanent failure with nothing open, the backend refuses until the backoff "
          "ends",
          "[core][pool_state]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    st.on_connect_failure(denied, at(0ms), true, 0.0);
    CHECK(st.backend_refuses(at(0ms)));
    CHECK(st.backend_refuses(st.tracker.retry_at() - 1ms));
    CHECK_FALSE(st.backend_refuses(st.tracker.retry_at()));
    CHECK_FALSE(st.backend_refuses(at(2000ms)));
    // Connects in flight are not open connections.
    st.size = 2;
    st.connecting = 2;
    CHECK(st.backend_refuses(at(0ms)));
}

TEST_CASE("the backend does not refuse while a connection is open", "[core][pool_state]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    st.on_connect_failure(denied, at(0ms), true, 0.0);
    st.size = 1;
    CHECK_FALSE(st.backend_refuses(at(0ms)));
    st.size = 3;
    st.connecting = 2;
    CHECK_FALSE(st.backend_refuses(at(0ms)));
}

TEST_CASE("the backend does not refuse after a transient failure, nor after a success",
          "[core][pool_state]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    CHECK_FALSE(st.backend_refuses(at(0ms)));  // nothing failed yet
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    CHECK_FALSE(st.backend_refuses(at(0ms)));
    // A permanent failure followed by a transient one: the latest attempt decides.
    st.on_connect_failure(denied, at(0ms), true, 0.0);
    st.on_connect_failure(refused, at(1ms), false, 0.0);
    CHECK_FALSE(st.backend_refuses(at(1ms)));
    // A permanent failure followed by a success.
    st.on_connect_failure(denied, at(2ms), true, 0.0);
    st.tracker.on_success();
    CHECK_FALSE(st.backend_refuses(at(2ms)));
}

// ------------------------------------------------------------------------------- fail_fast

TEST_CASE("with fail_fast, after any connect failure with nothing open, the backend refuses "
          "until a connect succeeds, backoff or not",
          "[core][pool_state][fail_fast]")
{
    const pool_options o{.backoff_initial = 100ms, .backoff_max = 2000ms, .fail_fast = true};
    state st(o);
    CHECK_FALSE(st.backend_refuses(at(0ms)));  // no attempt has failed yet
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    CHECK(st.backend_refuses(at(0ms)));
    CHECK(st.backend_refuses(st.tracker.retry_at() + 1h));  // no time limit
    // A retry in flight is not an open connection.
    st.size = 1;
    st.connecting = 1;
    CHECK(st.backend_refuses(at(0ms)));
    st.on_connect_success();
    CHECK_FALSE(st.backend_refuses(at(0ms)));
}

TEST_CASE("with fail_fast, an open connection keeps the backend from refusing",
          "[core][pool_state][fail_fast]")
{
    const pool_options o{.fail_fast = true};
    state st(o);
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    st.size = 2;
    st.connecting = 1;  // one open (idle, lent or in maintenance), one connecting
    CHECK_FALSE(st.backend_refuses(at(0ms)));
    CHECK(st.outage(at(0ms)).open == 1);
    // A failed connect not yet freed still counts in size: `leaving` takes it out.
    CHECK(st.outage(at(0ms), 1).open == 0);
}

TEST_CASE("the demand of refused acquirers keeps the pool retrying after its waiters are gone, "
          "until a connect succeeds",
          "[core][pool_state][fail_fast]")
{
    const pool_options o{.max_size = 4, .backoff_initial = 100ms, .backoff_max = 2000ms};
    state st(o);
    st.on_connect_failure(refused, at(0ms), false, 0.0);
    // Nobody waits and nothing is refused: no connect, no retry.
    CHECK(st.plan(false, st.tracker.retry_at()).connects == 0);
    CHECK_FALSE(st.plan(false, at(0ms)).retry);

    st.refused_demand = true;  // acquirers were refused or failed with the connect error
    CHECK(st.sizing(false, at(0ms)).waiters == 1);
    const connpool::detail::connect_plan during = st.plan(false, at(0ms));
    CHECK(during.connects == 0);
    CHECK(during.retry);  // the retry timer is set
    CHECK(st.plan(false, st.tracker.retry_at()).connects == 1);
    // One connect on its way serves that demand: no second one.
    st.size = 1;
    st.connecting = 1;
    CHECK(st.plan(false, st.tracker.retry_at()).connects == 0);

    st.on_connect_success();
    CHECK_FALSE(st.refused_demand);
    CHECK(st.sizing(false, at(0ms)).waiters == 0);
}
