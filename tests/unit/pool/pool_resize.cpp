// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// pool::resize(min, max) while the pool runs (issue 10, item 4): growth serves waiters at once and
// may go beyond the initial max_size; shrinking closes idle surplus at once (least recently used
// first) and lent surplus when it comes back; bad sizes are refused with a message.

#include "support/pool_fixture.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;

using F = fixture<>;

TEST_CASE_METHOD(F, "growing max_size serves the waiters at once", "[resize]")
{
    auto& p = make_pool({.max_size = 1});
    auto first = acquire_now();
    auto a = start_acquire();
    auto b = start_acquire();
    CHECK(stats().waiters == 2);
    CHECK(backend->connects_started() == 1);

    p.resize(0, 3);
    poll();
    CHECK(backend->connects_started() == 3);
    REQUIRE(a->called());
    REQUIRE(b->called());
    CHECK(!a->ec());
    CHECK(!b->ec());
    CHECK(stats().max_size == 3);
    CHECK(stats().size == 3);
    CHECK(p.options().max_size == 1);  // options() keeps what the pool was created with
}

TEST_CASE_METHOD(F, "max_size may grow far beyond its initial value", "[resize]")
{
    auto& p = make_pool({.max_size = 2});
    p.resize(0, 300);  // several times the initial slot storage
    std::vector<handle> held;
    for (int i = 0; i < 300; ++i)
        held.push_back(acquire_now());
    CHECK(stats().size == 300);
    CHECK(stats().in_use == 300);
    // One more waits: the new max holds.
    auto extra = start_acquire();
    CHECK(!extra->called());
    CHECK(stats().size == 300);
    held.pop_back();
    poll();
    REQUIRE(extra->called());
    CHECK(!extra->ec());
    held.clear();
    extra.reset();
    poll();
    CHECK(stats().idle == 300);
}

TEST_CASE_METHOD(F, "growing min_size opens connections up to it", "[resize][min_size]")
{
    auto& p = make_pool({.min_size = 0, .max_size = 2});
    CHECK(stats().size == 0);
    p.resize(4, 6);
    poll();
    CHECK(stats().size == 4);
    CHECK(stats().idle == 4);
    CHECK(stats().min_size == 4);
}

TEST_CASE_METHOD(F, "shrinking closes idle surplus at once, least recently used first", "[resize]")
{
    auto& p = make_pool({.max_size = 4});
    std::vector<handle> held;
    for (int i = 0; i < 4; ++i)
        held.push_back(acquire_now());
    std::vector<int> order;  // ids in the order of their return
    for (auto& h : held) {
        order.push_back(h->id);
        advance(10ms);
        h.release();
    }
    poll();
    REQUIRE(stats().idle == 4);

    p.resize(0, 2);
    poll();
    CHECK(stats().size == 2);
    CHECK(stats().idle == 2);
    CHECK(stats().destroyed_surplus == 2);
    CHECK(backend->live() == 2);
    // The two returned last are kept.
    auto x = acquire_now();
    auto y = acquire_now();
    std::vector<int> kept{x->id, y->id};
    std::sort(kept.begin(), kept.end());
    std::vector<int> expected{order[2], order[3]};
    std::sort(expected.begin(), expected.end());
    CHECK(kept == expected);
}

TEST_CASE_METHOD(F,
                 "shrinking closes lent surplus when it comes back, and no connect starts "
                 "above the new max",
                 "[resize]")
{
    auto& p = make_pool({.max_size = 3});
    auto a = acquire_now();
    auto b = acquire_now();
    auto c = acquire_now();
    p.resize(0, 1);
    poll();
    CHECK(stats().size == 3);  // all lent: nothing to close yet
    auto waiting = start_acquire();
    CHECK(!waiting->called());
    CHECK(backend->connects_started() == 3);

    a.release();
    poll();
    CHECK(stats().destroyed_surplus == 1);
    CHECK(!waiting->called());  // still above the new max: closed, not handed over
    b.release();
    poll();
    CHECK(stats().destroyed_surplus == 2);
    CHECK(stats().size == 1);
    CHECK(!waiting->called());
    c.release();  // at the max now: this one goes to the waiter
    poll();
    REQUIRE(waiting->called());
    CHECK(!waiting->ec());
    CHECK(stats().destroyed_surplus == 2);
    CHECK(backend->connects_started() == 3);
    waiting.reset();
    poll();
    CHECK(stats().size == 1);
    CHECK(stats().idle == 1);
}

TEST_CASE_METHOD(F, "after shrinking, returns are kept again once the pool is under its max",
                 "[resize]")
{
    auto& p = make_pool({.max_size = 2});
    auto a = acquire_now();
    auto b = acquire_now();
    p.resize(0, 1);
    a.release();
    b.release();
    poll();
    CHECK(stats().size == 1);
    p.resize(0, 2);
    auto c = acquire_now();
    auto d = acquire_now();
    c.release();
    d.release();
    poll();
    CHECK(stats().size == 2);
    CHECK(stats().idle == 2);
    CHECK(stats().destroyed_surplus == 1);
}

TEST_CASE_METHOD(F, "resize refuses bad sizes with the field named", "[resize][options]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 2});
    auto message_of = [&](std::size_t min_size, std::size_t max_size) {
        try {
            p.resize(min_size, max_size);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    CHECK(message_of(0, 0).find("max_size") != std::string::npos);
    CHECK(message_of(3, 2).find("min_size") != std::string::npos);
    // A refused resize changes nothing.
    CHECK(stats().min_size == 1);
    CHECK(stats().max_size == 2);
}

TEST_CASE_METHOD(F, "a shrunk pool's sizes are reported by stats()", "[resize]")
{
    auto& p = make_pool({.min_size = 2, .max_size = 8});
    p.resize(1, 3);
    poll();
    const auto s = stats();
    CHECK(s.min_size == 1);
    CHECK(s.max_size == 3);
    CHECK(s.size == 2);  // min_size lowered: the extra connection ages out by idle_timeout
}
