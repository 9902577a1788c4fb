// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress: no lost wake-ups (more threads than connections, long timeouts: nobody may time out)
// and strict FIFO under concurrency (arrival order made observable, newcomers racing the
// handoffs). Real threads, steady clock, bounded iteration counts (TSan on two cores).

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

// A lost wake-up shows up as a waiter that sleeps although a connection is idle: with timeouts
// far longer than the test, every acquire must succeed.
TEMPLATE_TEST_CASE("no lost wake-ups: more threads than connections, every acquire is served",
                   "[stress][wakeup]", connect_only_factory, reset_factory)
{
    using pool_type = connpool::pool<fake_connection, TestType>;
    using handle = typename pool_type::handle_type;
    constexpr std::size_t connections = 2;
    constexpr int threads = 8;
    const int iterations = 2000 * stress_scale();

    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    std::optional<pool_type> pool_storage;
    pool_storage.emplace(ioc.get_executor(), TestType(ioc.get_executor(), backend),
                         connpool::pool_options{.min_size = connections,
                                                .max_size = connections,
                                                .max_concurrent_connects = connections});
    pool_type& p = *pool_storage;
    io_runner io(ioc, 1);
    REQUIRE(wait_until([&] { return p.stats().idle == connections; }));

    std::atomic<long> ok{0}, failed{0}, async_ok{0}, async_failed{0};
    std::mutex err_mtx;
    std::string first_error;
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(w));
            for (int i = 0; i < iterations; ++i) {
                error_code ec;
                handle h = p.acquire(20s, ec);
                if (ec || !h) {
                    ++failed;
                    std::lock_guard lk(err_mtx);
                    if (first_error.empty())
                        first_error = ec.message();
                    continue;
                }
                backend->mark_lent(h->id);
                h->uses++;
                if (rng() % 8 == 0)
                    std::this_thread::yield();
                backend->mark_returned(h->id);
                h.release();
                ++ok;
            }
        });
    }
    // Two async chains compete too: each completion releases and starts the next acquire.
    struct chain {
        pool_type* pool;
        fake_backend* backend;
        std::atomic<long>* ok;
        std::atomic<long>* failed;
        std::atomic<int>* remaining;
        void start()
        {
            pool->async_acquire(20s, [self = *this](error_code ec, handle h) mutable {
                if (ec || !h)
                    ++*self.failed;
                else {
                    self.backend->mark_lent(h->id);
                    h->uses++;
                    self.backend->mark_returned(h->id);
                    h.release();
                    ++*self.ok;
                }
                if (self.remaining->fetch_sub(1) > 1)
                    self.start();
            });
        }
    };
    std::atomic<int> remaining_a{iterations}, remaining_b{iterations};
    chain{&p, backend.get(), &async_ok, &async_failed, &remaining_a}.start();
    chain{&p, backend.get(), &async_ok, &async_failed, &remaining_b}.start();

    for (auto& t : workers)
        t.join();
    REQUIRE(wait_until([&] { return remaining_a.load() == 0 && remaining_b.load() == 0; }, 60s));

    INFO("first error: " << first_error);
    CHECK(failed == 0);
    CHECK(async_failed == 0);
    CHECK(ok == static_cast<long>(threads) * iterations);
    CHECK(async_ok == 2L * iterations);
    CHECK(backend->double_lends() == 0);
    CHECK(p.stats().timeouts == 0);
    CHECK(p.stats().size == connections);
    CHECK(backend->connects_started() == static_cast<long>(connections));

    checked_ec closed{must_complete};
    p.async_close(closed.handler());
    REQUIRE(wait_until([&] { return closed.called(); }, 30s));
    CHECK(backend->live() == 0);
    io.stop();
    pool_storage.reset();
    poll_all(ioc);
}

// Waiters arrive one at a time (each is seen waiting before the next starts), so arrival order is
// known. The connection then travels down the line while a newcomer keeps trying to snatch it
// with try_acquire and async_acquire: the waiters must be served in exactly their arrival order,
// and the newcomer only after all of them.
TEST_CASE("waiters are served in arrival order while newcomers race the handoffs", "[stress][fifo]")
{
    using pool_type = connpool::pool<fake_connection, connect_only_factory>;
    using handle = pool_type::handle_type;
    constexpr int waiters = 6;
    const int rounds = 50 * stress_scale();

    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    std::optional<pool_type> pool_storage;
    pool_storage.emplace(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                         connpool::pool_options{.min_size = 1, .max_size = 1});
    pool_type& p = *pool_storage;
    io_runner io(ioc, 2);
    REQUIRE(wait_until([&] { return p.stats().idle == 1; }));

    for (int round = 0; round < rounds; ++round) {
        INFO("round " << round);
        error_code ec;
        handle held = p.acquire(10s, ec);
        REQUIRE(!ec);

        std::mutex mtx;
        std::vector<int> order;  // waiter index, or -1 for the newcomer
        std::atomic<int> served{0};
        std::vector<std::thread> threads;
        std::atomic<int> async_calls{0}, async_errors{0};
        for (int i = 0; i < waiters; ++i) {
            if (i % 3 == 2) {
                // Every third waiter is asynchronous; it releases at once, like the threads.
                p.async_acquire(10s, [&, i](error_code aec, handle h) {
                    if (aec || !h)
                        ++async_errors;
                    else {
                        std::lock_guard lk(mtx);
                        order.push_back(i);
                        ++served;
                    }
                    h.release();    // hand it on before signalling completion
                    ++async_calls;  // last: the round's locals may go away after this
                });
            } else {
                threads.emplace_back([&, i] {
                    error_code wec;
                    handle h = p.acquire(10s, wec);
                    if (!wec) {
                        std::lock_guard lk(mtx);
                        order.push_back(i);
                        ++served;
                    }
                    // h goes out of scope: handed to the next waiter
                });
            }
            REQUIRE(
                wait_until([&] { return p.stats().waiters == static_cast<std::size_t>(i + 1); }));
        }
        // The newcomer hammers try_acquire and zero-timeout async_acquire until every waiter has
        // been served; neither may get the connection before the last waiter had it.
        std::atomic<bool> stop_newcomer{false};
        std::atomic<long> newcomer_wins{0}, newcomer_issued{0}, newcomer_done{0};
        std::thread newcomer([&] {
            for (unsigned n = 0; !stop_newcomer.load(); ++n) {
                if (n % 2 == 0) {
                    if (auto h = p.try_acquire()) {
                        std::lock_guard lk(mtx);
                        if (served.load() < waiters)
                            order.push_back(-1);
                        ++newcomer_wins;
                    }
                } else if (newcomer_issued.load() - newcomer_done.load() < 4) {
                    ++newcomer_issued;
                    p.async_acquire(0ms, [&](error_code, handle h) {
                        if (h) {
                            std::lock_guard lk(mtx);
                            if (served.load() < waiters)
                                order.push_back(-2);
                            ++newcomer_wins;
                        }
                        h.release();
                        ++newcomer_done;  // last
                    });
                }
                std::this_thread::yield();
            }
        });
        held.release();
        for (auto& t : threads)
            t.join();
        const int async_expected = waiters / 3;
        REQUIRE(wait_until([&] { return async_calls.load() == async_expected; }, 20s));
        stop_newcomer = true;
        newcomer.join();
        REQUIRE(wait_until([&] { return newcomer_done.load() == newcomer_issued.load(); }, 20s));
        REQUIRE(served.load() == waiters);
        std::vector<int> expected;
        for (int i = 0; i < waiters; ++i)
            expected.push_back(i);
        CHECK(order == expected);
        CHECK(async_errors == 0);
        REQUIRE(wait_until([&] { return p.stats().idle == 1; }));
    }
    CHECK(backend->connects_started() == 1);
    CHECK(backend->double_lends() == 0);

    checked_ec closed{must_complete};
    p.async_close(closed.handler());
    REQUIRE(wait_until([&] { return closed.called(); }, 30s));
    io.stop();
    pool_storage.reset();
    poll_all(ioc);
}
