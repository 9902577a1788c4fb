// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress: threads acquire connections of many keys of one keyed_pool under a max_total (blocking,
// try_acquire, async with cancellation), with injected connect failures, while keys go quiet and
// are forgotten (idle_timeout of a few ms) and are created again by the next acquire. Checked
// throughout, what a user relies on:
//   - the connections of all keys never exceed max_total (a sampler thread: the fake backend's
//     live connections, and the limit's count, connecting ones included);
//   - an acquire never fails with errc::pool_closed, although its key may be forgotten (and its
//     pool closed) at any moment: a key forgotten under an acquirer is created anew;
//   - a connection is never held by two leases at once; every acquire completes exactly once;
//   - keys are forgotten while the load runs, and all of them once it stops; after async_close no
//     connection is left.
// And the map's lock alone (read_mostly_lock): readers never see a writer's change half done, and
// ThreadSanitizer sees the lock order the plain data it guards.
// Real steady clock, real threads; bounded iteration counts. CONNPOOL_STRESS_SCALE (environment,
// default 1) scales them.

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/keyed_fake_factory.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/detail/keyed/read_mostly_lock.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using boost::system::error_code;
using connpool::errc;
using connpool::test::key_log;
using connpool::test::keyed_fake_factory;
using connpool::testing::fake_backend;
namespace asio = boost::asio;

namespace {

using keyed_type =
    connpool::keyed_pool<std::string, connpool::testing::fake_connection, keyed_fake_factory<>>;
using handle = keyed_type::handle_type;

// What the workers saw; checked by the test thread afterwards (Catch2 is not thread-safe).
struct keyed_tally {
    std::atomic<long> ok{0}, timeouts{0}, connect_errors{0}, aborted{0}, unexpected{0};
    std::mutex mtx;
    std::vector<std::string> unexpected_errors;

    void record(const error_code& ec, bool got_handle, bool cancellable)
    {
        if (!ec && got_handle)
            ++ok;
        else if (ec == errc::acquire_timeout)
            ++timeouts;
        else if (ec == asio::error::connection_refused)
            ++connect_errors;
        else if (cancellable && ec == asio::error::operation_aborted)
            ++aborted;
        else  // errc::pool_closed included: no key may be closed under its acquirer
            note(ec ? ec.message() : "success without a lease");
    }
    void note(const std::string& what)
    {
        ++unexpected;
        std::lock_guard lk(mtx);
        if (unexpected_errors.size() < 20)
            unexpected_errors.push_back(what);
    }
    std::string report()
    {
        std::ostringstream os;
        os << "ok=" << ok << " timeouts=" << timeouts << " connect_errors=" << connect_errors
           << " aborted=" << aborted << " unexpected=" << unexpected;
        std::lock_guard lk(mtx);
        for (const auto& e : unexpected_errors)
            os << "\n  unexpected: " << e;
        return os.str();
    }
};

// Holds a lease as a caller does: a second holder of the same connection is a violation.
void hold(fake_backend& backend, handle& h, std::mt19937& rng)
{
    backend.mark_lent(h->id);
    h->uses++;  // two holders at once would be a data race (TSan)
    if (rng() % 4 == 0)
        std::this_thread::yield();
    if (rng() % 16 == 0)
        h.invalidate();
    backend.mark_returned(h->id);
    h.release();
}

// The keys in use move: workers draw from one half of the keys, then from the other (flipped
// by the chaos thread), so that the half not in use goes quiet, is forgotten, and is created
// again when its turn comes back.
struct key_chooser {
    static constexpr unsigned per_half = 12;
    std::atomic<unsigned> half{0};

    std::string pick(std::mt19937& rng) const
    {
        const unsigned base = half.load(std::memory_order_relaxed) * per_half;
        return "k" + std::to_string(base + static_cast<unsigned>(rng() % per_half));
    }
};

// One async acquire: its cancellation signal and completion count live until the test ends.
struct keyed_async_op {
    asio::cancellation_signal signal;
    std::atomic<int> calls{0};
};

}  // namespace

TEST_CASE("threads acquiring keys that are forgotten and re-created never exceed max_total",
          "[keyed][stress]")
{
    const int ops = 1500 * connpool::test::stress_scale();
    constexpr std::size_t max_total = 6;
    const connpool::keyed_pool_options opts{
        .per_key = {.max_size = 3,
                    .acquire_timeout = 1s,
                    .connect_timeout = 1s,
                    .idle_timeout = 2ms,
                    .max_concurrent_connects = 2,
                    .backoff_initial = 1ms,
                    .backoff_max = 2ms},
        .max_total = max_total,
    };
    auto backend = std::make_shared<fake_backend>();
    backend->set_random_failures(0.05, 0.0, 0.0, 2026);
    auto log = std::make_shared<key_log>();
    asio::io_context ioc;
    auto kp = std::make_unique<keyed_type>(
        ioc.get_executor(), keyed_fake_factory<>(ioc.get_executor(), backend, log), opts);
    const auto limit = kp->per_key_options().limit;
    REQUIRE(limit);
    connpool::test::io_runner io(ioc, 2);
    keyed_tally t;
    key_chooser keys;

    // The sampler: what a server would see never exceeds max_total, at any instant.
    std::atomic<bool> stop_sampling{false};
    std::atomic<long> samples{0}, over_live{0}, over_limit{0}, keys_dropped{0};
    std::thread sampler([&] {
        std::size_t last_keys = 0;
        while (!stop_sampling.load()) {
            if (backend->live() > static_cast<long>(max_total))
                ++over_live;
            if (limit->in_use() > max_total)
                ++over_limit;
            const std::size_t held = kp->keys();
            if (held < last_keys)
                ++keys_dropped;  // keys were forgotten while the load ran
            last_keys = held;
            ++samples;
            std::this_thread::yield();
        }
    });

    std::vector<std::thread> workers;
    for (int w = 0; w < 2; ++w) {  // blocking acquirers, short timeouts
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(10 + w));
            for (int i = 0; i < ops; ++i) {
                error_code ec;
                auto h = kp->acquire(keys.pick(rng), std::chrono::milliseconds(rng() % 10), ec);
                t.record(ec, static_cast<bool>(h), false);
                if (h)
                    hold(*backend, h, rng);
            }
        });
    }
    workers.emplace_back([&] {  // try_acquire of keys held or not
        std::mt19937 rng(20);
        for (int i = 0; i < ops * 4; ++i) {
            if (auto h = kp->try_acquire(keys.pick(rng))) {
                ++t.ok;
                hold(*backend, *h, rng);
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::vector<std::unique_ptr<keyed_async_op>> async_ops;
    async_ops.reserve(static_cast<std::size_t>(ops));
    workers.emplace_back([&] {  // async acquirers, some cancelled
        std::mt19937 rng(30);
        auto strand = asio::make_strand(ioc);
        std::atomic<int> in_flight{0};
        for (int i = 0; i < ops; ++i) {
            while (in_flight.load() >= 4)
                std::this_thread::yield();
            async_ops.push_back(std::make_unique<keyed_async_op>());
            keyed_async_op* op = async_ops.back().get();
            ++in_flight;
            const auto seed = static_cast<unsigned>(rng());
            kp->async_acquire(
                keys.pick(rng), std::chrono::milliseconds(rng() % 20),
                asio::bind_cancellation_slot(
                    op->signal.slot(),
                    asio::bind_executor(strand, [&, op, seed](error_code ec, handle h) {
                        if (op->calls.fetch_add(1) != 0)
                            t.note("async acquire completed twice");
                        t.record(ec, static_cast<bool>(h), true);
                        if (h) {
                            std::mt19937 rng2(seed);
                            hold(*backend, h, rng2);
                        }
                        --in_flight;
                    })));
            if (rng() % 8 == 0)
                asio::post(strand, [op] { op->signal.emit(asio::cancellation_type::terminal); });
        }
        while (in_flight.load() > 0)
            std::this_thread::yield();
    });

    std::atomic<bool> workers_done{false};
    std::thread chaos([&] {  // flips the keys in use, clears a key, reads the stats
        std::mt19937 rng(40);
        while (!workers_done.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 10));
            keys.half.store(1 - keys.half.load());
            if (rng() % 4 == 0)
                kp->clear(keys.pick(rng));
            (void)kp->stats();
        }
    });

    for (auto& w : workers)
        w.join();
    workers_done = true;
    chaos.join();

    // Quiet now: every key is forgotten within a few idle_timeouts.
    CHECK(connpool::test::wait_until([&] { return kp->keys() == 0; }, 10s));

    connpool::test::checked_ec closed{connpool::test::must_complete};
    kp->async_close(closed.handler());
    REQUIRE(connpool::test::wait_until([&] { return closed.called(); }, 30s));
    stop_sampling = true;
    sampler.join();
    io.stop();

    INFO(t.report());
    INFO("samples=" << samples << " keys_dropped=" << keys_dropped);
    CHECK(t.unexpected == 0);
    CHECK(t.ok > 0);
    CHECK(over_live == 0);
    CHECK(over_limit == 0);
    CHECK(samples > 0);
    CHECK(keys_dropped > 0);
    CHECK(backend->double_lends() == 0);
    CHECK(backend->live() == 0);
    CHECK(limit->in_use() == 0);
    for (const auto& op : async_ops)
        CHECK(op->calls.load() == 1);
    const connpool::pool_stats all = kp->stats();
    CHECK(all.created == static_cast<std::uint64_t>(backend->connects_succeeded()));
    kp.reset();
    connpool::test::poll_all(ioc);
}

TEST_CASE("the keyed pool's map lock: readers never see a writer's change half done",
          "[keyed][stress]")
{
    // Plain data (no atomics): a pair the writers keep equal, which readers check. A torn read
    // shows as a mismatch, a missing ordering as a ThreadSanitizer report.
    connpool::detail::read_mostly_lock lock;
    long first = 0, second = 0;
    std::atomic<long> reads{0}, torn{0}, writes{0};
    std::atomic<bool> stop{false};
    const long rounds = 20000L * connpool::test::stress_scale();
    std::vector<std::thread> threads;
    for (int r = 0; r < 3; ++r) {
        threads.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
                lock.lock_shared();
                if (first != second)
                    ++torn;
                lock.unlock_shared();
                ++reads;
            }
        });
    }
    for (int w = 0; w < 2; ++w) {
        threads.emplace_back([&] {
            for (long i = 0; i < rounds; ++i) {
                lock.lock();
                ++first;
                if (i % 64 == 0)
                    std::this_thread::yield();  // a writer that holds on: readers must wait
                ++second;
                lock.unlock();
                ++writes;
            }
        });
    }
    threads[3].join();
    threads[4].join();
    stop = true;
    for (int r = 0; r < 3; ++r)
        threads[static_cast<std::size_t>(r)].join();
    CHECK(torn == 0);
    CHECK(first == 2 * rounds);
    CHECK(second == 2 * rounds);
    CHECK(reads > 0);
}
