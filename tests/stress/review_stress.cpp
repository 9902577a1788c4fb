// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Review of the issue 7 fixes, with real threads and the real clock (run under TSan and ASan):
// the pool-wide deadline timer under mixed timeouts, the futex parker racing deadlines and
// close(), and blocking_factory calls racing the destruction of their io_context. Bounded in
// count; every wait has a generous bound against hangs; nothing asserts on speed.

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/run_until.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using pool_type = connpool::pool<fake_connection, connect_only_factory>;
using handle = pool_type::handle_type;

}  // namespace

// Async waiters with deadlines from 1 to 40 ms, queued in every order from several threads while
// two connections are held and returned at random: every acquire completes exactly once, and no
// deadline fires before it is due (the pool's one timer is re-armed by each earlier newcomer).
TEST_CASE("review: mixed async deadlines never fire early and none is lost",
          "[review][stress][timeout]")
{
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    io_runner io(ioc, 2);
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                {.min_size = 2, .max_size = 2});
    REQUIRE(wait_until([&] { return p.stats().idle == 2; }));

    constexpr int launchers = 3;
    constexpr int per_launcher = 1500;
    constexpr int total = launchers * per_launcher;
    std::atomic<int> completed{0}, timed_out{0}, served{0}, early{0}, other{0};
    std::mutex held_mtx;
    std::vector<handle> held;  // served leases, returned by the releaser thread
    std::atomic<bool> stop{false};

    std::thread releaser([&] {
        std::mt19937 rng(7);
        while (!stop.load()) {
            std::vector<handle> batch;
            {
                std::lock_guard lk(held_mtx);
                batch.swap(held);
            }
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
            batch.clear();  // returned
        }
        std::lock_guard lk(held_mtx);
        held.clear();
    });

    std::vector<std::thread> threads;
    for (int t = 0; t < launchers; ++t)
        threads.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t + 1));
            for (int i = 0; i < per_launcher; ++i) {
                const std::chrono::milliseconds timeout(1 + static_cast<int>(rng() % 40));
                const auto started = std::chrono::steady_clock::now();
                p.async_acquire(timeout, [&, timeout, started](error_code ec, handle h) {
                    const auto waited = std::chrono::steady_clock::now() - started;
                    if (ec == errc::acquire_timeout) {
                        timed_out.fetch_add(1);
                        if (waited < timeout)
                            early.fetch_add(1);
                    } else if (!ec && h) {
                        served.fetch_add(1);
                        std::lock_guard lk(held_mtx);
                        held.push_back(std::move(h));
                    } else {
                        other.fetch_add(1);
                    }
                    completed.fetch_add(1);
                });
                if (i % 64 == 0)
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
    for (auto& t : threads)
        t.join();
    const bool all_done = wait_until([&] { return completed.load() == total; }, 30s);
    stop.store(true);
    releaser.join();
    INFO("completed " << completed.load() << " of " << total << ", timed out " << timed_out.load()
                      << ", served " << served.load());
    CHECK(all_done);
    CHECK(early.load() == 0);
    CHECK(other.load() == 0);
    CHECK(timed_out.load() + served.load() == total);
    CHECK(wait_until([&] { return p.stats().waiters == 0 && p.stats().idle == 2; }));
    p.close();
}

// Blocked threads with short deadlines race the handoff of the only connection: a thread whose
// deadline passes just as it is handed the connection must take it (or the connection is lost).
// At the end the connection is idle again and nobody waits.
TEST_CASE("review: blocking acquires racing their deadlines never lose the connection",
          "[review][stress][blocking][timeout]")
{
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    io_runner io(ioc, 1);
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                {.min_size = 1, .max_size = 1});
    REQUIRE(wait_until([&] { return p.stats().idle == 1; }));

    constexpr int threads_n = 6;
    constexpr int per_thread = 3000;
    std::atomic<int> served{0}, timed_out{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                error_code ec;
                auto h = p.acquire(std::chrono::milliseconds((i + t) % 3), ec);
                if (!ec && h) {
                    served.fetch_add(1);
                    if (i % 16 == 0)
                        std::this_thread::sleep_for(std::chrono::microseconds(300));
                } else if (ec == errc::acquire_timeout) {
                    timed_out.fetch_add(1);
                } else {
                    other.fetch_add(1);
                }
            }
        });
    for (auto& t : threads)
        t.join();
    INFO("served " << served.load() << ", timed out " << timed_out.load());
    CHECK(other.load() == 0);
    CHECK(served.load() + timed_out.load() == threads_n * per_thread);
    CHECK(wait_until([&] {
        const auto s = p.stats();
        return s.waiters == 0 && s.idle == 1 && s.in_use == 0 && s.size == 1;
    }));
    auto h = p.try_acquire();
    CHECK(h.has_value());
}

// Blocked threads (with and without deadlines) while close() runs: every one returns, with the
// connection or pool_closed.
TEST_CASE("review: close() wakes every blocked thread", "[review][stress][blocking][close]")
{
    for (int round = 0; round < 20; ++round) {
        auto backend = std::make_shared<fake_backend>();
        asio::io_context ioc;
        io_runner io(ioc, 1);
        pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                    {.min_size = 1, .max_size = 1});
        REQUIRE(wait_until([&] { return p.stats().idle == 1; }));
        auto held = p.acquire(10s);
        REQUIRE(held);
        constexpr int threads_n = 6;
        std::atomic<int> returned{0}, closed{0}, served{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < threads_n; ++t)
            threads.emplace_back([&, t] {
                error_code ec;
                auto h = p.acquire(t % 2 ? std::chrono::milliseconds::max() : 60s, ec);
                if (ec == errc::pool_closed)
                    closed.fetch_add(1);
                else if (!ec && h)
                    served.fetch_add(1);
                returned.fetch_add(1);
            });
        wait_until([&] { return p.stats().waiters == threads_n; }, 5s);
        if (round % 2)
            held.release();  // handed from thread to thread until close() fails the rest
        p.close();
        const bool all = wait_until([&] { return returned.load() == threads_n; }, 20s);
        CHECK(all);
        if (!all)
            held.release();  // let a hung test finish rather than block forever
        for (auto& t : threads)
            t.join();
        CHECK(closed.load() + served.load() == threads_n);
        if (round % 2 == 0)
            CHECK(served.load() == 0);  // nothing was returned before close()
    }
}

namespace {

struct sleepy_conn {
    int id = 0;
};

// A blocking driver whose connect takes 0 to 3 ms.
struct sleepy_driver {
    std::shared_ptr<std::atomic<int>> next = std::make_shared<std::atomic<int>>(0);
    sleepy_conn connect()
    {
        const int n = next->fetch_add(1) + 1;
        std::this_thread::sleep_for(std::chrono::microseconds((n * 7919) % 3000));
        return sleepy_conn{n};
    }
    void ping(sleepy_conn&) { std::this_thread::sleep_for(std::chrono::microseconds(100)); }
};

}  // namespace

// The pool, the io_context and blocking_factory calls in flight, torn down at random points:
// no use of a destroyed io_context, no hang (the io_context's destruction waits for the calls).
TEST_CASE("review: blocking_factory calls racing the destruction of pool and io_context",
          "[review][stress][blocking][shutdown]")
{
    using bpool = connpool::pool<sleepy_conn, connpool::blocking_factory<sleepy_driver>>;
    std::mt19937 rng(11);
    for (int round = 0; round < 40; ++round) {
        sleepy_driver drv;
        connpool::blocking_factory<sleepy_driver> f(drv, 2);
        auto ioc = std::make_unique<asio::io_context>();
        auto runner = std::make_unique<io_runner>(*ioc, 1);
        auto p = std::make_unique<bpool>(ioc->get_executor(), f,
                                         connpool::pool_options{.min_size = 2, .max_size = 4});
        std::atomic<int> done{0};
        for (int i = 0; i < 4; ++i)
            p->async_acquire(1s, [&done](error_code, bpool::handle_type h) {
                done.fetch_add(1);
                h.release();
            });
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 4000));
        switch (round % 3) {
        case 0:  // pool first, then stop and destroy the io_context
            p.reset();
            runner.reset();
            ioc.reset();
            break;
        case 1:  // stop the io_context first, then the pool, then the io_context
            runner.reset();
            p.reset();
            ioc.reset();
            break;
        default:  // stop, destroy the io_context with the pool alive, then the pool
            runner.reset();
            ioc->stop();
            {
                // The pool must be gone before its executor's context: destroy it first, but
                // without running the context again.
                p.reset();
            }
            ioc.reset();
            break;
        }
        CHECK(done.load() <= 4);
    }
}
