// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// What a new user meets first (issue 8): a pool that moves like any other resource, handlers
// passed as named lambdas, and errors that read as sentences.

#include "support/pool_fixture.hpp"

#include <boost/asio/error.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

namespace {

using pool_type = connpool::pool<fake_connection, connect_only_factory, manual_clock>;

pool_type make_pool_in_function(asio::io_context& ioc, std::shared_ptr<fake_backend> backend)
{
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), std::move(backend)),
                {.min_size = 1, .max_size = 2});
    return p;  // moved out (no copy elision forced by the named return)
}

}  // namespace

TEST_CASE("a pool can be returned from a function, kept in a vector and move-assigned",
          "[usability][move]")
{
    manual_clock_guard clock_guard;
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    {
        std::vector<pool_type> pools;
        pools.push_back(make_pool_in_function(ioc, backend));
        poll_all(ioc);
        REQUIRE(pools[0].stats().idle == 1);

        checked_result<pool_type::handle_type> r;
        pools[0].async_acquire(r.handler());
        REQUIRE(run_until(ioc, [&] { return r.called(); }));
        REQUIRE(!r.ec());
        pool_type::handle_type lease = std::move(r.value());

        // Moving the pool again (a vector growing) keeps its connections, its lease and its
        // background work: the lease still returns to it.
        pools.push_back(make_pool_in_function(ioc, backend));
        pools.reserve(16);
        poll_all(ioc);
        CHECK(pools[0].stats().in_use == 1);
        lease.release();
        poll_all(ioc);
        CHECK(pools[0].stats().in_use == 0);
        CHECK(pools[0].stats().idle >= 1);

        // Move-assignment closes the pool that is replaced: its connections go away.
        const auto live_before = backend->live();
        const std::size_t replaced_idle = pools[1].stats().idle;
        REQUIRE(replaced_idle == 1);
        pools[1] = std::move(pools[0]);
        poll_all(ioc);
        CHECK(static_cast<std::size_t>(live_before - backend->live()) == replaced_idle);
        CHECK(pools[1].stats().idle >= 1);
        auto again = pools[1].try_acquire();
        CHECK(again.has_value());
    }
    poll_all(ioc);
    CHECK(backend->live() == 0);
}

TEST_CASE("async_acquire accepts a named (lvalue) handler", "[usability][tokens]")
{
    manual_clock_guard clock_guard;
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                {.max_size = 1});
    int calls = 0;
    error_code got;
    auto handler = [&](error_code ec, pool_type::handle_type h) {
        ++calls;
        got = ec;
        CHECK(static_cast<bool>(h));
    };
    p.async_acquire(handler);
    REQUIRE(run_until(ioc, [&] { return calls == 1; }));
    CHECK(!got);
    p.async_acquire(std::chrono::milliseconds(100), handler);  // the timed overload too
    REQUIRE(run_until(ioc, [&] { return calls == 2; }));
    CHECK(!got);
}

TEST_CASE_METHOD(fixture<>,
                 "a connect error reaches the caller and stats() without a source location",
                 "[usability][errors]")
{
    // Asio attaches the source location of the failing call to many error codes; what() then
    // carries a header's path and line. The pool reports the plain code.
    static constexpr boost::source_location where = BOOST_CURRENT_LOCATION;
    const error_code located(asio::error::connection_refused, &where);
    REQUIRE(located.has_location());
    backend->set_connect(outcome::fail(located));
    auto& p = make_pool({.max_size = 1, .acquire_timeout = std::chrono::milliseconds(300)});
    auto r = start_acquire();
    advance_until([&] { return r->called(); }, std::chrono::milliseconds(50),
                  std::chrono::milliseconds(1000));
    REQUIRE(r->called_once());
    CHECK(r->ec() == asio::error::connection_refused);
    CHECK(!r->ec().has_location());
    CHECK(!p.stats().last_connect_error.has_location());
    const std::string what = boost::system::system_error(r->ec(), "acquire").what();
    CHECK(what.find(".hpp") == std::string::npos);
    CHECK(what.size() < 120);
}

TEST_CASE("the timeout message tells to check the executor when no connection was opened",
          "[usability][errors]")
{
    const std::string m = make_error_code(errc::acquire_timeout).message();
    CHECK(m.find("executor running") != std::string::npos);
}
