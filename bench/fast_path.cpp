// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The fast path against its floor:
//   floor/treiber_pop_push   a bare tagged Treiber stack: pop + push, one thread and two threads
//                            on one head (ops_per_s counts pairs of all threads together)
//   try_acquire/connpool     try_acquire() + release of an idle connection, one thread;
//                            vs_floor = its ops_per_s / the one-thread floor's
//   try_acquire/limited      the same, the pool under a connection_limit shared with another
//                            pool (room to spare: nobody waits); vs_unlimited = its ops_per_s /
//                            try_acquire/connpool's (the budget: at least 1 / 1.3)
//   try_acquire/connpool_use_time   the same with pool_options::measure_use_time (the use-time
//                            histogram); vs_plain = its ops_per_s / try_acquire/connpool's
//   try_acquire/observed     the same with a pool_observer that counts acquires and returns and
//                            answers every hook (two clock reads, four virtual calls); vs_plain
//   try_acquire/leak_threshold   the same with leak_threshold set (a coarse stamp and the call
//                            site stored per lease); vs_plain

#include "register.hpp"
#include "support/connpool_adapter.hpp"
#include "support/results.hpp"
#include "support/timing.hpp"
#include "support/treiber_stack.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace connpool_bench {
namespace {

double seconds_between(steady::time_point a, steady::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

void floor_pop_push(benchmark::State& state)
{
    static std::unique_ptr<treiber_stack> stack;  // set up and torn down by thread 0
    const auto threads = static_cast<std::uint32_t>(state.threads());
    if (state.thread_index() == 0) {
        stack = std::make_unique<treiber_stack>(threads);
        for (std::uint32_t i = 0; i < threads; ++i)
            stack->push(i);  // one node per thread: a pop never finds the stack empty
    }
    // The range-for spelled out, to read the clock after begin(), which waits for every thread.
    auto it = state.begin();
    const auto last = state.end();
    const auto start = steady::now();
    for (; it != last; ++it) {
        const std::uint32_t node = stack->pop();
        benchmark::DoNotOptimize(node);
        if (node != treiber_stack::nil)
            stack->push(node);
    }
    const auto end = steady::now();
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        // Every thread ran state.iterations() pairs; the end barrier waited for the slowest.
        const double ops_per_s =
            static_cast<double>(state.iterations()) * threads / seconds_between(start, end);
        state.counters["ops_per_s"] = ops_per_s;
        rates().record("floor/threads:" + std::to_string(threads), state.iterations(), ops_per_s);
        stack.reset();
    }
}

// try_acquire() + release in a loop; ops/s of the loop.
double run_try_acquire(benchmark::State& state, connpool_blocking& pool)
{
    auto it = state.begin();
    const auto last = state.end();
    const auto start = steady::now();
    for (; it != last; ++it) {
        auto lease = pool.pool().try_acquire();
        if (!lease) {
            state.SkipWithError("try_acquire found no idle connection");
            break;
        }
        benchmark::DoNotOptimize((*lease)->id);
    }  // the lease is released here, at the end of each iteration
    const auto end = steady::now();
    const double ops_per_s = static_cast<double>(state.iterations()) / seconds_between(start, end);
    state.SetItemsProcessed(state.iterations());
    state.counters["ops_per_s"] = ops_per_s;
    return ops_per_s;
}

void try_acquire_release(benchmark::State& state)
{
    connpool_blocking pool(1);
    const double ops_per_s = run_try_acquire(state, pool);
    rates().record("try_acquire/connpool", state.iterations(), ops_per_s);
    set_ratio(state, "vs_floor", "floor/threads:1", ops_per_s);
}

void try_acquire_release_limited(benchmark::State& state)
{
    auto limit = std::make_shared<connpool::connection_limit>(64);
    connpool_blocking other(1, {.limit = limit});  // a second pool under the same limit, idle
    connpool_blocking pool(1, {.limit = limit});
    const double ops_per_s = run_try_acquire(state, pool);
    rates().record("try_acquire/limited", state.iterations(), ops_per_s);
    set_ratio(state, "vs_unlimited", "try_acquire/connpool", ops_per_s);
}

void try_acquire_release_use_time(benchmark::State& state)
{
    connpool_blocking pool(1, {.measure_use_time = true});
    const double ops_per_s = run_try_acquire(state, pool);
    rates().record("try_acquire/connpool_use_time", state.iterations(), ops_per_s);
    set_ratio(state, "vs_plain", "try_acquire/connpool", ops_per_s);
}

// An observer that overrides every event and hook and does the least a real one would: count.
struct counting_observer final : connpool::pool_observer<fake_connection> {
    std::atomic<std::uint64_t> events{0};
    void bump() noexcept { events.fetch_add(1, std::memory_order_relaxed); }
    void on_acquire(const connpool::acquire_event&) override { bump(); }
    void on_release(const connpool::release_event&) override { bump(); }
    bool before_lend(fake_connection&) override { return true; }
    bool after_return(fake_connection&) override { return true; }
};

void try_acquire_release_observed(benchmark::State& state)
{
    connpool_blocking pool(1, {.observer = std::make_shared<counting_observer>()});
    const double ops_per_s = run_try_acquire(state, pool);
    rates().record("try_acquire/observed", state.iterations(), ops_per_s);
    set_ratio(state, "vs_plain", "try_acquire/connpool", ops_per_s);
}

void try_acquire_release_leak_sites(benchmark::State& state)
{
    connpool_blocking pool(1, {.leak_threshold = std::chrono::seconds(60)});
    const double ops_per_s = run_try_acquire(state, pool);
    rates().record("try_acquire/leak_threshold", state.iterations(), ops_per_s);
    set_ratio(state, "vs_plain", "try_acquire/connpool", ops_per_s);
}

}  // namespace

void register_fast_path()
{
    benchmark::RegisterBenchmark("floor/treiber_pop_push", floor_pop_push)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark("try_acquire/connpool", try_acquire_release)->UseRealTime();
    benchmark::RegisterBenchmark("try_acquire/limited", try_acquire_release_limited)->UseRealTime();
    benchmark::RegisterBenchmark("try_acquire/connpool_use_time", try_acquire_release_use_time)
        ->UseRealTime();
    benchmark::RegisterBenchmark("try_acquire/observed", try_acquire_release_observed)
        ->UseRealTime();
    benchmark::RegisterBenchmark("try_acquire/leak_threshold", try_acquire_release_leak_sites)
        ->UseRealTime();
}

}  // namespace connpool_bench
