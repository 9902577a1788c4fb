// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Blocking acquire from other threads, would_deadlock detection, and use_future
// (issue item 10). These tests need real threads: the pool uses the steady clock here, its
// io_context runs on an io_runner thread, and every wait is bounded.

#include "support/io_runner.hpp"
#include "support/pool_fixture.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

using BF = basic_fixture<connect_only_factory, std::chrono::steady_clock>;

namespace {
// The outcome of a blocking acquire made on another thread.
struct blocking_result {
    std::atomic<bool> done{false};
    error_code ec;
    int id = 0;
};
}  // namespace

TEST_CASE_METHOD(BF, "a blocking acquire from another thread gets a new connection", "[blocking]")
{
    auto& p = make_pool({.max_size = 2});
    io_runner io(ioc);
    error_code ec;
    auto h = p.acquire(5s, ec);
    REQUIRE(!ec);
    REQUIRE(h);
    CHECK(h->id == 1);
    CHECK(p.stats().in_use == 1);
    auto h2 = p.acquire(5s);  // throwing overload
    REQUIRE(h2);
    CHECK(h2->id == 2);
}

TEST_CASE_METHOD(BF, "a blocking acquire takes an idle connection", "[blocking]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    REQUIRE(p.stats().idle == 1);
    io_runner io(ioc);
    for (int i = 0; i < 100; ++i) {
        auto h = p.acquire(5s);
        REQUIRE(h);
        CHECK(h->id == 1);
    }
    CHECK(p.stats().acquired == 100);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(BF, "a blocking acquire with a zero timeout still takes an idle connection",
                 "[blocking][timeout]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 1});
    REQUIRE(p.stats().idle == 1);
    error_code ec;
    auto h = p.acquire(0ms, ec);  // no io_context thread needed for the fast path
    CHECK(!ec);
    REQUIRE(h);
    CHECK(h->id == 1);
}

TEST_CASE_METHOD(BF, "a blocking acquire beyond max_waiters fails with pool_exhausted",
                 "[blocking][exhausted]")
{
    auto& p = make_pool({.max_size = 1, .max_waiters = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    blocking_result r;
    std::thread t([&] {
        auto h = p.acquire(10s, r.ec);
        r.id = h ? h->id : -1;
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    error_code ec;
    auto h = p.acquire(10s, ec);
    CHECK(ec == errc::pool_exhausted);
    CHECK(!h);
    CHECK(p.stats().exhausted == 1);
    held.release();
    t.join();
    CHECK(!r.ec);
    CHECK(r.id == 1);
}

TEST_CASE_METHOD(BF, "a blocking acquire with a zero or short timeout fails with acquire_timeout",
                 "[blocking][timeout]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    REQUIRE(held);
    error_code ec;
    auto h = p.acquire(0ms, ec);
    CHECK(ec == errc::acquire_timeout);
    CHECK(!h);
    h = p.acquire(20ms, ec);
    CHECK(ec == errc::acquire_timeout);
    CHECK(ec == boost::system::errc::timed_out);
    CHECK(!h);
    try {
        (void)p.acquire(5ms);
        FAIL("acquire did not throw");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == errc::acquire_timeout);
    }
    CHECK(p.stats().timeouts == 3);
    CHECK(p.stats().waiters == 0);
    held.release();
    auto again = p.acquire(5s, ec);  // nothing leaked by the timeouts
    CHECK(!ec);
    CHECK(again->id == 1);
}

TEST_CASE_METHOD(
    BF, "a blocking acquire from a handler on the pool's io_context fails with would_deadlock",
    "[blocking][deadlock]")
{
    auto& p = make_pool({.max_size = 1});
    error_code ec, thrown;
    bool had_handle = true;
    bool ran = false;
    const auto started = std::chrono::steady_clock::now();
    asio::post(ioc, [&] {
        ran = true;
        auto h = p.acquire(2s, ec);
        had_handle = static_cast<bool>(h);
        try {
            (void)p.acquire(2s);
        } catch (const boost::system::system_error& e) {
            thrown = e.code();
        }
    });
    poll();  // the test thread runs the io_context now
    REQUIRE(ran);
    CHECK(ec == errc::would_deadlock);
    CHECK(thrown == errc::would_deadlock);
    CHECK(!had_handle);
    CHECK(std::chrono::steady_clock::now() - started < 2s);  // it failed at once, did not wait
    CHECK(p.stats().waiters == 0);
}

TEST_CASE_METHOD(BF, "a blocking acquire on an io_context thread fails with would_deadlock",
                 "[blocking][deadlock]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    std::promise<error_code> result;
    asio::post(ioc, [&] {
        error_code ec;
        auto h = p.acquire(2s, ec);
        result.set_value(ec);
    });
    auto f = result.get_future();
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    CHECK(f.get() == errc::would_deadlock);
}

TEST_CASE_METHOD(BF, "a blocked acquire is woken by a release from another thread",
                 "[blocking][waiters]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    blocking_result r;
    std::thread t([&] {
        auto h = p.acquire(10s, r.ec);
        r.id = h ? h->id : -1;
        r.done = true;
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    CHECK(!r.done);
    held.release();
    t.join();
    CHECK(!r.ec);
    CHECK(r.id == 1);
    CHECK(p.stats().waited >= 1);
}

TEST_CASE_METHOD(BF, "close fails a blocked acquire with pool_closed", "[blocking][close]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    blocking_result r;
    std::thread t([&] {
        auto h = p.acquire(30s, r.ec);
        r.id = h ? h->id : -1;
        r.done = true;
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    p.close();
    t.join();
    CHECK(r.ec == errc::pool_closed);
    CHECK(r.id == -1);
}

TEST_CASE_METHOD(BF, "blocked acquirers are served in arrival order", "[blocking][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    std::mutex mtx;
    std::vector<int> order;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            error_code ec;
            auto h = p.acquire(30s, ec);
            if (ec || !h) {
                ++failures;
                return;
            }
            std::lock_guard lk(mtx);
            order.push_back(i);
        });  // h is released when the thread ends: the next waiter gets it
        REQUIRE(wait_until([&] { return p.stats().waiters == static_cast<std::size_t>(i + 1); }));
    }
    held.release();
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE_METHOD(BF, "async and blocking waiters share one arrival order", "[blocking][fifo]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    auto held = p.acquire(5s);
    std::mutex mtx;
    std::vector<char> order;
    p.async_acquire([&](error_code ec, handle h) {
        std::lock_guard lk(mtx);
        order.push_back(ec ? 'x' : 'A');
        h.release();
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 1; }));
    blocking_result r;
    std::thread t([&] {
        auto h = p.acquire(30s, r.ec);
        std::lock_guard lk(mtx);
        order.push_back(h ? 'B' : 'y');
    });
    REQUIRE(wait_until([&] { return p.stats().waiters == 2; }));
    held.release();
    t.join();
    CHECK(order == std::vector<char>{'A', 'B'});
}

TEST_CASE_METHOD(BF, "a blocking acquire during failing connects reports the connect error",
                 "[blocking][last_error]")
{
    backend->set_connect(outcome::fail(refused()));
    auto& p = make_pool({.max_size = 1, .backoff_initial = 10ms, .backoff_max = 20ms});
    io_runner io(ioc);
    error_code ec;
    auto h = p.acquire(200ms, ec);
    CHECK(!h);
    CHECK(ec == boost::asio::error::connection_refused);
    CHECK(p.stats().connect_failures >= 1);
}

TEST_CASE_METHOD(BF, "use_future delivers the lease to another thread", "[blocking][tokens]")
{
    auto& p = make_pool({.max_size = 1});
    io_runner io(ioc);
    std::future<handle> f = p.async_acquire(asio::use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    handle h = f.get();
    REQUIRE(h);
    CHECK(h->id == 1);

    auto timed_out = p.async_acquire(10ms, asio::use_future);
    REQUIRE(timed_out.wait_for(10s) == std::future_status::ready);
    try {
        (void)timed_out.get();
        FAIL("no exception");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == errc::acquire_timeout);
    }

    p.close();
    auto closed = p.async_acquire(asio::use_future);
    REQUIRE(closed.wait_for(10s) == std::future_status::ready);
    try {
        (void)closed.get();
        FAIL("no exception");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == errc::pool_closed);
    }
}

TEST_CASE_METHOD(BF, "async_close with use_future completes once leases are returned",
                 "[blocking][close][tokens]")
{
    auto& p = make_pool({.min_size = 1, .max_size = 2});
    io_runner io(ioc);
    auto h = p.acquire(5s);
    auto closed = p.async_close(asio::use_future);
    CHECK(closed.wait_for(50ms) == std::future_status::timeout);  // a lease is still out
    h.release();
    REQUIRE(closed.wait_for(10s) == std::future_status::ready);
    CHECK_NOTHROW(closed.get());
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(BF, "leases may be returned from any thread", "[blocking]")
{
    auto& p = make_pool({.max_size = 4});
    io_runner io(ioc);
    std::vector<handle> hs;
    for (int i = 0; i < 4; ++i)
        hs.push_back(p.acquire(5s));
    std::vector<std::thread> threads;
    for (auto& h : hs)
        threads.emplace_back([h = std::move(h)]() mutable { h.release(); });
    for (auto& t : threads)
        t.join();
    REQUIRE(wait_until([&] { return p.stats().idle == 4; }));
    CHECK(p.stats().in_use == 0);
    CHECK(p.stats().size == 4);
}
