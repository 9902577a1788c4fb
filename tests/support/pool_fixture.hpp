// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_POOL_FIXTURE_HPP
#define CONNPOOL_TESTS_SUPPORT_POOL_FIXTURE_HPP

/// \file pool_fixture.hpp
/// The common setup of the pool's unit tests: a fake backend, one io_context polled by the test
/// thread, the manual clock (all three from the public test kit, <connpool/testing.hpp>), and a
/// pool created with options chosen by the test.
///
///     TEST_CASE_METHOD(fixture<>, "...", "[tag]") {
///         auto& p = make_pool({.max_size = 2});
///         auto h = acquire_now();          // polls until the acquire completed, REQUIREs success
///         ...
///     }
///
/// Destruction order: the test's locals (leases, checked handlers) go first and return their
/// connections to a live pool; then the fixture destroys the pool, runs what is left, drops the
/// handlers of operations the backend still holds, and only then the io_context and the backend.

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include "support/checked_handler.hpp"
#include "support/run_until.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace connpool::test {

using namespace std::chrono_literals;
using testing::connect_only_factory;
using testing::fake_backend;
using testing::fake_connection;
using testing::manual_clock;
using testing::manual_clock_guard;

template <class Factory = connect_only_factory, class Clock = manual_clock>
struct basic_fixture {
    using factory_type = Factory;
    using pool_type = connpool::pool<fake_connection, Factory, Clock>;
    using handle = typename pool_type::handle_type;
    using acquire_result = checked_result<handle>;

    manual_clock_guard clock_guard;
    std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    std::unique_ptr<pool_type> pool_ptr;

    basic_fixture() = default;
    basic_fixture(const basic_fixture&) = delete;
    basic_fixture& operator=(const basic_fixture&) = delete;

    ~basic_fixture()
    {
        destroy_pool();
        backend->drop_pending();
        poll_all(ioc);
    }

    Factory make_factory() { return Factory(ioc.get_executor(), backend); }

    /// Creates the pool (once per test) and polls, so that pre-warming has happened.
    pool_type& make_pool(pool_options opts = {},
                         std::shared_ptr<pool_observer<fake_connection>> observer = nullptr)
    {
        REQUIRE(!pool_ptr);
        pool_ptr = std::make_unique<pool_type>(ioc.get_executor(), make_factory(), opts,
                                               std::move(observer));
        poll();
        return *pool_ptr;
    }

    pool_type& pool() { return *pool_ptr; }

    void destroy_pool()
    {
        if (pool_ptr) {
            poll();
            check_accounting();
            pool_ptr.reset();
            poll();
        }
    }

    /// Every test ends with these checks (while the pool is still open and quiescent): the test
    /// kit's invariants (every successful connect is counted in `created`, every destruction in
    /// exactly one destroyed_* counter, the difference is the number of connections that exist,
    /// each of them in one state, no waiter beside an idle connection, size <= max_size).
    void check_accounting()
    {
        const auto report = testing::check_invariants(pool(), *backend);
        INFO("accounting at the end of the test: " << report.message());
        CHECK(report.ok());
    }

    std::size_t poll() { return poll_all(ioc); }

    /// Advances the manual clock and runs everything that became due.
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> d)
    {
        testing::advance(ioc, d);
    }

    /// Advances the clock in steps of `step` (polling after each) until pred() holds or `limit`
    /// has passed. Returns the time advanced.
    template <class Pred>
    std::chrono::milliseconds advance_until(Pred pred, std::chrono::milliseconds step,
                                            std::chrono::milliseconds limit)
    {
        std::chrono::milliseconds elapsed{0};
        while (!pred() && elapsed < limit) {
            advance(step);
            elapsed += step;
        }
        return elapsed;
    }

    /// Advances the clock by `total` in steps of `step`, polling after each step.
    void advance_in_steps(std::chrono::milliseconds total, std::chrono::milliseconds step)
    {
        for (std::chrono::milliseconds t{0}; t < total; t += step)
            advance(step);
    }

    /// async_acquire with the default timeout, polled to completion; REQUIREs success.
    handle acquire_now()
    {
        acquire_result r;
        pool().async_acquire(r.handler());
        REQUIRE(run_until(ioc, [&] { return r.called(); }));
        REQUIRE(r.called_once());
        REQUIRE(!r.ec());
        REQUIRE(static_cast<bool>(r.value()));
        return std::move(r.value());
    }

    /// Starts an async_acquire and polls; the result tells whether and how it completed.
    std::unique_ptr<acquire_result> start_acquire()
    {
        auto r = std::make_unique<acquire_result>();
        pool().async_acquire(r->handler());
        poll();
        return r;
    }
    std::unique_ptr<acquire_result> start_acquire(std::chrono::milliseconds timeout)
    {
        auto r = std::make_unique<acquire_result>();
        pool().async_acquire(timeout, r->handler());
        poll();
        return r;
    }

    pool_stats stats() { return pool().stats(); }
};

template <class Factory = connect_only_factory>
using fixture = basic_fixture<Factory, manual_clock>;

}  // namespace connpool::test

#endif
