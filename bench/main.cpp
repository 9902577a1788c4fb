// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// connpool_bench: the benchmark suite (scripts/bench.sh runs it and writes docs/benchmarks.md).
//
//   connpool_bench [Google Benchmark flags] [--connpool_round_seconds=S] [--connpool_smoke]
//
// Defaults: --benchmark_repetitions=3 --benchmark_display_aggregates_only=true (the JSON output
// keeps every repetition). The benchmarks run in registration order, which matters: a peer's
// benchmark records its throughput before connpool's benchmark of the same scenario turns it into
// a ratio counter.

#include "register.hpp"
#include "support/config.hpp"
#include "support/timing.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

int main(int argc, char** argv)
{
    using namespace connpool_bench;
    std::vector<std::string> storage;
    std::vector<char*> args =
        parse_flags(argc, argv, storage,
                    {"--benchmark_repetitions=3", "--benchmark_display_aggregates_only=true"});
    int n = static_cast<int>(args.size()) - 1;
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 1;

    calibrate(settings().smoke ? std::chrono::milliseconds(1) : std::chrono::milliseconds(20));
    benchmark::AddCustomContext("connpool_round_seconds", std::to_string(settings().round_seconds));
    benchmark::AddCustomContext("connpool_tsc_ticks_per_ns",
                                std::to_string(calibrated().ticks_per_ns));
    benchmark::AddCustomContext("connpool_timer_overhead_ns",
                                std::to_string(ticks_to_ns(calibrated().timer_overhead_ticks)));
    benchmark::AddCustomContext("connpool_latency_sample_every",
                                std::to_string(latency_recorder::sample_every));
#if defined(__VERSION__)
    benchmark::AddCustomContext("connpool_compiler", __VERSION__);
#endif
    benchmark::AddCustomContext("connpool_peers", "mutex"
#if CONNPOOL_BENCH_HAVE_SOCI
                                                  ",soci"
#endif
#if CONNPOOL_BENCH_HAVE_POCO
                                                  ",poco"
#endif
    );

    register_fast_path();
    register_blocking();
    register_async();
    register_handoff();
    register_keyed();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
