// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The test kit's invariant checker (<connpool/testing/invariants.hpp>): it passes the stats of a
// sound pool, catches each violated invariant (fed bad stats), and names it with its values.

#include <connpool/testing.hpp>

#include "support/checked_handler.hpp"
#include "support/pool_fixture.hpp"
#include "support/run_until.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace connpool::testing;
using connpool::pool_stats;

namespace {

// A quiescent pool of max_size 4: 2 idle, 1 lent, 1 connecting; 5 created, 2 destroyed.
pool_stats sound_stats()
{
    pool_stats s;
    s.size = 4;
    s.idle = 2;
    s.in_use = 1;
    s.pending = 1;
    s.created = 5;
    s.destroyed_idle = 1;
    s.destroyed_broken = 1;
    return s;
}

bool message_has(const invariant_report& r, const std::string& text)
{
    return r.message().find(text) != std::string::npos;
}

// A backend with `n` live connections (kept in `keep`) out of `n + destroyed` successful connects.
struct backend_with {
    std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    std::vector<fake_connection> keep;

    backend_with(int n, int destroyed)
    {
        connect_only_factory f(ioc.get_executor(), backend);
        for (int i = 0; i < n + destroyed; ++i)
            f.async_connect([this](error_code ec, fake_connection c) {
                if (!ec)
                    keep.push_back(std::move(c));
            });
        connpool::test::poll_all(ioc);
        keep.resize(static_cast<std::size_t>(n));
    }
};

}  // namespace

TEST_CASE("the checker passes sound stats", "[testing][invariants]")
{
    const auto r = check_invariants(sound_stats(), 4);
    CHECK(r.ok());
    CHECK(static_cast<bool>(r));
    CHECK(r.violations().empty());
    CHECK(r.message() == "pool invariants hold");
    CHECK_NOTHROW(require_invariants(r));

    backend_with b(3, 2);  // idle 2 + in_use 1 = 3 live; 5 created, 2 destroyed
    const auto with_backend = check_invariants(sound_stats(), 4, *b.backend);
    INFO(with_backend.message());
    CHECK(with_backend.ok());
}

TEST_CASE("the checker names a size that is not the sum of the states", "[testing][invariants]")
{
    auto s = sound_stats();
    s.size = 5;
    const auto r = check_invariants(s, 8);
    CHECK(!r.ok());
    REQUIRE(r.violations().size() == 1);
    CHECK(r.violates("size == idle + in_use + pending + maintenance"));
    CHECK(message_has(r, "size 5"));
    CHECK(message_has(r, "the sum is 4"));
}

TEST_CASE("the checker names a size above max_size", "[testing][invariants]")
{
    const auto r = check_invariants(sound_stats(), 3);
    REQUIRE(r.violations().size() == 1);
    CHECK(r.violates("size <= max_size"));
    CHECK(message_has(r, "size 4, max_size 3"));
}

TEST_CASE("the checker names a waiter beside an idle connection", "[testing][invariants]")
{
    auto s = sound_stats();
    s.waiters = 2;
    const auto r = check_invariants(s, 4);
    REQUIRE(r.violations().size() == 1);
    CHECK(r.violates("waiters == 0 || idle == 0"));
    CHECK(message_has(r, "waiters 2, idle 2"));

    s.idle = 0;  // waiters with nothing idle: fine
    s.size = 2;
    CHECK(check_invariants(s, 4).ok());
}

TEST_CASE("the checker names more destructions than connections", "[testing][invariants]")
{
    auto s = sound_stats();
    s.destroyed_closed = 4;  // 6 destroyed, 5 created
    const auto r = check_invariants(s, 4);
    REQUIRE(r.violations().size() == 1);
    CHECK(r.violates("destroyed <= created"));
    CHECK(message_has(r, "destroyed (all causes) 6, created 5"));
}

TEST_CASE("the checker names a leaked fake connection", "[testing][invariants]")
{
    backend_with b(4, 1);  // one live connection more than the pool counts
    const auto r = check_invariants(sound_stats(), 4, *b.backend);
    CHECK(r.violates("live == idle + in_use + maintenance"));
    CHECK(message_has(r, "live fake connections 4"));
    CHECK(message_has(r, "leak"));
    CHECK(r.violates("created - destroyed == live"));
    CHECK(!r.violates("created == connects_succeeded"));
}

TEST_CASE("the checker names connections the pool counts that no longer exist",
          "[testing][invariants]")
{
    backend_with b(2, 3);
    const auto r = check_invariants(sound_stats(), 4, *b.backend);
    CHECK(r.violates("live == idle + in_use + maintenance"));
    CHECK(message_has(r, "no longer exist"));
}

TEST_CASE("the checker names created connects the backend never made", "[testing][invariants]")
{
    backend_with b(3, 1);  // 4 connects succeeded, the pool says 5
    const auto r = check_invariants(sound_stats(), 4, *b.backend);
    CHECK(r.violates("created == connects_succeeded"));
    CHECK(message_has(r, "created 5, connects_succeeded 4"));
}

TEST_CASE("require_invariants throws a logic_error naming every violation", "[testing][invariants]")
{
    auto s = sound_stats();
    s.size = 9;
    s.waiters = 1;
    try {
        require_invariants(check_invariants(s, 4));
        FAIL("no exception");
    } catch (const std::logic_error& e) {
        const std::string what = e.what();
        CHECK(what.find("violated: size == idle + in_use + pending + maintenance") !=
              std::string::npos);
        CHECK(what.find("violated: size <= max_size") != std::string::npos);
        CHECK(what.find("violated: waiters == 0 || idle == 0") != std::string::npos);
    }
}

TEST_CASE_METHOD(connpool::test::fixture<>, "the checker passes a real pool at rest and under use",
                 "[testing][invariants][pool]")
{
    make_pool({.min_size = 1, .max_size = 3});
    CHECK(check_invariants(pool(), *backend).ok());
    auto a = acquire_now();
    auto b = acquire_now();
    auto c = acquire_now();
    auto waiting = start_acquire();  // at max_size: a waiter, nothing idle
    CHECK(!waiting->called());
    CHECK(stats().waiters == 1);
    {
        const auto r = check_invariants(pool(), *backend);
        INFO(r.message());
        CHECK(r.ok());
    }
    CHECK_NOTHROW(require_invariants(pool(), *backend));
    CHECK_NOTHROW(require_invariants(pool()));
}
