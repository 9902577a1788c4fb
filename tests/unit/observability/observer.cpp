// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The observer (issue 11, items 1 and 4): every event a pool raises, with its durations exact
// on the manual clock; the hooks (after_connect, before_lend, after_return) and their vetoes;
// an observer that throws; leak reports with the acquire's call site, through the observer and
// stats(); a keyed pool's keys sharing one observer.

#include "support/pool_fixture.hpp"

#include <connpool/call_site.hpp>
#include <connpool/observer.hpp>

#include <boost/asio/error.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using connpool::acquire_event;
using connpool::call_site;
using connpool::check_kind;
using connpool::connect_event;
using connpool::destroy_cause;
using connpool::errc;
using connpool::leak_event;
using connpool::release_event;
using std::chrono::nanoseconds;
namespace asio = boost::asio;

namespace {

// Records every event; its hooks do what the test sets.
struct recorder : connpool::pool_observer<fake_connection> {
    std::mutex mtx;
    int connects_started = 0;
    std::vector<connect_event> connects;
    std::vector<acquire_event> acquires;
    std::vector<release_event> releases;
    std::vector<destroy_cause> destroyed;
    std::vector<std::pair<check_kind, error_code>> checks_failed;
    std::vector<leak_event> leaks;

    // Hooks: what they answer, and what they saw.
    std::function<error_code(fake_connection&)> on_after_connect;
    std::function<bool(fake_connection&)> on_before_lend;
    std::function<bool(fake_connection&)> on_after_return;
    std::vector<int> lend_asked, return_asked;

    void on_connect_started() override
    {
        std::lock_guard lk(mtx);
        ++connects_started;
    }
    void on_connect_finished(const connect_event& e) override
    {
        std::lock_guard lk(mtx);
        connects.push_back(e);
    }
    void on_acquire(const acquire_event& e) override
    {
        std::lock_guard lk(mtx);
        acquires.push_back(e);
    }
    void on_release(const release_event& e) override
    {
        std::lock_guard lk(mtx);
        releases.push_back(e);
    }
    void on_destroyed(destroy_cause c) override
    {
        std::lock_guard lk(mtx);
        destroyed.push_back(c);
    }
    void on_check_failed(check_kind k, error_code ec) override
    {
        std::lock_guard lk(mtx);
        checks_failed.emplace_back(k, ec);
    }
    void on_leak_suspected(const leak_event& e) override
    {
        std::lock_guard lk(mtx);
        leaks.push_back(e);
    }
    error_code after_connect(fake_connection& c) override
    {
        return on_after_connect ? on_after_connect(c) : error_code{};
    }
    bool before_lend(fake_connection& c) override
    {
        lend_asked.push_back(c.id);
        return on_before_lend ? on_before_lend(c) : true;
    }
    bool after_return(fake_connection& c) override
    {
        return_asked.push_back(c.id);
        return on_after_return ? on_after_return(c) : true;
    }
};

// Throws from every member.
struct thrower : connpool::pool_observer<fake_connection> {
    void on_connect_started() override { throw std::runtime_error("x"); }
    void on_connect_finished(const connect_event&) override { throw std::runtime_error("x"); }
    void on_acquire(const acquire_event&) override { throw std::runtime_error("x"); }
    void on_release(const release_event&) override { throw std::runtime_error("x"); }
    void on_destroyed(destroy_cause) override { throw std::runtime_error("x"); }
};

bool same_file(const call_site& s)
{
    return std::string(s.file_name()) == __FILE__;
}

template <class Factory = connect_only_factory>
struct observed : fixture<Factory> {
    std::shared_ptr<recorder> rec = std::make_shared<recorder>();
    auto& make(connpool::pool_options opts = {}) { return this->make_pool(opts, rec); }

    // A connection refused by after_connect was made by the backend but never counted in
    // `created` (its attempt is a failed connect): the test kit's `created ==
    // connects_succeeded` does not hold, by `refused`. Checks the rest and closes the pool.
    void forget_refused_connects(long refused)
    {
        this->poll();
        const auto st = this->pool().stats();
        CHECK(connpool::testing::check_invariants(this->pool()).ok());
        CHECK(this->backend->connects_succeeded() == static_cast<long>(st.created) + refused);
        CHECK(this->backend->live() == static_cast<long>(st.idle + st.in_use + st.maintenance));
        this->pool_ptr.reset();
        this->poll();
    }
};
using F = observed<>;

}  // namespace

// ------------------------------------------------------------------------ connects

TEST_CASE_METHOD(F, "connects are reported when they start and end, with their durations",
                 "[observer][connect]")
{
    backend->push_connect(outcome::fail(refused()).after(10ms));
    backend->set_connect(outcome::ok().after(40ms));
    make({.max_size = 1, .backoff_initial = 100ms, .backoff_max = 100ms});
    auto r = start_acquire(5s);
    CHECK(rec->connects_started == 1);
    advance(10ms);  // refused
    REQUIRE(rec->connects.size() == 1);
    CHECK(rec->connects[0].error == refused());
    CHECK(rec->connects[0].duration == 10ms);
    advance_until([&] { return r->called(); }, 10ms, 1s);  // the retry, after the backoff
    REQUIRE(rec->connects.size() == 2);
    CHECK(rec->connects_started == 2);
    CHECK(!rec->connects[1].error);
    CHECK(rec->connects[1].duration == 40ms);
}

TEST_CASE_METHOD(F, "a connect that times out is reported once, with connect_timeout",
                 "[observer][connect]")
{
    backend->set_connect(outcome::pending());
    make({.max_size = 1, .connect_timeout = 200ms, .backoff_initial = 10s, .backoff_max = 10s});
    auto r = start_acquire(1s);
    advance(200ms);
    poll();
    REQUIRE(rec->connects.size() == 1);
    CHECK(rec->connects[0].error == errc::connect_timeout);
    CHECK(rec->connects[0].duration == 200ms);
    advance(1s);
    CHECK(rec->connects.size() == 1);
    CHECK(r->ec() == errc::connect_timeout);
}

// ------------------------------------------------------------------------ acquires and returns

TEST_CASE_METHOD(F, "acquires are reported with their outcome, wait and call site",
                 "[observer][acquire]")
{
    auto& p = make({.max_size = 1});
    auto r1 = start_acquire();  // served by the connect: it waited, 0 ms of manual time
    REQUIRE(r1->called());
    REQUIRE(rec->acquires.size() == 1);
    CHECK(!rec->acquires[0].error);
    CHECK(rec->acquires[0].wait == 0ms);
    // The site is the fixture's call of async_acquire (tests/support/pool_fixture.hpp).
    CHECK(std::string(rec->acquires[0].where.file_name()).find("pool_fixture.hpp") !=
          std::string::npos);

    auto r2 = start_acquire(1s);  // waits for r1's connection
    advance(300ms);
    r1->value().release();
    poll();
    REQUIRE(r2->called());
    REQUIRE(rec->acquires.size() == 2);
    CHECK(!rec->acquires[1].error);
    CHECK(rec->acquires[1].wait == 300ms);

    auto r3 = start_acquire(500ms);  // times out
    advance(500ms);
    poll();
    REQUIRE(rec->acquires.size() == 3);
    CHECK(rec->acquires[2].error == errc::acquire_timeout);
    CHECK(rec->acquires[2].wait == 500ms);

    r2->value().release();
    poll();
    const std::uint_least32_t line = __LINE__ + 1;
    auto h = p.try_acquire();  // the fast path: no wait
    REQUIRE(h);
    REQUIRE(rec->acquires.size() == 4);
    CHECK(!rec->acquires[3].error);
    CHECK(rec->acquires[3].wait == 0ms);
    CHECK(same_file(rec->acquires[3].where));
    CHECK(rec->acquires[3].where.line() == line);
    CHECK(std::string(rec->acquires[3].where.function_name()).find("test") != std::string::npos);

    auto none = p.try_acquire();  // nothing idle: not an acquire, not reported
    CHECK(!none);
    CHECK(rec->acquires.size() == 4);

    p.close();
    auto closed = start_acquire();
    REQUIRE(closed->called());
    REQUIRE(rec->acquires.size() == 5);
    CHECK(rec->acquires[4].error == errc::pool_closed);
}

TEST_CASE_METHOD(F, "the blocking acquire's fast path is reported with its call site",
                 "[observer][acquire][blocking]")
{
    auto& p = make({.min_size = 1, .max_size = 1});
    REQUIRE(p.stats().idle == 1);
    const std::uint_least32_t line = __LINE__ + 1;
    auto h = p.acquire(1s);
    REQUIRE(rec->acquires.size() == 1);
    CHECK(!rec->acquires[0].error);
    CHECK(rec->acquires[0].where.line() == line);
    CHECK(same_file(rec->acquires[0].where));
}

TEST_CASE_METHOD(F, "returns are reported with the hold time, the invalidation and the call site",
                 "[observer][release]")
{
    auto& p = make({.min_size = 1, .max_size = 1});
    const std::uint_least32_t line = __LINE__ + 1;
    auto h = p.try_acquire();
    REQUIRE(h);
    advance(250ms);
    h->release();
    REQUIRE(rec->releases.size() == 1);
    CHECK(rec->releases[0].held == 250ms);
    CHECK(!rec->releases[0].invalidated);
    CHECK(rec->releases[0].where.line() == line);
    CHECK(rec->return_asked == std::vector<int>{1});

    auto h2 = p.try_acquire();
    REQUIRE(h2);
    advance(2s);
    h2->invalidate();
    h2->release();
    poll();
    REQUIRE(rec->releases.size() == 2);
    CHECK(rec->releases[1].held == 2s);
    CHECK(rec->releases[1].invalidated);
    CHECK(rec->return_asked == std::vector<int>{1});  // not asked about a broken connection
    CHECK(rec->destroyed == std::vector<destroy_cause>{destroy_cause::broken});
}

// ------------------------------------------------------------------------ destructions, checks

TEST_CASE_METHOD(F, "each destruction is reported with its cause, after the destructor ran",
                 "[observer][destroyed]")
{
    auto& p = make({.min_size = 0, .max_size = 3, .idle_timeout = 1s});
    auto a = acquire_now();
    auto b = acquire_now();
    auto c = acquire_now();
    a.release();
    b.release();
    p.clear();  // both idle connections: cleared
    poll();
    CHECK(rec->destroyed ==
          std::vector<destroy_cause>{destroy_cause::cleared, destroy_cause::cleared});
    CHECK(backend->live() == 1);
    p.close();
    c.release();  // lent when the pool closed: destroyed on return
    poll();
    CHECK(rec->destroyed.size() == 3);
    CHECK(rec->destroyed.back() == destroy_cause::closed);
    CHECK(backend->live() == 0);
}

TEST_CASE("a failed ping and a failed reset are reported before the destruction",
          "[observer][check]")
{
    SECTION("ping")
    {
        observed<ping_factory> f;
        auto& p = f.make({.min_size = 1, .max_size = 1, .validation_interval = 0ms});
        f.backend->push_ping(outcome::fail(asio::error::connection_reset));
        auto r = f.start_acquire(5s);
        f.poll();
        REQUIRE(f.rec->checks_failed.size() == 1);
        CHECK(f.rec->checks_failed[0].first == check_kind::ping);
        CHECK(f.rec->checks_failed[0].second == asio::error::connection_reset);
        CHECK(f.rec->destroyed == std::vector<destroy_cause>{destroy_cause::broken});
        REQUIRE(r->called());  // served by a new connection
        CHECK(!r->ec());
        (void)p;
    }
    SECTION("reset")
    {
        observed<reset_factory> f;
        auto& p = f.make({.min_size = 1, .max_size = 1});
        f.backend->push_reset(outcome::fail(asio::error::broken_pipe));
        auto h = p.try_acquire();
        REQUIRE(h);
        h->release();
        f.poll();
        REQUIRE(f.rec->checks_failed.size() == 1);
        CHECK(f.rec->checks_failed[0].first == check_kind::reset);
        CHECK(f.rec->checks_failed[0].second == asio::error::broken_pipe);
        CHECK(f.rec->destroyed == std::vector<destroy_cause>{destroy_cause::broken});
    }
}

// ------------------------------------------------------------------------ hooks

TEST_CASE_METHOD(F, "after_connect prepares each new connection before it is lent",
                 "[observer][hook][after_connect]")
{
    rec->on_after_connect = [](fake_connection& c) {
        c.uses = 100;  // "SET search_path ...": session state the lease sees
        return error_code{};
    };
    make({.max_size = 1});
    auto h = acquire_now();
    CHECK(h->uses == 100);
}

TEST_CASE_METHOD(F, "an error from after_connect fails the connect: destroyed, counted, retried",
                 "[observer][hook][after_connect]")
{
    int calls = 0;
    const error_code rejected = asio::error::access_denied;
    rec->on_after_connect = [&](fake_connection&) {
        return ++calls == 1 ? rejected : error_code{};
    };
    auto& p = make({.max_size = 1, .backoff_initial = 100ms, .backoff_max = 100ms});
    auto r = start_acquire(5s);
    CHECK(calls == 1);
    CHECK(backend->live() == 0);  // the rejected connection is gone
    CHECK(p.stats().connect_failures == 1);
    CHECK(p.stats().last_connect_error == rejected);
    REQUIRE(rec->connects.size() == 1);
    CHECK(rec->connects[0].error == rejected);
    CHECK(!r->called());
    advance_until([&] { return r->called(); }, 10ms, 1s);  // retried after the backoff
    REQUIRE(r->called());
    CHECK(!r->ec());
    CHECK(r->value()->id == 2);
    CHECK(p.stats().created == 1);
    forget_refused_connects(1);
}

TEST_CASE_METHOD(F, "after_connect that throws refuses the connection with observer_error",
                 "[observer][hook][after_connect]")
{
    rec->on_after_connect = [](fake_connection&) -> error_code {
        throw std::runtime_error("hook bug");
    };
    auto& p = make({.max_size = 1, .backoff_initial = 10s, .backoff_max = 10s});
    auto r = start_acquire(300ms);
    advance(300ms);
    poll();
    REQUIRE(r->called());
    CHECK(r->ec() == errc::observer_error);  // the deadline reports the real cause
    CHECK(p.stats().last_connect_error == errc::observer_error);
    CHECK(backend->live() == 0);
    CHECK(!error_code(errc::observer_error).message().empty());
    forget_refused_connects(1);
}

TEST_CASE_METHOD(F,
                 "before_lend vetoes a connection on the fast path: destroyed, the next one lent",
                 "[observer][hook][before_lend]")
{
    auto& p = make({.min_size = 2, .max_size = 2});
    REQUIRE(p.stats().idle == 2);
    {
        auto first = p.try_acquire();  // each new connection's first lease: not asked
        auto second = p.try_acquire();
        REQUIRE(first);
        REQUIRE(second);
        CHECK((*second)->id == 1);  // LIFO: 2 was pushed last
    }  // `second` goes first: 2 is returned last, on top
    CHECK(rec->lend_asked.empty());
    rec->on_before_lend = [](fake_connection& c) { return c.id != 2; };
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 1);
    CHECK(rec->lend_asked == std::vector<int>{2, 1});
    CHECK(rec->destroyed == std::vector<destroy_cause>{destroy_cause::vetoed});
    CHECK(p.stats().destroyed_vetoed == 1);
    CHECK(!backend->is_live(2));
}

TEST_CASE_METHOD(F, "before_lend vetoes the only idle connection: try_acquire gets none",
                 "[observer][hook][before_lend]")
{
    auto& p = make({.min_size = 1, .max_size = 1});
    p.try_acquire().reset();  // lent once
    rec->on_before_lend = [](fake_connection& c) { return c.id != 1; };
    CHECK(!p.try_acquire());
    CHECK(p.stats().destroyed_vetoed == 1);
    poll();  // min_size opens another
    auto h = p.try_acquire();
    REQUIRE(h);
    CHECK((*h)->id == 2);
}

TEST_CASE_METHOD(F, "before_lend vetoes a connection handed to a waiter: it gets a new one",
                 "[observer][hook][before_lend]")
{
    auto& p = make({.max_size = 1});
    auto a = acquire_now();
    auto w = start_acquire(5s);
    rec->on_before_lend = [](fake_connection& c) { return c.id != 1; };
    a.release();  // offered to the waiter, vetoed, destroyed; a connect replaces it
    poll();
    REQUIRE(w->called());
    CHECK(!w->ec());
    CHECK(w->value()->id == 2);
    CHECK(p.stats().destroyed_vetoed == 1);
}

TEST_CASE_METHOD(F, "after_return vetoes keeping a connection: destroyed instead of reused",
                 "[observer][hook][after_return]")
{
    auto& p = make({.max_size = 1});
    rec->on_after_return = [](fake_connection& c) { return c.uses < 2; };
    auto h = acquire_now();
    h->uses = 1;
    h.release();
    CHECK(p.stats().idle == 1);
    auto h2 = p.try_acquire();
    REQUIRE(h2);
    (*h2)->uses = 2;  // "the session is in a state we cannot reuse"
    h2->release();
    CHECK(p.stats().idle == 0);
    CHECK(p.stats().destroyed_vetoed == 1);
    CHECK(rec->destroyed == std::vector<destroy_cause>{destroy_cause::vetoed});
    CHECK(backend->live() == 0);
}

TEST_CASE("an observer that throws from every event does not disturb the pool",
          "[observer][throws]")
{
    fixture<> f;
    auto& p = f.make_pool({.max_size = 2}, std::make_shared<thrower>());
    auto a = f.acquire_now();
    auto b = f.acquire_now();
    a.invalidate();
    a.release();
    b.release();
    auto c = p.try_acquire();
    REQUIRE(c);
    CHECK(p.stats().created == 2);
    CHECK(p.stats().destroyed_broken == 1);
}

TEST_CASE_METHOD(F, "hooks that throw veto", "[observer][hook][throws]")
{
    auto& p = make({.min_size = 1, .max_size = 1});
    p.try_acquire().reset();  // lent once: before_lend is asked about it from now on
    rec->on_before_lend = [](fake_connection&) -> bool { throw std::runtime_error("x"); };
    CHECK(!p.try_acquire());
    CHECK(p.stats().destroyed_vetoed == 1);
    poll();
    rec->on_before_lend = nullptr;
    rec->on_after_return = [](fake_connection&) -> bool { throw std::runtime_error("x"); };
    auto h = p.try_acquire();  // connection 2's first lease: not asked
    REQUIRE(h);
    h->release();
    CHECK(p.stats().destroyed_vetoed == 2);
}

TEST_CASE_METHOD(F,
                 "a before_lend that refuses everything does not make the pool reconnect in a loop",
                 "[observer][hook][before_lend]")
{
    auto& p = make({.max_size = 1});
    rec->on_before_lend = [](fake_connection&) { return false; };
    for (int round = 1; round <= 3; ++round) {
        INFO("round " << round);
        auto h = acquire_now();  // a new connection each time (the old one is refused)
        CHECK(h->id == round);
    }
    poll();
    CHECK(backend->connects_succeeded() == 3);  // one per acquire, not a storm
    CHECK(p.stats().destroyed_vetoed == 2);
    CHECK(rec->lend_asked == std::vector<int>{1, 2});
}

// ------------------------------------------------------------------------ leaks

TEST_CASE_METHOD(F, "a lease held past leak_threshold is reported once, with its call site",
                 "[observer][leak]")
{
    auto& p = make({.min_size = 2, .max_size = 2, .leak_threshold = 1s});
    const std::uint_least32_t line = __LINE__ + 1;
    auto leaked = p.try_acquire();
    REQUIRE(leaked);
    auto brief = p.try_acquire();
    REQUIRE(brief);
    advance(200ms);
    brief->release();
    CHECK(p.stats().leases_overdue == 0);
    CHECK(p.stats().oldest_lease_held == 200ms);
    CHECK(p.stats().oldest_lease_where.line() == line);

    advance_until([&] { return !rec->leaks.empty(); }, 100ms, 3s);
    REQUIRE(rec->leaks.size() == 1);
    CHECK(rec->leaks[0].held >= 1s);
    CHECK(rec->leaks[0].held <= 1500ms);  // noticed within leak_threshold / 2
    CHECK(rec->leaks[0].where.line() == line);
    CHECK(same_file(rec->leaks[0].where));

    const auto st = p.stats();
    CHECK(st.leaks_suspected == 1);
    CHECK(st.leases_overdue == 1);
    CHECK(st.oldest_lease_held >= 1s);
    CHECK(st.oldest_lease_where.line() == line);
    std::ostringstream os;
    os << st.oldest_lease_where;
    CHECK(os.str().find(":" + std::to_string(line) + " (") != std::string::npos);

    advance(5s);
    CHECK(rec->leaks.size() == 1);  // once per lease
    leaked->release();
    const auto after = p.stats();
    CHECK(after.leases_overdue == 0);
    CHECK(after.oldest_lease_held == 0ns);
    CHECK(!after.oldest_lease_where.known());
}

TEST_CASE("leak call sites work without an observer; stats() has them", "[observer][leak]")
{
    fixture<> f;
    auto& p = f.make_pool({.min_size = 1, .max_size = 1, .leak_threshold = 500ms});
    const std::uint_least32_t line = __LINE__ + 1;
    auto h = p.acquire(1s);
    f.advance(600ms);
    const auto st = p.stats();
    CHECK(st.leases_overdue == 1);
    CHECK(st.oldest_lease_where.line() == line);
    CHECK(same_file(st.oldest_lease_where));
}

TEST_CASE("without leak_threshold, stats() names no lease", "[observer][leak]")
{
    fixture<> f;
    auto& p = f.make_pool({.min_size = 1, .max_size = 1});
    auto h = p.try_acquire();
    REQUIRE(h);
    f.advance(1h);
    const auto st = p.stats();
    CHECK(st.leases_overdue == 0);
    CHECK(st.oldest_lease_held == 0ns);
    CHECK(!st.oldest_lease_where.known());
}

TEST_CASE("call_site names the caller", "[observer][call_site]")
{
    const std::uint_least32_t line = __LINE__ + 1;
    const call_site here = call_site::current();
    CHECK(here.line() == line);
    CHECK(same_file(here));
    CHECK(here.known());
    CHECK(!call_site{}.known());
    CHECK(call_site{} == call_site{});
    CHECK(!(here == call_site{}));
    std::ostringstream os;
    os << call_site{};
    CHECK(os.str() == "unknown call site");
}
