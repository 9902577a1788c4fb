// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The factory adapters: blocking_factory (a blocking driver run on the adapter's threads) and
// make_coro_factory (C++20 coroutine lambdas) (issue item 2).

#include "support/io_runner.hpp"
#include "support/pool_fixture.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

// =================================================================================== blocking

namespace {

struct bconn {
    int id = 0;
};

enum class fail_mode { none, system_error, other_exception };

struct driver_state {
    std::atomic<int> next_id{0};
    std::atomic<int> connects{0}, pings{0}, resets{0}, health_checks{0};
    std::atomic<fail_mode> connect_failure{fail_mode::none};
    std::atomic<int> ping_fail_id{0};
    std::atomic<bool> reset_fails{false};
    std::atomic<int> unhealthy_id{0};
    std::mutex mtx;
    std::set<std::thread::id> call_threads;

    void record_thread()
    {
        std::lock_guard lk(mtx);
        call_threads.insert(std::this_thread::get_id());
    }
};

// A driver with only connect(): blocking, "sleeps" 0 and returns.
struct connect_only_driver {
    std::shared_ptr<driver_state> st;

    bconn connect()
    {
        st->record_thread();
        std::this_thread::sleep_for(std::chrono::milliseconds(0));
        ++st->connects;
        switch (st->connect_failure.load()) {
        case fail_mode::system_error:
            throw boost::system::system_error(asio::error::connection_refused, "connect");
        case fail_mode::other_exception:
            throw std::runtime_error("driver exploded");
        case fail_mode::none:
            break;
        }
        return bconn{++st->next_id};
    }
};

// A driver with every optional member.
struct full_driver : connect_only_driver {
    void ping(bconn& c)
    {
        st->record_thread();
        ++st->pings;
        if (c.id == st->ping_fail_id.load())
            throw std::runtime_error("ping failed");
    }
    void reset(bconn&)
    {
        st->record_thread();
        ++st->resets;
        if (st->reset_fails)
            throw boost::system::system_error(asio::error::connection_reset, "reset");
    }
    bool is_healthy(const bconn& c) const
    {
        ++st->health_checks;
        return c.id != st->unhealthy_id.load();
    }
};

template <class Driver>
struct blocking_setup {
    using factory_type = connpool::blocking_factory<Driver>;
    using pool_type = connpool::pool<bconn, factory_type>;

    std::shared_ptr<driver_state> st = std::make_shared<driver_state>();
    asio::io_context ioc;
    std::optional<pool_type> pool;
    std::optional<io_runner> io;

    explicit blocking_setup(connpool::pool_options o)
    {
        pool.emplace(ioc.get_executor(), factory_type(Driver{{st}}), o);
        io.emplace(ioc);
    }
    ~blocking_setup()
    {
        pool.reset();
        // A blocking call may still be running on the adapter's threads, and its completion
        // still has to reach the io_context: keep it running until the factory (whose state
        // holds the only other reference to st) is gone.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (st.use_count() > 1 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::yield();
        io.reset();
    }

    std::thread::id io_thread_id()
    {
        std::promise<std::thread::id> p;
        asio::post(ioc, [&] { p.set_value(std::this_thread::get_id()); });
        return p.get_future().get();
    }
};

}  // namespace

TEST_CASE("blocking_factory exposes the driver's connection type and optional members",
          "[adapters][blocking]")
{
    using plain = connpool::blocking_factory<connect_only_driver>;
    using full = connpool::blocking_factory<full_driver>;
    STATIC_REQUIRE(std::is_same_v<plain::connection_type, bconn>);
    STATIC_REQUIRE(connpool::connection_factory<plain, bconn>);
    STATIC_REQUIRE(!connpool::factory_has_async_ping<plain, bconn>);
    STATIC_REQUIRE(!connpool::factory_has_async_reset<plain, bconn>);
    STATIC_REQUIRE(!connpool::factory_has_is_healthy<plain, bconn>);
    STATIC_REQUIRE(connpool::factory_has_async_ping<full, bconn>);
    STATIC_REQUIRE(connpool::factory_has_async_reset<full, bconn>);
    STATIC_REQUIRE(connpool::factory_has_is_healthy<full, bconn>);
}

TEST_CASE("blocking_factory runs the driver's connect off the pool's executor",
          "[adapters][blocking]")
{
    blocking_setup<connect_only_driver> s({.max_size = 2});
    error_code ec;
    auto h = s.pool->acquire(5s, ec);
    REQUIRE(!ec);
    REQUIRE(h);
    CHECK(h->id == 1);
    CHECK(s.st->connects == 1);
    const auto io_thread = s.io_thread_id();
    std::lock_guard lk(s.st->mtx);
    CHECK(s.st->call_threads.count(io_thread) == 0);
    CHECK(s.st->call_threads.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("a driver connect that throws system_error reports its code", "[adapters][blocking]")
{
    blocking_setup<connect_only_driver> s(
        {.max_size = 1, .backoff_initial = 10ms, .backoff_max = 20ms});
    s.st->connect_failure = fail_mode::system_error;
    error_code ec;
    auto h = s.pool->acquire(300ms, ec);
    CHECK(!h);
    CHECK(ec == asio::error::connection_refused);
    CHECK(s.pool->stats().last_connect_error == asio::error::connection_refused);
    CHECK(s.pool->stats().connect_failures >= 1);
}

TEST_CASE("a driver connect that throws anything else reports factory_error",
          "[adapters][blocking]")
{
    blocking_setup<connect_only_driver> s(
        {.max_size = 1, .backoff_initial = 10ms, .backoff_max = 20ms});
    s.st->connect_failure = fail_mode::other_exception;
    error_code ec;
    auto h = s.pool->acquire(300ms, ec);
    CHECK(!h);
    CHECK(ec == errc::factory_error);
    CHECK(s.pool->stats().last_connect_error == errc::factory_error);
    // The exception's text reaches the user: in the waiter's error, in stats(), in what().
    CHECK_THAT(ec.message(), Catch::Contains("driver exploded"));
    CHECK_THAT(s.pool->stats().last_connect_error.message(), Catch::Contains("driver exploded"));
    try {
        (void)s.pool->acquire(0ms);
        FAIL("acquire(0ms) succeeded while every connect fails");
    } catch (const boost::system::system_error& e) {
        CHECK_THAT(e.what(), Catch::Contains("driver exploded"));
    }
}

TEST_CASE("the driver's ping, reset and is_healthy are used", "[adapters][blocking]")
{
    blocking_setup<full_driver> s({.max_size = 2, .validation_interval = 0ms});
    auto& p = *s.pool;
    p.acquire(5s).release();
    REQUIRE(wait_until([&] { return s.st->resets == 1; }));  // reset on return
    REQUIRE(wait_until([&] { return p.stats().idle == 1; }));
    auto h = p.acquire(5s);
    CHECK(h->id == 1);
    CHECK(s.st->pings >= 1);  // validated before it was lent
    // is_healthy false: destroyed, not lent.
    s.st->unhealthy_id = 1;
    h.release();
    auto h2 = p.acquire(5s);
    CHECK(h2->id == 2);
    CHECK(s.st->health_checks >= 1);
    CHECK(p.stats().destroyed_broken >= 1);
}

TEST_CASE("a connection whose driver ping throws is destroyed and replaced", "[adapters][blocking]")
{
    blocking_setup<full_driver> s({.max_size = 2, .validation_interval = 0ms});
    auto& p = *s.pool;
    p.acquire(5s).release();
    REQUIRE(wait_until([&] { return p.stats().idle == 1; }));
    s.st->ping_fail_id = 1;
    auto h = p.acquire(5s);
    REQUIRE(h);
    CHECK(h->id == 2);
    CHECK(p.stats().destroyed_broken == 1);
}

TEST_CASE("a connection whose driver reset throws is destroyed", "[adapters][blocking]")
{
    blocking_setup<full_driver> s({.max_size = 1});
    auto& p = *s.pool;
    s.st->reset_fails = true;
    p.acquire(5s).release();
    REQUIRE(wait_until([&] { return p.stats().destroyed_broken == 1; }));
    CHECK(p.stats().size == 0);
    s.st->reset_fails = false;
    auto h = p.acquire(5s);
    CHECK(h->id == 2);
}

// ================================================================================== coroutines

namespace {

struct cconn {
    int id = 0;
    bool dirty = false;
};

struct coro_state {
    int next_id = 0;
    int connects = 0, pings = 0, resets = 0;
    fail_mode connect_failure = fail_mode::none;
    bool ping_fails = false;
    bool connect_hangs = false;
    bool hung_connect_ended = false;
};

auto make_connect(std::shared_ptr<coro_state> st)
{
    return [st]() -> asio::awaitable<cconn> {
        ++st->connects;
        if (st->connect_hangs) {
            asio::basic_waitable_timer<manual_clock> t(co_await asio::this_coro::executor);
            t.expires_after(1h);
            try {
                co_await t.async_wait(asio::use_awaitable);
            } catch (const boost::system::system_error&) {
            }
            st->hung_connect_ended = true;
            throw boost::system::system_error(asio::error::operation_aborted);
        }
        switch (st->connect_failure) {
        case fail_mode::system_error:
            throw boost::system::system_error(asio::error::connection_refused);
        case fail_mode::other_exception:
            throw std::logic_error("coroutine exploded");
        case fail_mode::none:
            break;
        }
        co_return cconn{++st->next_id};
    };
}

auto make_ping(std::shared_ptr<coro_state> st)
{
    return [st](cconn&) -> asio::awaitable<void> {
        ++st->pings;
        if (st->ping_fails)
            throw std::runtime_error("ping failed");
        co_return;
    };
}

auto make_reset(std::shared_ptr<coro_state> st)
{
    return [st](cconn& c) -> asio::awaitable<void> {
        ++st->resets;
        c.dirty = false;
        co_return;
    };
}

template <class Factory>
struct coro_setup {
    using pool_type = connpool::pool<cconn, Factory, manual_clock>;
    using handle = typename pool_type::handle_type;
    manual_clock_guard clock;
    asio::io_context ioc;
    std::optional<pool_type> pool;

    coro_setup(Factory f, connpool::pool_options o)
    {
        pool.emplace(ioc.get_executor(), std::move(f), o);
        poll_all(ioc);
    }
    ~coro_setup()
    {
        pool.reset();
        poll_all(ioc);
    }

    std::unique_ptr<checked_result<handle>> start_acquire(std::chrono::milliseconds timeout = 30s)
    {
        auto r = std::make_unique<checked_result<handle>>();
        pool->async_acquire(timeout, r->handler());
        poll_all(ioc);
        return r;
    }
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> d)
    {
        manual_clock::advance(d);
        poll_all(ioc);
    }
};

}  // namespace

TEST_CASE("make_coro_factory without ping or reset has neither member", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    using plain = decltype(connpool::make_coro_factory(make_connect(st)));
    using full =
        decltype(connpool::make_coro_factory(make_connect(st), make_ping(st), make_reset(st)));
    STATIC_REQUIRE(connpool::connection_factory<plain, cconn>);
    STATIC_REQUIRE(!connpool::factory_has_async_ping<plain, cconn>);
    STATIC_REQUIRE(!connpool::factory_has_async_reset<plain, cconn>);
    STATIC_REQUIRE(connpool::factory_has_async_ping<full, cconn>);
    STATIC_REQUIRE(connpool::factory_has_async_reset<full, cconn>);
}

TEST_CASE("a coroutine factory's connection is lent and reused", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    coro_setup s(connpool::make_coro_factory(make_connect(st)), {.max_size = 2});
    auto r = s.start_acquire();
    REQUIRE(r->called_once());
    REQUIRE(!r->ec());
    CHECK(r->value()->id == 1);
    r->value().release();
    poll_all(s.ioc);
    auto r2 = s.start_acquire();
    REQUIRE(r2->called_once());
    CHECK(r2->value()->id == 1);
    CHECK(st->connects == 1);
}

TEST_CASE("a coroutine connect that throws system_error reports its code", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    st->connect_failure = fail_mode::system_error;
    coro_setup s(connpool::make_coro_factory(make_connect(st)),
                 {.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    auto r = s.start_acquire(100ms);
    CHECK(s.pool->stats().last_connect_error == asio::error::connection_refused);
    s.advance(101ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == asio::error::connection_refused);
}

TEST_CASE("a coroutine connect that throws anything else reports factory_error", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    st->connect_failure = fail_mode::other_exception;
    coro_setup s(connpool::make_coro_factory(make_connect(st)),
                 {.max_size = 1, .backoff_initial = 10ms, .backoff_max = 10ms});
    auto r = s.start_acquire(100ms);
    CHECK(s.pool->stats().last_connect_error == errc::factory_error);
    s.advance(101ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == errc::factory_error);
    CHECK_THAT(r->ec().message(), Catch::Contains("coroutine exploded"));
}

TEST_CASE("coroutine ping and reset lambdas are used", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    coro_setup s(connpool::make_coro_factory(make_connect(st), make_ping(st), make_reset(st)),
                 {.max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    {
        auto r = s.start_acquire();
        REQUIRE(r->called_once());
        r->value()->dirty = true;
    }
    poll_all(s.ioc);
    CHECK(st->resets == 1);
    s.advance(1s);
    auto r = s.start_acquire();
    REQUIRE(r->called_once());
    REQUIRE(!r->ec());
    CHECK(r->value()->id == 1);
    CHECK(!r->value()->dirty);
    CHECK(st->pings == 1);
}

TEST_CASE("a coroutine ping that throws destroys the connection", "[adapters][coro]")
{
    auto st = std::make_shared<coro_state>();
    coro_setup s(connpool::make_coro_factory(make_connect(st), make_ping(st)),
                 {.max_size = 2, .validation_interval = 500ms, .keepalive_interval = 0ms});
    s.start_acquire()->value().release();
    poll_all(s.ioc);
    s.advance(1s);
    st->ping_fails = true;
    auto r = s.start_acquire();
    REQUIRE(r->called_once());
    REQUIRE(!r->ec());
    CHECK(r->value()->id == 2);
    CHECK(s.pool->stats().destroyed_broken == 1);
}

TEST_CASE("connect_timeout cancels a coroutine connect", "[adapters][coro][timeout]")
{
    auto st = std::make_shared<coro_state>();
    st->connect_hangs = true;
    coro_setup s(connpool::make_coro_factory(make_connect(st)),
                 {.max_size = 1, .connect_timeout = 1s, .backoff_initial = 2s, .backoff_max = 2s});
    auto r = s.start_acquire(1500ms);
    REQUIRE(st->connects == 1);
    s.advance(1001ms);
    CHECK(st->hung_connect_ended);  // the coroutine saw the cancellation
    CHECK(s.pool->stats().connect_failures == 1);
    CHECK(s.pool->stats().last_connect_error == errc::connect_timeout);
    CHECK(s.pool->stats().size == 0);
    s.advance(500ms);
    REQUIRE(r->called_once());
    CHECK(r->ec() == errc::connect_timeout);
}
