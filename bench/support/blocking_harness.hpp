// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_BLOCKING_HARNESS_HPP
#define CONNPOOL_BENCH_SUPPORT_BLOCKING_HARNESS_HPP

// The blocking scenarios, run the same way for every pool: T threads share a pool of P
// connections, all created before the round starts; each thread loops
//     acquire (deadline 30 s) -> hold: W ns of busy work (spinning on the TSC) -> release
// until the round (settings().round_seconds of real time) ends. One Google Benchmark iteration is
// one round; its manual time is the round's real time.
//
// Reported, as counters of the benchmark:
//   ops_per_s            completed acquire/release pairs per second, all threads together
//   p50_ns, p99_ns       acquire latency (call to return), every 8th acquire of every thread timed
//   fair_min, fair_max   the smallest and largest share of one thread, relative to the mean share
//                        (1.0 = every thread did as many operations as the others)
//   vs_<peer>            on connpool's benchmarks: connpool's ops_per_s / the peer's, medians of
//                        the repetitions (the peers' benchmarks are registered, so run, first)
//
// A pool plugs in as a class with
//   using lease = ...;  static constexpr const char* name;  explicit Pool(std::size_t P);
//   lease acquire();  void release(lease&);  static bool ok(const lease&);
// acquire() returns a lease for which ok() is false when its 30 s deadline passed.

#include "config.hpp"
#include "results.hpp"
#include "timing.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace connpool_bench {

struct blocking_scenario {
    int threads;
    std::size_t connections;
    std::chrono::nanoseconds work;

    // "blocking/16x4/w0", "blocking/64x8/w1us": the benchmark's name without the pool.
    std::string key() const
    {
        std::string w = work.count() == 0 ? "w0"
                        : work.count() % 1000 == 0
                            ? "w" + std::to_string(work.count() / 1000) + "us"
                            : "w" + std::to_string(work.count()) + "ns";
        return "blocking/" + std::to_string(threads) + "x" + std::to_string(connections) + "/" + w;
    }
};

inline const std::vector<blocking_scenario>& blocking_scenarios()
{
    using std::chrono::nanoseconds;
    static const std::vector<blocking_scenario> all = [] {
        std::vector<blocking_scenario> v;
        for (nanoseconds w : {nanoseconds(0), nanoseconds(1000)})
            for (auto [t, p] : std::initializer_list<std::pair<int, std::size_t>>{
                     {1, 1}, {2, 1}, {2, 2}, {4, 2}, {16, 4}, {64, 8}})
                v.push_back({t, p, w});
        return v;
    }();
    return all;
}

struct round_result {
    double seconds = 0;
    std::uint64_t ops = 0;
    std::uint64_t failures = 0;
    double fair_min = 0;
    double fair_max = 0;
    percentiles latency;
};

// One thread's results, on a cache line of its own.
struct alignas(64) thread_record {
    std::uint64_t ops = 0;
    std::uint64_t failures = 0;
    latency_recorder latency;
};

template <class Pool>
round_result run_round(Pool& pool, const blocking_scenario& sc, double seconds)
{
    const std::uint64_t hold = ticks_for(sc.work);
    std::vector<std::unique_ptr<thread_record>> records;
    for (int i = 0; i < sc.threads; ++i)
        records.push_back(std::make_unique<thread_record>());

    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < sc.threads; ++i) {
        threads.emplace_back([&, me = records[static_cast<std::size_t>(i)].get()] {
            ready.fetch_add(1, std::memory_order_relaxed);
            while (!go.load(std::memory_order_acquire))
                std::this_thread::yield();
            std::uint64_t ops = 0;
            std::uint64_t failures = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                typename Pool::lease lease{};
                if (latency_recorder::sample_this(ops)) {
                    const std::uint64_t t0 = ticks_begin();
                    lease = pool.acquire();
                    const std::uint64_t t1 = ticks_end();
                    me->latency.record(t1 - t0);
                } else {
                    lease = pool.acquire();
                }
                if (!Pool::ok(lease)) {
                    ++failures;
                    continue;
                }
                busy_hold(hold);
                pool.release(lease);
                ++ops;
            }
            me->ops = ops;
            me->failures = failures;
        });
    }
    while (ready.load(std::memory_order_relaxed) < sc.threads)
        std::this_thread::yield();
    const auto start = steady::now();
    go.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop.store(true, std::memory_order_relaxed);
    const auto end = steady::now();
    for (std::thread& t : threads)
        t.join();

    round_result r;
    r.seconds = std::chrono::duration<double>(end - start).count();
    std::vector<const latency_recorder*> recs;
    std::uint64_t least = UINT64_MAX, most = 0;
    for (const auto& rec : records) {
        r.ops += rec->ops;
        r.failures += rec->failures;
        least = std::min(least, rec->ops);
        most = std::max(most, rec->ops);
        recs.push_back(&rec->latency);
    }
    const double mean = static_cast<double>(r.ops) / sc.threads;
    r.fair_min = mean > 0 ? static_cast<double>(least) / mean : 0;
    r.fair_max = mean > 0 ? static_cast<double>(most) / mean : 0;
    r.latency = weighted_percentiles(recs);
    return r;
}

// The benchmark body: one pool per repetition, one round per iteration (Iterations(1)).
// `peers`: on connpool's benchmark, the pools to report a vs_<peer> ratio against.
template <class Pool>
void blocking_benchmark(benchmark::State& state, const blocking_scenario& sc,
                        const std::vector<std::string>& peers)
{
    std::optional<Pool> pool;
    try {
        pool.emplace(sc.connections);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    round_result r;
    for (auto _ : state) {
        r = run_round(*pool, sc, settings().round_seconds);
        state.SetIterationTime(r.seconds);
    }
    if (r.failures != 0) {
        state.SkipWithError("an acquire reached its 30 s deadline");
        return;
    }
    const double ops_per_s = static_cast<double>(r.ops) / r.seconds;
    state.SetItemsProcessed(static_cast<std::int64_t>(r.ops));
    state.counters["ops_per_s"] = ops_per_s;
    state.counters["p50_ns"] = r.latency.p50_ns;
    state.counters["p99_ns"] = r.latency.p99_ns;
    state.counters["fair_min"] = r.fair_min;
    state.counters["fair_max"] = r.fair_max;
    rates().record(sc.key() + "/" + Pool::name, state.iterations(), ops_per_s);
    for (const std::string& peer : peers)
        set_ratio(state, "vs_" + peer, sc.key() + "/" + peer, ops_per_s);
}

template <class Pool>
void register_blocking(const blocking_scenario& sc, std::vector<std::string> peers = {})
{
    const std::string name = sc.key() + "/" + Pool::name;
    benchmark::RegisterBenchmark(
        name.c_str(),
        [sc, peers](benchmark::State& state) { blocking_benchmark<Pool>(state, sc, peers); })
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace connpool_bench

#endif
