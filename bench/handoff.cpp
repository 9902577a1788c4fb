// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Handoff latency: from the release of the only connection to the resumption of the waiter that
// gets it (p50_ns, p99_ns; `handoffs` samples per round). The waiter is parked first: the
// releaser sees it counted as waiting, then lets it fall asleep (settle_time) before releasing.
// So this is the wake-up path, not a race of two spinning threads.
//   handoff/blocking/<pool>   two threads ping-pong one connection through blocking acquire():
//                             each releases once the other is parked, then waits until the other
//                             has the connection before it asks again (no barging: the measured
//                             waiter is the only one)
//   handoff/async/connpool    a thread holds the connection while an async_acquire waits on an
//                             io_context run by another thread; release -> handler entry
//   handoff/async/post        the floor of the above: asio::post to that io_context thread ->
//                             handler entry

#include "peers/mutex_cv_pool.hpp"
#include "register.hpp"
#include "support/config.hpp"
#include "support/connpool_adapter.hpp"
#include "support/results.hpp"
#include "support/timing.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace connpool_bench {
namespace {

// How long a waiter is given to fall asleep (futex, epoll) once it is counted as waiting.
constexpr std::chrono::microseconds settle_time{50};

void set_latency_counters(benchmark::State& state, const latency_recorder& rec, double seconds)
{
    const percentiles p = weighted_percentiles({&rec});
    state.counters["p50_ns"] = p.p50_ns;
    state.counters["p99_ns"] = p.p99_ns;
    state.counters["handoffs"] = static_cast<double>(rec.taken());
    state.counters["ops_per_s"] = static_cast<double>(rec.taken()) / seconds;
}

template <class Pool>
void handoff_blocking(benchmark::State& state)
{
    std::optional<Pool> pool;
    pool.emplace(1);
    latency_recorder rec;
    double seconds = 0;
    for (auto _ : state) {
        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> released_at{0};
        std::atomic<int> owner{0};  // who holds the connection: player 0 or 1
        std::array<std::uint64_t, 2> failures{};
        std::array<std::vector<std::uint64_t>, 2> samples;
        for (auto& v : samples)
            v.reserve(std::size_t{1} << 16);

        auto player = [&](int me, typename Pool::lease lease) {
            const auto i = static_cast<std::size_t>(me);
            for (;;) {
                if (!Pool::ok(lease)) {  // waiter: blocks until the other one releases
                    lease = pool->acquire();
                    const std::uint64_t t1 = ticks_end();
                    if (!Pool::ok(lease)) {
                        ++failures[i];
                        return;
                    }
                    if (stop.load(std::memory_order_relaxed)) {  // released by a player leaving
                        owner.store(me, std::memory_order_release);
                        pool->release(lease);
                        return;
                    }
                    samples[i].push_back(t1 - released_at.load(std::memory_order_acquire));
                    owner.store(me, std::memory_order_release);
                }
                // Holder: wait for the other one to park, let it fall asleep, release.
                while (pool->waiters() == 0) {
                    if (stop.load(std::memory_order_relaxed)) {
                        pool->release(lease);
                        return;
                    }
                    std::this_thread::yield();
                }
                std::this_thread::sleep_for(settle_time);
                released_at.store(ticks_begin(), std::memory_order_release);
                pool->release(lease);
                while (owner.load(std::memory_order_acquire) == me)
                    std::this_thread::yield();
                if (stop.load(std::memory_order_relaxed))
                    return;
            }
        };
        typename Pool::lease first = pool->acquire();
        const auto start = steady::now();
        std::thread a(player, 0, std::move(first));
        std::thread b(player, 1, typename Pool::lease{});
        std::this_thread::sleep_for(std::chrono::duration<double>(settings().round_seconds));
        stop.store(true, std::memory_order_relaxed);
        a.join();
        b.join();
        seconds = std::chrono::duration<double>(steady::now() - start).count();
        state.SetIterationTime(seconds);
        if (failures[0] + failures[1] != 0) {
            state.SkipWithError("an acquire reached its 30 s deadline");
            return;
        }
        for (const auto& v : samples)
            for (std::uint64_t t : v)
                rec.record(t);
    }
    set_latency_counters(state, rec, seconds);
}

// An io_context run by a thread of its own.
struct io_thread {
    io_thread() : guard(asio::make_work_guard(ctx)), runner([this] { ctx.run(); }) {}
    ~io_thread()
    {
        guard.reset();
        const auto deadline = steady::now() + std::chrono::seconds(5);
        while (!ctx.stopped() && steady::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ctx.stop();
        runner.join();
    }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    asio::io_context ctx;
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::thread runner;
};

// Runs rounds of `one(rec)` (one timed handoff each) for settings().round_seconds.
template <class One>
void handoff_rounds(benchmark::State& state, One one)
{
    latency_recorder rec;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = steady::now();
        const auto end = start + std::chrono::duration_cast<steady::duration>(
                                     std::chrono::duration<double>(settings().round_seconds));
        while (steady::now() < end)
            if (!one(rec)) {
                state.SkipWithError("async_acquire failed");
                return;
            }
        seconds = std::chrono::duration<double>(steady::now() - start).count();
        state.SetIterationTime(seconds);
    }
    set_latency_counters(state, rec, seconds);
}

void handoff_async_post(benchmark::State& state)
{
    io_thread io;
    handoff_rounds(state, [&](latency_recorder& rec) {
        std::atomic<bool> got{false};
        std::uint64_t t1 = 0;
        std::this_thread::sleep_for(settle_time);
        const std::uint64_t t0 = ticks_begin();
        asio::post(io.ctx, [&] {
            t1 = ticks_end();
            got.store(true, std::memory_order_release);
        });
        while (!got.load(std::memory_order_acquire))
            std::this_thread::yield();
        rec.record(t1 - t0);
        return true;
    });
}

void handoff_async_connpool(benchmark::State& state)
{
    std::optional<io_thread> io;
    io.emplace();
    std::optional<bench_pool> pool;
    pool.emplace(io->ctx.get_executor(), fake_factory{},
                 connpool::pool_options{.min_size = 1, .max_size = 1});
    wait_until_idle(*pool, 1);
    bench_pool::handle_type held = pool->acquire(std::chrono::seconds(30));
    handoff_rounds(state, [&](latency_recorder& rec) {
        std::atomic<bool> got{false};
        std::uint64_t t1 = 0;
        bench_pool::handle_type received;
        connpool::error_code failure;
        pool->async_acquire([&](connpool::error_code ec, bench_pool::handle_type lease) {
            t1 = ticks_end();
            failure = ec;
            received = std::move(lease);
            got.store(true, std::memory_order_release);
        });
        // Queued by now (the only connection is held); let the io thread go back to sleep.
        std::this_thread::sleep_for(settle_time);
        const std::uint64_t t0 = ticks_begin();
        held.release();
        while (!got.load(std::memory_order_acquire))
            std::this_thread::yield();
        if (failure)
            return false;
        rec.record(t1 - t0);
        held = std::move(received);
        return true;
    });
    held.release();
    pool.reset();
    io.reset();
}

}  // namespace

void register_handoff()
{
    benchmark::RegisterBenchmark("handoff/blocking/mutex", handoff_blocking<mutex_cv_pool>)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("handoff/blocking/connpool", handoff_blocking<connpool_blocking>)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("handoff/async/post", handoff_async_post)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("handoff/async/connpool", handoff_async_connpool)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace connpool_bench
