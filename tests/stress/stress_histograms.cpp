// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress: the histograms are recorded without a lock by many threads at once (the use time by
// every returner, the wait time by whoever takes a waiter out of the queue) while another thread
// reads them and writes the Prometheus exposition. Under ThreadSanitizer: no data race; at rest,
// no record is lost (each histogram's count matches the counters of stats()). Real clock, real
// threads, bounded counts; nothing asserts on speed.

#include "support/io_runner.hpp"
#include "support/run_until.hpp"

#include <connpool/connpool.hpp>
#include <connpool/prometheus.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
using pool_type = connpool::pool<fake_connection, connect_only_factory>;
}  // namespace

TEST_CASE("stress: histograms recorded by many threads lose no record and race with no reader",
          "[stress][histogram]")
{
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    io_runner io(ioc, 2);
    pool_type p(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                {.min_size = 3, .max_size = 3, .measure_use_time = true});
    REQUIRE(wait_until([&] { return p.stats().idle == 3; }));

    constexpr int threads = 6;
    constexpr int per_thread = 3000;
    std::atomic<int> failures{0};
    std::atomic<bool> done{false};
    std::thread reader([&] {
        connpool::prometheus::collector metrics;
        metrics.add("stress", p);
        while (!done.load(std::memory_order_relaxed)) {
            const auto h = p.histograms();
            if (h.wait_time.count() > p.stats().waited + 1'000'000)  // touch every cell
                failures.fetch_add(1);
            std::ostringstream sink;
            metrics.write(sink);
        }
    });
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                if ((i + t) % 3 == 0) {
                    if (auto lease = p.try_acquire())
                        (*lease)->uses++;
                    continue;
                }
                error_code ec;
                auto lease = p.acquire(5s, ec);
                if (ec || !lease) {
                    failures.fetch_add(1);
                    continue;
                }
                if (i % 50 == 0)
                    std::this_thread::yield();  // hold it a little: others queue
            }
        });
    for (auto& w : workers)
        w.join();
    done = true;
    reader.join();
    CHECK(failures == 0);

    REQUIRE(wait_until([&] { return p.stats().in_use == 0 && p.stats().waiters == 0; }));
    const auto s = p.stats();
    const auto h = p.histograms();
    CHECK(h.use_time.count() == s.acquired);  // every lease returned, every one recorded
    CHECK(h.wait_time.count() == s.waited);   // every queued acquire left the queue
    CHECK(h.wait_time.sum == s.total_wait_time);
    CHECK(h.create_time.count() == s.created + s.connect_failures);
    CHECK(s.acquired > 0);
}
