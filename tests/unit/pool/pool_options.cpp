// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Public names, errors and option validation (issue items 1 and 13).

#include "support/pool_fixture.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
using connpool::pool_options;

// ------------------------------------------------------------------------------- public names

namespace {
struct not_a_factory {
    int async_open() { return 0; }
};
}  // namespace

TEST_CASE("the umbrella header brings in every public name", "[names]")
{
    using pool_t = connpool::pool<fake_connection, connect_only_factory>;
    STATIC_REQUIRE(std::is_same_v<pool_t::handle_type, connpool::pooled<fake_connection>>);
    STATIC_REQUIRE(
        std::is_same_v<decltype(std::declval<const pool_t&>().stats()), connpool::pool_stats>);
    STATIC_REQUIRE(std::is_convertible_v<decltype(std::declval<const pool_t&>().get_executor()),
                                         boost::asio::any_io_executor>);
    STATIC_REQUIRE(std::is_same_v<decltype(std::declval<pool_t&>().try_acquire()),
                                  std::optional<pool_t::handle_type>>);
    STATIC_REQUIRE(noexcept(std::declval<pool_t&>().try_acquire()));
    STATIC_REQUIRE(noexcept(std::declval<const pool_t&>().stats()));
    STATIC_REQUIRE(
        std::is_same_v<decltype(connpool::make_error_code(errc::pool_closed)), error_code>);
    STATIC_REQUIRE(
        std::is_same_v<decltype(connpool::pool_category()), const boost::system::error_category&>);
}

TEST_CASE("the factory concept accepts a factory with async_connect and rejects others", "[names]")
{
    STATIC_REQUIRE(connpool::connection_factory<connect_only_factory, fake_connection>);
    STATIC_REQUIRE(connpool::connection_factory<full_factory, fake_connection>);
    STATIC_REQUIRE(!connpool::connection_factory<not_a_factory, fake_connection>);
    STATIC_REQUIRE(!connpool::connection_factory<int, fake_connection>);
}

TEST_CASE("a lease is move-only and a default-constructed one is empty", "[names]")
{
    using lease = connpool::pooled<fake_connection>;
    STATIC_REQUIRE(!std::is_copy_constructible_v<lease>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<lease>);
    STATIC_REQUIRE(std::is_nothrow_move_constructible_v<lease>);
    STATIC_REQUIRE(std::is_nothrow_move_assignable_v<lease>);
    STATIC_REQUIRE(noexcept(std::declval<lease&>().release()));
    STATIC_REQUIRE(noexcept(std::declval<lease&>().invalidate()));
    STATIC_REQUIRE(!std::is_convertible_v<lease, bool>);  // explicit operator bool
    lease empty;
    CHECK(!empty);
    empty.release();  // no effect on an empty lease
    empty.invalidate();
    CHECK(!empty);
}

// ------------------------------------------------------------------------------------ options

TEST_CASE("pool_options is an aggregate that takes designated initialisers", "[options]")
{
    STATIC_REQUIRE(std::is_aggregate_v<pool_options>);
    const pool_options o{.min_size = 2, .max_size = 8, .acquire_timeout = 250ms};
    CHECK(o.min_size == 2);
    CHECK(o.max_size == 8);
    CHECK(o.acquire_timeout == 250ms);
    CHECK(o.max_waiters == SIZE_MAX);  // untouched fields keep their defaults
}

TEST_CASE("pool_options has the documented defaults", "[options]")
{
    const pool_options o;
    CHECK(o.min_size == 0);
    CHECK(o.max_size == 16);
    CHECK(o.max_waiters == SIZE_MAX);
    CHECK(o.acquire_timeout == 30s);
    CHECK(o.connect_timeout == 10s);
    CHECK(o.idle_timeout == 600s);
    CHECK(o.max_lifetime == 1800s);
    CHECK(o.lifetime_jitter == Approx(0.10));
    CHECK(o.validation_interval == 500ms);
    CHECK(o.backoff_max == 2s);
    CHECK(o.max_concurrent_connects >= 1);
}

// ------------------------------------------------------------------------------------- errors

TEST_CASE("pool errors live in the category named connpool", "[errors]")
{
    CHECK(std::string(connpool::pool_category().name()) == "connpool");
    const error_code ec = errc::pool_closed;  // is_error_code_enum: implicit conversion
    CHECK(&ec.category() == &connpool::pool_category());
    CHECK(ec.value() == 1);
    CHECK(ec == errc::pool_closed);
    CHECK(connpool::make_error_code(errc::acquire_timeout).category() == connpool::pool_category());
}

TEST_CASE("every pool error has a distinct, non-empty message", "[errors]")
{
    const errc all[] = {errc::pool_closed,     errc::acquire_timeout, errc::pool_exhausted,
                        errc::connect_timeout, errc::would_deadlock,  errc::factory_error};
    std::set<std::string> seen;
    for (errc e : all) {
        const error_code ec = e;
        INFO("errc value " << static_cast<int>(e));
        CHECK(!ec.message().empty());
        CHECK(ec.message() != "Unknown error");
        CHECK(seen.insert(ec.message()).second);
        CHECK(static_cast<bool>(ec));  // every enumerator is an error, none is 0
    }
}

TEST_CASE("acquire_timeout and connect_timeout compare equal to timed_out", "[errors]")
{
    const error_code acquire = errc::acquire_timeout;
    const error_code connect = errc::connect_timeout;
    CHECK(acquire == boost::system::errc::timed_out);
    CHECK(connect == boost::system::errc::timed_out);
    CHECK(acquire == std::errc::timed_out);
    CHECK(connect == std::errc::timed_out);
    CHECK(std::error_code(acquire) == std::errc::timed_out);
    CHECK(std::error_code(connect) == std::errc::timed_out);
    // Distinct codes nonetheless, and the other errors are not timeouts.
    CHECK(acquire != connect);
    CHECK(error_code(errc::pool_closed) != boost::system::errc::timed_out);
    CHECK(error_code(errc::pool_exhausted) != boost::system::errc::timed_out);
    CHECK(error_code(errc::would_deadlock) != boost::system::errc::timed_out);
}

// ---------------------------------------------------------------------------- bad options

namespace {

/// Constructs a pool with `o`; REQUIREs std::invalid_argument whose what() contains `field`.
void require_rejected(const pool_options& o, const std::string& field)
{
    INFO("expected a complaint about " << field);
    auto backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    bool threw = false;
    try {
        connpool::pool<fake_connection, connect_only_factory, manual_clock> p(
            ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend), o);
    } catch (const std::invalid_argument& e) {
        threw = true;
        INFO("what(): " << e.what());
        CHECK(std::string(e.what()).find(field) != std::string::npos);
    }
    CHECK(threw);
    poll_all(ioc);
    CHECK(backend->connects_started() == 0);  // a rejected pool opens nothing
    CHECK(backend->live() == 0);
}

void require_accepted(const pool_options& o)
{
    auto backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    CHECK_NOTHROW(connpool::pool<fake_connection, connect_only_factory, manual_clock>(
        ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend), o));
    poll_all(ioc);
}

}  // namespace

TEST_CASE("bad options throw invalid_argument naming the field", "[options]")
{
    manual_clock_guard clock;
    SECTION("max_size == 0")
    {
        require_rejected({.max_size = 0}, "max_size");
    }
    SECTION("min_size > max_size")
    {
        require_rejected({.min_size = 5, .max_size = 4}, "min_size");
    }
    SECTION("max_size of 2^32 - 1")
    {
        require_rejected({.max_size = std::numeric_limits<std::uint32_t>::max()}, "max_size");
    }
    SECTION("max_concurrent_connects == 0")
    {
        require_rejected({.max_concurrent_connects = 0}, "max_concurrent_connects");
    }
    SECTION("negative acquire_timeout")
    {
        require_rejected({.acquire_timeout = -1ms}, "acquire_timeout");
    }
    SECTION("negative connect_timeout")
    {
        require_rejected({.connect_timeout = -1ms}, "connect_timeout");
    }
    SECTION("connect_timeout of 0")
    {
        require_rejected({.connect_timeout = 0ms}, "connect_timeout");
    }
    SECTION("negative idle_timeout")
    {
        require_rejected({.idle_timeout = -1ms}, "idle_timeout");
    }
    SECTION("negative max_lifetime")
    {
        require_rejected({.max_lifetime = -1ms}, "max_lifetime");
    }
    SECTION("negative validation_interval")
    {
        require_rejected({.validation_interval = -1ms}, "validation_interval");
    }
    SECTION("negative keepalive_interval")
    {
        require_rejected({.keepalive_interval = -1ms}, "keepalive_interval");
    }
    SECTION("negative backoff_initial")
    {
        require_rejected({.backoff_initial = -1ms}, "backoff_initial");
    }
    SECTION("negative backoff_max")
    {
        require_rejected({.backoff_initial = 0ms, .backoff_max = -1ms}, "backoff_max");
    }
    SECTION("negative leak_threshold")
    {
        require_rejected({.leak_threshold = -1ms}, "leak_threshold");
    }
    SECTION("lifetime_jitter below 0")
    {
        require_rejected({.lifetime_jitter = -0.01}, "lifetime_jitter");
    }
    SECTION("lifetime_jitter of 1")
    {
        require_rejected({.lifetime_jitter = 1.0}, "lifetime_jitter");
    }
    SECTION("lifetime_jitter NaN")
    {
        require_rejected({.lifetime_jitter = std::numeric_limits<double>::quiet_NaN()},
                         "lifetime_jitter");
    }
    SECTION("backoff_initial > backoff_max")
    {
        require_rejected({.backoff_initial = 3s, .backoff_max = 2s}, "backoff");
    }
}

TEST_CASE("boundary options are accepted", "[options]")
{
    manual_clock_guard clock;
    require_accepted({.min_size = 4, .max_size = 4});
    require_accepted({.max_size = 1});
    require_accepted({.max_waiters = 0});
    require_accepted({.acquire_timeout = 0ms});
    require_accepted({.idle_timeout = 0ms,
                      .max_lifetime = 0ms,
                      .lifetime_jitter = 0.0,
                      .validation_interval = 0ms,
                      .keepalive_interval = 0ms});
    require_accepted({.lifetime_jitter = 0.99});
    require_accepted({.max_concurrent_connects = 1});
    require_accepted({.backoff_initial = 0ms, .backoff_max = 0ms});
    require_accepted({.backoff_initial = 2s, .backoff_max = 2s});
}

TEST_CASE_METHOD(fixture<>, "get_executor returns the executor the pool was created with",
                 "[names]")
{
    auto& p = make_pool();
    CHECK(p.get_executor() == boost::asio::any_io_executor(ioc.get_executor()));
}
