// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The review of the observer (helper-14), the cases that need real threads: no member of a keyed
// pool's observer is called with the keyed pool's map lock held (another thread can create a key
// meanwhile); stats() never sees a lease that has just begun with the start of an older one.
// Run under ThreadSanitizer.

#include "support/io_runner.hpp"
#include "support/keyed_fake_factory.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;

namespace {

using keyed_type = connpool::keyed_pool<std::string, fake_connection, keyed_fake_factory<>>;

// On the test thread, each member checks that another thread can create a key of the keyed pool
// meanwhile (which takes the map lock exclusively): a member called under the map's shared lock
// makes that thread wait until it returns. A bound against the hang, not a timing assertion: the
// key is created within microseconds when nothing holds the lock.
struct lock_probe : connpool::pool_observer<fake_connection> {
    // Set and cleared by the test thread while the io thread may be inside a member: atomic
    // (relaxed: the io thread only needs to see that it is not the test thread).
    std::atomic<keyed_type*> keyed{nullptr};
    std::atomic<std::thread::id> test_thread{};
    std::atomic<int> probes{0};
    std::mutex mtx;
    std::vector<std::string> blocked;  // the members that were called under the lock
    std::string step;                  // what the test thread is doing
    std::vector<std::thread> others;   // the threads that created a key (test thread only)

    void probe(const char* member)
    {
        if (std::this_thread::get_id() != test_thread.load(std::memory_order_relaxed))
            return;
        keyed_type* const pool = keyed.load(std::memory_order_relaxed);
        if (!pool)
            return;
        const std::string key = "probe-" + std::to_string(++probes);
        auto created = std::make_shared<std::atomic<bool>>(false);
        // Joined at the end of the test, not here: under the lock, the thread waits for us.
        others.emplace_back([pool, key, created] {
            pool->async_acquire(key, [](error_code, keyed_type::handle_type) {});
            created->store(true);
        });
        if (!wait_until([&] { return created->load(); }, 1s)) {
            std::lock_guard lk(mtx);
            blocked.push_back(step + ": " + member);
        }
    }

    void join_others()
    {
        for (auto& t : others)
            t.join();
        others.clear();
    }

    void on_acquire(const connpool::acquire_event&) override { probe("on_acquire"); }
    void on_destroyed(connpool::destroy_cause) override { probe("on_destroyed"); }
    bool before_lend(fake_connection&) override
    {
        probe("before_lend");
        return true;
    }
};

}  // namespace

TEST_CASE("a keyed pool calls no observer member with its map lock held",
          "[stress][observer][keyed][review]")
{
    auto backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    auto obs = std::make_shared<lock_probe>();
    auto keyed = std::make_unique<keyed_type>(
        ioc.get_executor(),
        keyed_fake_factory<>(ioc.get_executor(), backend, std::make_shared<key_log>()),
        connpool::keyed_pool_options{.per_key = {.max_size = 2}}, obs);
    {
        io_runner runner(ioc, 1);
        auto warm = [&](const std::string& key) {  // one idle connection of `key`, lent once
            keyed->acquire(key, 5s).release();
        };
        warm("a");
        warm("b");
        obs->keyed = keyed.get();
        obs->test_thread = std::this_thread::get_id();

        obs->step = "try_acquire";
        keyed->try_acquire("a").reset();
        obs->step = "blocking acquire";
        keyed->acquire("a", 5s).release();
        obs->step = "async_acquire";
        std::atomic<bool> done{false};
        keyed->async_acquire("b", [&](error_code, keyed_type::handle_type) { done = true; });
        REQUIRE(wait_until([&] { return done.load(); }));
        obs->step = "clear";
        keyed->clear();
        obs->step = "close";
        keyed->acquire("a", 5s).release();  // one idle again, for close() to destroy
        keyed->close();
        obs->join_others();
        obs->keyed = nullptr;
        REQUIRE(wait_until([&] { return keyed->stats().idle == 0; }));
    }
    CHECK(obs->probes.load() >= 6);
    std::lock_guard lk(obs->mtx);
    for (const auto& b : obs->blocked)
        FAIL_CHECK("called under the map lock: " << b);
    keyed.reset();
    backend->drop_pending();
    poll_all(ioc);
}

// A lease that begins while stats() scans the slots: the scan may see the slot lent, and must
// then see that lease's start, not the previous lease's (or 0 for a slot never lent: the manual
// clock starts 1000 h after it), which made a lease just taken look held for long: overdue (a
// false leak; the housekeeping scan reports one the same way). The manual clock jumps 2 s
// between rounds, while no lease is out: every lease seen is 0 s old.
TEST_CASE("stats() never sees a lease just begun with an older start",
          "[stress][observer][leak][review]")
{
    using pool_type = connpool::pool<fake_connection, connect_only_factory, manual_clock>;
    manual_clock_guard clock_guard;
    auto backend = std::make_shared<fake_backend>();
    boost::asio::io_context ioc;
    constexpr std::size_t n = 32;
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                {.min_size = n,
                 .max_size = n,
                 .idle_timeout = 8760h,  // the clock moves 2 s a round: nothing ages out
                 .max_lifetime = 8760h,
                 .leak_threshold = 1s});
    poll_all(ioc);  // the connects; from here on, try_acquire and returns post nothing
    REQUIRE(p.stats().idle == n);

    std::atomic<bool> stop{false};
    std::atomic<long> scans{0}, overdue_seen{0};
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            const auto st = p.stats();
            if (st.leases_overdue != 0 || st.oldest_lease_held >= 1s)
                overdue_seen.fetch_add(1, std::memory_order_relaxed);
            scans.fetch_add(1, std::memory_order_relaxed);
        }
    });
    const long rounds = 20000 * stress_scale();
    std::vector<pool_type::handle_type> held;
    held.reserve(n);
    for (long round = 0; round < rounds && overdue_seen.load() == 0; ++round) {
        while (auto h = p.try_acquire())
            held.push_back(std::move(*h));
        REQUIRE(held.size() == n);
        held.clear();  // every lease back before the clock moves
        manual_clock::advance(2s);
    }
    stop = true;
    reader.join();
    INFO(scans.load() << " scans");
    CHECK(overdue_seen.load() == 0);
    p.close();
    poll_all(ioc);
}
