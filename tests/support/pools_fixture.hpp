// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_POOLS_FIXTURE_HPP
#define CONNPOOL_TESTS_SUPPORT_POOLS_FIXTURE_HPP

/// \file pools_fixture.hpp
/// Several pools on one io_context polled by the test thread, each with its own fake backend,
/// on the manual clock: the setup of the tests of pools sharing a connection_limit.
///
///     TEST_CASE_METHOD(pools_fixture, "...", "[limit]") {
///         auto limit = std::make_shared<connpool::connection_limit>(2);
///         auto& a = add_pool({.max_size = 4, .limit = limit});
///         auto h = acquire_now(a);
///         ...
///     }
///
/// At the end, each pool's invariants are checked against its backend, then the pools go, then
/// the handlers their backends still hold.

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include "support/checked_handler.hpp"
#include "support/run_until.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace connpool::test {

struct pools_fixture {
    using pool_type = connpool::pool<testing::fake_connection, testing::connect_only_factory,
                                     testing::manual_clock>;
    using handle = pool_type::handle_type;
    using acquire_result = checked_result<handle>;

    testing::manual_clock_guard clock_guard;
    boost::asio::io_context ioc;
    struct member {
        std::shared_ptr<testing::fake_backend> backend = std::make_shared<testing::fake_backend>();
        std::unique_ptr<pool_type> pool;
    };
    std::vector<std::unique_ptr<member>> members;
    std::shared_ptr<testing::fake_backend> next_backend;  // see backend_of_next

    pools_fixture() = default;
    pools_fixture(const pools_fixture&) = delete;
    pools_fixture& operator=(const pools_fixture&) = delete;

    ~pools_fixture()
    {
        for (auto& m : members) {
            if (!m->pool)
                continue;
            poll();
            const auto report = testing::check_invariants(*m->pool, *m->backend);
            INFO("accounting at the end of the test: " << report.message());
            CHECK(report.ok());
        }
        for (auto& m : members)
            m->pool.reset();
        for (auto& m : members)
            m->backend->drop_pending();
        poll();
    }

    pool_type& add_pool(pool_options opts)
    {
        auto m = std::make_unique<member>();
        if (next_backend)
            m->backend = std::move(next_backend);
        m->pool = std::make_unique<pool_type>(
            ioc.get_executor(), testing::connect_only_factory(ioc.get_executor(), m->backend),
            std::move(opts));
        members.push_back(std::move(m));
        poll();
        return *members.back()->pool;
    }
    testing::fake_backend& backend_of(std::size_t i) { return *members.at(i)->backend; }
    // The backend the next add_pool() will use, to script it before that pool starts.
    testing::fake_backend& backend_of_next()
    {
        if (!next_backend)
            next_backend = std::make_shared<testing::fake_backend>();
        return *next_backend;
    }

    void poll() { poll_all(ioc); }
    void advance(std::chrono::milliseconds d) { testing::advance(ioc, d); }

    std::unique_ptr<acquire_result>
    start_acquire(pool_type& p, std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        auto r = std::make_unique<acquire_result>();
        p.async_acquire(timeout, r->handler());
        poll();
        return r;
    }
    handle acquire_now(pool_type& p)
    {
        auto r = start_acquire(p);
        REQUIRE(r->called());
        REQUIRE(!r->ec());
        return std::move(r->value());
    }

    // Live connections of every pool together: what the backends (the servers) see.
    std::size_t live_total() const
    {
        std::size_t n = 0;
        for (auto& m : members)
            n += static_cast<std::size_t>(m->backend->live());
        return n;
    }
};

}  // namespace connpool::test

#endif
