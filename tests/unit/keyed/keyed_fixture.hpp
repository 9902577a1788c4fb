// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_UNIT_KEYED_KEYED_FIXTURE_HPP
#define CONNPOOL_TESTS_UNIT_KEYED_KEYED_FIXTURE_HPP

// What the keyed_pool tests share: a keyed pool over the keyed fake factory
// (support/keyed_fake_factory.hpp), on an io_context polled by the test thread, with the manual
// clock; at the end of each test, the kit's invariants of stats() (the keys summed) against the
// one fake backend of every key.

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include "support/checked_handler.hpp"
#include "support/keyed_fake_factory.hpp"
#include "support/run_until.hpp"

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace connpool::test {

using namespace std::chrono_literals;

template <class Factory = keyed_fake_factory<>>
struct keyed_fixture {
    using keyed_type =
        connpool::keyed_pool<std::string, testing::fake_connection, Factory, testing::manual_clock>;
    using handle = typename keyed_type::handle_type;
    using acquire_result = checked_result<handle>;

    testing::manual_clock_guard clock_guard;
    std::shared_ptr<testing::fake_backend> backend = std::make_shared<testing::fake_backend>();
    std::shared_ptr<key_log> log = std::make_shared<key_log>();
    boost::asio::io_context ioc;
    std::unique_ptr<keyed_type> keyed_ptr;

    keyed_fixture() = default;
    keyed_fixture(const keyed_fixture&) = delete;
    keyed_fixture& operator=(const keyed_fixture&) = delete;

    // The test's locals (leases, checked handlers) are gone by now; the accounting is checked
    // while the pool is open and at rest, then everything is torn down.
    ~keyed_fixture()
    {
        if (keyed_ptr) {
            poll();
            const auto report = testing::check_invariants(*keyed_ptr, *backend);
            INFO("accounting at the end of the test: " << report.message());
            CHECK(report.ok());
            keyed_ptr.reset();
        }
        poll();
        backend->drop_pending();
        poll();
    }

    Factory make_factory() { return Factory(ioc.get_executor(), backend, log); }

    keyed_type& make_keyed(keyed_pool_options opts = {},
                           std::shared_ptr<pool_observer<testing::fake_connection>> observer = {})
    {
        REQUIRE(!keyed_ptr);
        keyed_ptr = std::make_unique<keyed_type>(ioc.get_executor(), make_factory(), opts,
                                                 std::move(observer));
        poll();
        return *keyed_ptr;
    }
    keyed_type& keyed() { return *keyed_ptr; }

    std::size_t poll() { return poll_all(ioc); }
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> d)
    {
        testing::advance(ioc, d);
    }
    // Advances the clock by `total` in steps of `step`, running what falls due after each.
    void advance_in_steps(std::chrono::milliseconds total, std::chrono::milliseconds step)
    {
        for (std::chrono::milliseconds t{0}; t < total; t += step)
            advance(step);
    }

    std::unique_ptr<acquire_result> start_acquire(const std::string& key,
                                                  std::chrono::milliseconds timeout = 30s)
    {
        auto r = std::make_unique<acquire_result>();
        keyed().async_acquire(key, timeout, r->handler());
        poll();
        return r;
    }

    handle acquire_now(const std::string& key)
    {
        auto r = start_acquire(key);
        REQUIRE(r->called_once());
        REQUIRE(!r->ec());
        REQUIRE(static_cast<bool>(r->value()));
        return std::move(r->value());
    }

    // Connections of `key` that exist (idle, lent, in maintenance), as its pool counts them.
    std::size_t open_of(const std::string& key)
    {
        const pool_stats s = keyed().stats(key);
        return s.idle + s.in_use + s.maintenance;
    }
};

}  // namespace connpool::test

#endif
