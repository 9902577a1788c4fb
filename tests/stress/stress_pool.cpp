// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress: many threads use every API of one pool at once, with injected connect/ping/reset
// failures, and the invariants a user relies on are checked throughout:
//   - a connection is never held by two leases at once (per-connection holder flag),
//   - stats().size and the number of live connections never exceed max_size (monitor thread),
//   - every acquire completes exactly once, with an error it is allowed to have,
//   - nothing leaks: after async_close completes no connection is alive and every lease is back.
// Real steady clock, real threads; bounded iteration counts so that a ThreadSanitizer run on two
// cores stays well under a minute. CONNPOOL_STRESS_SCALE (environment, default 1) scales them.

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

namespace {

bool verbose()
{
    return std::getenv("CONNPOOL_STRESS_VERBOSE") != nullptr;
}

using pool_type = connpool::pool<fake_connection, full_factory>;
using handle = pool_type::handle_type;

// What the workers saw. Workers never call Catch2 (it is not thread-safe); the test thread checks
// these afterwards.
struct tally {
    std::atomic<long> ok{0}, timeouts{0}, connect_errors{0}, aborted{0}, exhausted{0}, closed{0},
        unexpected{0}, empty_success{0}, invalidated{0};
    std::mutex mtx;
    std::vector<std::string> unexpected_errors;

    void record(const error_code& ec, bool got_handle, bool cancellable, bool may_be_closed)
    {
        if (!ec) {
            if (got_handle)
                ++ok;
            else
                ++empty_success;
            return;
        }
        if (got_handle) {
            note("error with a non-empty lease: " + ec.message());
            return;
        }
        if (ec == errc::acquire_timeout)
            ++timeouts;
        else if (ec == asio::error::connection_refused || ec == errc::connect_timeout)
            ++connect_errors;
        else if (cancellable && ec == asio::error::operation_aborted)
            ++aborted;
        else if (ec == errc::pool_exhausted)
            ++exhausted;
        else if (may_be_closed && ec == errc::pool_closed)
            ++closed;
        else
            note(ec.to_string() + " " + ec.message());
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
           << " aborted=" << aborted << " exhausted=" << exhausted << " closed=" << closed
           << " invalidated=" << invalidated << " unexpected=" << unexpected;
        std::lock_guard lk(mtx);
        for (auto& e : unexpected_errors)
            os << "\n  unexpected: " << e;
        return os.str();
    }
};

// Uses a lease like a caller would: marks the connection held (a second holder is a
// violation), touches it, sometimes declares it broken, marks it free, returns it.
void use(fake_backend& backend, handle& h, tally& t, std::mt19937& rng)
{
    const int id = h->id;
    backend.mark_lent(id);
    h->uses++;  // a data race here would mean two holders (TSan sees it)
    if (rng() % 16 == 0) {
        h.invalidate();
        ++t.invalidated;
    }
    if (rng() % 4 == 0)
        std::this_thread::yield();
    backend.mark_returned(id);
    h.release();
}

// Samples the size invariants until told to stop.
struct monitor {
    std::atomic<bool> stop{false};
    std::atomic<long> samples{0}, size_violations{0}, live_violations{0};
    std::atomic<std::size_t> max_size_seen{0};
    std::atomic<long> max_live_seen{0};
    std::thread thread;

    monitor(pool_type& p, fake_backend& backend, std::size_t max_size)
    {
        thread = std::thread([this, &p, &backend, max_size] {
            while (!stop.load()) {
                const auto s = p.stats();
                if (s.size > max_size)
                    ++size_violations;
                if (s.size > max_size_seen)
                    max_size_seen = s.size;
                const long live = backend.live();
                if (live > static_cast<long>(max_size))
                    ++live_violations;
                if (live > max_live_seen)
                    max_live_seen = live;
                ++samples;
                std::this_thread::yield();
            }
        });
    }
    void finish()
    {
        stop = true;
        if (thread.joinable())
            thread.join();
    }
    ~monitor() { finish(); }
};

// One async acquire: its cancellation signal and its completion count live until the test ends.
struct async_op {
    asio::cancellation_signal signal;
    std::atomic<int> calls{0};
};

}  // namespace

TEST_CASE("many threads using every API at once keep every invariant", "[stress]")
{
    const int ops = 4000 * stress_scale();
    constexpr std::size_t max_size = 6;
    const connpool::pool_options opts{
        .min_size = 2,
        .max_size = max_size,
        .max_waiters = 8,
        .acquire_timeout = 2s,
        .connect_timeout = 1s,
        .idle_timeout = 40ms,
        .max_lifetime = 150ms,
        .lifetime_jitter = 0.5,
        .validation_interval = 1ms,
        .keepalive_interval = 5ms,
        .max_concurrent_connects = 2,
        .backoff_initial = 1ms,
        .backoff_max = 4ms,
    };
    auto backend = std::make_shared<fake_backend>();
    backend->set_random_failures(0.10, 0.05, 0.05, 2026);
    asio::io_context ioc;
    std::optional<pool_type> pool_storage;
    pool_storage.emplace(ioc.get_executor(), full_factory(ioc.get_executor(), backend), opts);
    pool_type& p = *pool_storage;
    io_runner io(ioc, 3);
    monitor mon(p, *backend, max_size);
    tally t;

    std::vector<std::thread> workers;

    // Blocking acquirers with short, random timeouts.
    for (int w = 0; w < 2; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(100 + w));
            for (int i = 0; i < ops; ++i) {
                error_code ec;
                auto h = p.acquire(std::chrono::milliseconds(rng() % 20), ec);
                t.record(ec, static_cast<bool>(h), false, false);
                if (h)
                    use(*backend, h, t, rng);
            }
        });
    }

    // try_acquire spinners.
    for (int w = 0; w < 2; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(200 + w));
            for (int i = 0; i < ops; ++i) {
                if (auto h = p.try_acquire()) {
                    if (!*h)
                        t.note("try_acquire returned an empty lease");
                    else {
                        ++t.ok;
                        use(*backend, *h, t, rng);
                    }
                } else
                    std::this_thread::yield();
            }
        });
    }

    // Async acquirers: initiated on a strand, completed on it, sometimes cancelled from it.
    std::vector<std::vector<std::unique_ptr<async_op>>> async_ops(2);
    std::atomic<long> async_outstanding{0};
    for (int w = 0; w < 2; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(300 + w));
            auto strand = asio::make_strand(ioc);
            auto& mine = async_ops[static_cast<std::size_t>(w)];
            mine.reserve(static_cast<std::size_t>(ops));
            std::atomic<int> in_flight{0};
            for (int i = 0; i < ops; ++i) {
                while (in_flight.load() >= 4)
                    std::this_thread::yield();
                mine.push_back(std::make_unique<async_op>());
                async_op* op = mine.back().get();
                const auto timeout = std::chrono::milliseconds(rng() % 30);
                const unsigned cancel = rng() % 8;  // 0..2: cancel with that type
                const bool hold_across_post = rng() % 2 == 0;
                const auto seed = static_cast<unsigned>(rng());
                ++in_flight;
                ++async_outstanding;
                asio::post(strand, [&, op, timeout, cancel, hold_across_post, seed, strand] {
                    p.async_acquire(
                        timeout,
                        asio::bind_cancellation_slot(
                            op->signal.slot(),
                            asio::bind_executor(strand, [&, op, hold_across_post, seed,
                                                         strand](error_code ec, handle h) mutable {
                                if (op->calls.fetch_add(1) != 0)
                                    t.note("async acquire completed twice");
                                t.record(ec, static_cast<bool>(h), true, false);
                                --in_flight;
                                --async_outstanding;
                                if (!h)
                                    return;
                                std::mt19937 rng2(seed);
                                if (hold_across_post) {
                                    // Keep the lease across a hop through the executor.
                                    backend->mark_lent(h->id);
                                    asio::post(strand, [&, h = std::move(h)]() mutable {
                                        h->uses++;
                                        backend->mark_returned(h->id);
                                        h.release();
                                    });
                                } else
                                    use(*backend, h, t, rng2);
                            })));
                    if (cancel < 3) {
                        const auto type = cancel == 0   ? asio::cancellation_type::terminal
                                          : cancel == 1 ? asio::cancellation_type::partial
                                                        : asio::cancellation_type::total;
                        // Emitted later from the handler's executor, racing the handoff.
                        asio::post(strand, [op, type] { op->signal.emit(type); });
                    }
                });
            }
            while (in_flight.load() > 0)
                std::this_thread::yield();
        });
    }

    // Chaos: clear() now and then while everything runs.
    std::atomic<bool> workers_done{false};
    std::thread chaos([&] {
        std::mt19937 rng(400);
        while (!workers_done.load()) {
            std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 2000));
            if (rng() % 3 == 0)
                p.clear();
            (void)p.stats();
        }
    });

    for (auto& w : workers)
        w.join();
    workers_done = true;
    chaos.join();

    // Close and wait for every connection to be gone.
    checked_ec closed{must_complete};
    p.async_close(closed.handler());
    REQUIRE(wait_until([&] { return closed.called(); }, 30s));
    CHECK(!closed.ec());
    mon.finish();

    if (verbose())
        std::printf("[stress] every API: %s\n  monitor samples=%ld max size=%zu max live=%ld "
                    "acquired=%llu created=%llu connect_failures=%llu\n",
                    t.report().c_str(), mon.samples.load(), mon.max_size_seen.load(),
                    mon.max_live_seen.load(), static_cast<unsigned long long>(p.stats().acquired),
                    static_cast<unsigned long long>(p.stats().created),
                    static_cast<unsigned long long>(p.stats().connect_failures));
    INFO(t.report());
    INFO("monitor samples=" << mon.samples << " max size seen=" << mon.max_size_seen
                            << " max live seen=" << mon.max_live_seen);
    CHECK(t.unexpected == 0);
    CHECK(t.empty_success == 0);
    CHECK(t.ok > 0);
    CHECK(backend->double_lends() == 0);
    CHECK(backend->bad_returns() == 0);
    CHECK(backend->bad_ids() == 0);
    CHECK(mon.size_violations == 0);
    CHECK(mon.live_violations == 0);
    CHECK(backend->max_connects_in_flight() <= static_cast<long>(opts.max_concurrent_connects));
    CHECK(async_outstanding == 0);
    for (auto& mine : async_ops)
        for (auto& op : mine)
            CHECK(op->calls.load() == 1);
    // Nothing leaked.
    CHECK(backend->live() == 0);
    CHECK(backend->lent_now() == 0);
    const auto s = p.stats();
    CHECK(s.size == 0);
    CHECK(s.in_use == 0);
    CHECK(s.waiters == 0);
    CHECK(s.acquired >= static_cast<std::uint64_t>(t.ok.load()));
    CHECK(s.exhausted == static_cast<std::uint64_t>(t.exhausted.load()));
    // Accounting: every successful connect was counted once and destroyed once.
    INFO("created " << s.created << " connects succeeded " << backend->connects_succeeded()
                    << " destroyed idle/lifetime/broken/cleared/closed " << s.destroyed_idle << "/"
                    << s.destroyed_lifetime << "/" << s.destroyed_broken << "/"
                    << s.destroyed_cleared << "/" << s.destroyed_closed);
    CHECK(s.created == static_cast<std::uint64_t>(backend->connects_succeeded()));
    CHECK(s.created == s.destroyed_idle + s.destroyed_lifetime + s.destroyed_broken +
                           s.destroyed_cleared + s.destroyed_closed);

    io.stop();
    pool_storage.reset();
    poll_all(ioc);
    CHECK(backend->live() == 0);
}

TEST_CASE("closing the pool while threads hammer it fails everyone cleanly and leaks nothing",
          "[stress][close]")
{
    const int ops = 2000 * stress_scale();
    constexpr std::size_t max_size = 4;
    const connpool::pool_options opts{
        .min_size = 1,
        .max_size = max_size,
        .acquire_timeout = 2s,
        .validation_interval = 1ms,
        .max_concurrent_connects = 2,
        .backoff_initial = 1ms,
        .backoff_max = 2ms,
    };
    auto backend = std::make_shared<fake_backend>();
    backend->set_random_failures(0.05, 0.05, 0.05, 7);
    asio::io_context ioc;
    std::optional<pool_type> pool_storage;
    pool_storage.emplace(ioc.get_executor(), full_factory(ioc.get_executor(), backend), opts);
    pool_type& p = *pool_storage;
    io_runner io(ioc, 2);
    monitor mon(p, *backend, max_size);
    tally t;
    std::atomic<long> after_close_successes{0};
    std::atomic<bool> is_closed{false};

    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(500 + w));
            for (int i = 0; i < ops; ++i) {
                error_code ec;
                const bool closed_before = is_closed.load();
                auto h = p.acquire(std::chrono::milliseconds(rng() % 10), ec);
                t.record(ec, static_cast<bool>(h), false, true);
                if (h) {
                    if (closed_before)
                        ++after_close_successes;
                    use(*backend, h, t, rng);
                }
                if (ec == errc::pool_closed)
                    break;
            }
        });
    }
    std::atomic<long> async_calls{0}, async_started{0};
    std::thread async_thread([&] {
        for (int i = 0; i < ops; ++i) {
            ++async_started;
            p.async_acquire(5ms, [&](error_code ec, handle h) {
                t.record(ec, static_cast<bool>(h), false, true);
                ++async_calls;
            });
            if (is_closed.load() && i > ops / 2)
                break;
            std::this_thread::yield();
        }
    });
    std::this_thread::sleep_for(20ms);
    p.close();
    is_closed = true;  // acquires that start from now on must fail
    for (auto& w : workers)
        w.join();
    async_thread.join();

    checked_ec closed{must_complete};
    p.async_close(closed.handler());
    REQUIRE(wait_until([&] { return closed.called(); }, 30s));
    REQUIRE(wait_until([&] { return async_calls.load() == async_started.load(); }, 30s));
    mon.finish();

    if (verbose())
        std::printf("[stress] close under load: %s\n", t.report().c_str());
    INFO(t.report());
    CHECK(t.unexpected == 0);
    CHECK(after_close_successes == 0);  // nothing is lent after close() returned
    CHECK(t.closed > 0);
    CHECK(backend->double_lends() == 0);
    CHECK(mon.size_violations == 0);
    CHECK(mon.live_violations == 0);
    CHECK(backend->live() == 0);
    CHECK(backend->lent_now() == 0);
    CHECK(p.stats().size == 0);

    io.stop();
    pool_storage.reset();
    poll_all(ioc);
}

TEST_CASE("leases returned from many threads after the pool object is gone are safe",
          "[stress][destroy]")
{
    constexpr std::size_t max_size = 8;
    auto backend = std::make_shared<fake_backend>();
    asio::io_context ioc;
    std::optional<pool_type> pool_storage;
    pool_storage.emplace(ioc.get_executor(), full_factory(ioc.get_executor(), backend),
                         connpool::pool_options{.max_size = max_size});
    io_runner io(ioc, 2);
    for (int round = 0; round < 20 * stress_scale(); ++round) {
        if (!pool_storage)
            pool_storage.emplace(ioc.get_executor(), full_factory(ioc.get_executor(), backend),
                                 connpool::pool_options{.max_size = max_size});
        std::vector<handle> leases;
        for (std::size_t i = 0; i < max_size; ++i) {
            error_code ec;
            auto h = pool_storage->acquire(5s, ec);
            REQUIRE(!ec);
            leases.push_back(std::move(h));
        }
        std::atomic<bool> go{false};
        std::vector<std::thread> returners;
        for (auto& h : leases)
            returners.emplace_back([&go, h = std::move(h)]() mutable {
                while (!go.load())
                    std::this_thread::yield();
                h->uses++;
                h.release();
            });
        go = true;
        pool_storage.reset();  // races the returns
        for (auto& r : returners)
            r.join();
        REQUIRE(wait_until([&] { return backend->live() == 0; }, 30s));
    }
    io.stop();
    poll_all(ioc);
    CHECK(backend->live() == 0);
}
