// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Sizing: min_size pre-warming and upkeep, the max_size hard cap (connects in flight count), the
// concurrent-connect limit, and connects driven by demand (issue item 5).

#include "support/pool_fixture.hpp"

#include <algorithm>
#include <set>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;

using F = fixture<>;

TEST_CASE_METHOD(F, "min_size connections are opened when the pool starts", "[sizing][min_size]")
{
    auto& p = make_pool({.min_size = 3, .max_size = 8});
    CHECK(backend->connects_started() == 3);
    CHECK(backend->live() == 3);
    const auto s = p.stats();
    CHECK(s.size == 3);
    CHECK(s.idle == 3);
    CHECK(s.created == 3);
    CHECK(s.in_use == 0);
}

TEST_CASE_METHOD(F, "pre-warming needs no acquire and opens no more than min_size",
                 "[sizing][min_size]")
{
    make_pool({.min_size = 2, .max_size = 8});
    advance_in_steps(10s, 1s);
    CHECK(backend->connects_started() == 2);
    CHECK(stats().size == 2);
}

TEST_CASE_METHOD(F, "pre-warming respects max_concurrent_connects", "[sizing][min_size]")
{
    backend->set_connect(outcome::pending());
    make_pool({.min_size = 4, .max_size = 8, .max_concurrent_connects = 2});
    CHECK(backend->pending_connects() == 2);
    CHECK(stats().pending == 2);
    CHECK(stats().size == 2);
    REQUIRE(backend->complete_next_connect());
    poll();
    CHECK(backend->pending_connects() == 2);
    CHECK(stats().idle == 1);
    while (backend->complete_next_connect())
        poll();
    CHECK(stats().idle == 4);
    CHECK(stats().size == 4);
    CHECK(backend->connects_started() == 4);
    CHECK(backend->max_connects_in_flight() == 2);
}

TEST_CASE_METHOD(F, "a connection lost below min_size is replaced", "[sizing][min_size]")
{
    make_pool({.min_size = 2, .max_size = 4});
    {
        auto h = acquire_now();
        h.invalidate();
    }
    poll();
    CHECK(stats().destroyed_broken == 1);
    CHECK(stats().size == 2);
    CHECK(stats().idle == 2);
    CHECK(backend->live() == 2);
    CHECK(backend->connects_started() == 3);
}

TEST_CASE_METHOD(F, "min_size upkeep retries after a failed connect", "[sizing][min_size]")
{
    backend->push_connect(outcome::fail(refused()));
    make_pool({.min_size = 1, .max_size = 2, .backoff_initial = 100ms, .backoff_max = 1s});
    CHECK(stats().size == 0);
    CHECK(stats().connect_failures == 1);
    CHECK(stats().last_connect_error == boost::asio::error::connection_refused);
    advance_until([&] { return backend->live() == 1; }, 10ms, 2s);
    CHECK(backend->live() == 1);
    CHECK(stats().idle == 1);
}

TEST_CASE_METHOD(F, "size never exceeds max_size, counting connects in flight",
                 "[sizing][max_size]")
{
    auto& p = make_pool({.max_size = 3, .max_concurrent_connects = 8});
    backend->set_connect(outcome::pending());
    std::vector<std::unique_ptr<acquire_result>> rs;
    for (int i = 0; i < 10; ++i) {
        rs.push_back(std::make_unique<acquire_result>());
        p.async_acquire(rs.back()->handler());
        poll();
        CHECK(p.stats().size <= 3);
    }
    CHECK(backend->connects_started() == 3);
    CHECK(p.stats().pending == 3);
    CHECK(p.stats().size == 3);
    CHECK(p.stats().waiters == 10);
    while (backend->complete_next_connect()) {
        poll();
        CHECK(p.stats().size <= 3);
    }
    CHECK(backend->connects_started() == 3);
    CHECK(p.stats().in_use == 3);
    CHECK(p.stats().waiters == 7);
    for (auto& r : rs)
        if (r->called())
            r->value().release();  // hands on to the next waiters
    poll();
    CHECK(p.stats().waiters == 4);
    CHECK(backend->connects_started() == 3);
    CHECK(p.stats().size == 3);
}

TEST_CASE_METHOD(F, "an acquire beyond max_size waits instead of connecting", "[sizing][max_size]")
{
    auto& p = make_pool({.max_size = 2});
    auto a = acquire_now();
    auto b = acquire_now();
    acquire_result c;
    p.async_acquire(c.handler());
    poll();
    CHECK(!c.called());
    CHECK(backend->connects_started() == 2);
    CHECK(stats().size == 2);
    const int b_id = b->id;
    b.release();
    poll();
    REQUIRE(c.called_once());
    CHECK(c.value()->id == b_id);
}

TEST_CASE_METHOD(F, "at most max_concurrent_connects connects are in flight", "[sizing][connects]")
{
    auto& p = make_pool({.max_size = 10, .max_concurrent_connects = 2});
    backend->set_connect(outcome::pending());
    std::vector<std::unique_ptr<acquire_result>> rs;
    for (int i = 0; i < 5; ++i) {
        rs.push_back(std::make_unique<acquire_result>());
        p.async_acquire(rs.back()->handler());
    }
    poll();
    CHECK(backend->pending_connects() == 2);
    CHECK(p.stats().pending == 2);
    REQUIRE(backend->complete_next_connect());
    poll();
    CHECK(rs[0]->called_once());
    CHECK(backend->pending_connects() == 2);  // the freed connect slot is used again
    while (backend->complete_next_connect())
        poll();
    CHECK(backend->max_connects_in_flight() == 2);
    CHECK(backend->connects_started() == 5);
    for (auto& r : rs)
        CHECK(r->called_once());
}

TEST_CASE_METHOD(F, "one waiter causes one connect even when more may run at once",
                 "[sizing][connects][demand]")
{
    auto& p = make_pool({.max_size = 10, .max_concurrent_connects = 4});
    backend->set_connect(outcome::pending());
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(backend->connects_started() == 1);
    CHECK(p.stats().pending == 1);
    advance_in_steps(2s, 100ms);  // nothing else happens while it connects
    CHECK(backend->connects_started() == 1);
    backend->complete_next_connect();
    poll();
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F, "connects follow the number of waiters", "[sizing][connects][demand]")
{
    auto& p = make_pool({.max_size = 10, .max_concurrent_connects = 4});
    backend->set_connect(outcome::pending());
    std::vector<std::unique_ptr<acquire_result>> rs;
    for (int i = 0; i < 3; ++i) {
        rs.push_back(std::make_unique<acquire_result>());
        p.async_acquire(rs.back()->handler());
    }
    poll();
    CHECK(backend->connects_started() == 3);
    while (backend->complete_next_connect())
        poll();
    for (auto& r : rs)
        CHECK(r->called_once());
    CHECK(backend->connects_started() == 3);
    CHECK(p.stats().size == 3);
}

TEST_CASE_METHOD(F, "an idle connection serves an acquire without a connect", "[sizing][demand]")
{
    make_pool({.min_size = 1, .max_size = 10, .max_concurrent_connects = 4});
    REQUIRE(backend->connects_started() == 1);
    auto h = acquire_now();
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F, "a failed connect does not count toward size", "[sizing][max_size]")
{
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    backend->push_connect(outcome::fail(refused()));
    acquire_result r;
    p.async_acquire(r.handler());
    poll();
    CHECK(stats().size == 0);
    CHECK(stats().pending == 0);
    CHECK(stats().connect_failures == 1);
    advance_until([&] { return r.called(); }, 5ms, 1s);  // the retry after the backoff succeeds
    REQUIRE(r.called_once());
    CHECK(!r.ec());
    CHECK(stats().size == 1);
}
