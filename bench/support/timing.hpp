// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_TIMING_HPP
#define CONNPOOL_BENCH_SUPPORT_TIMING_HPP

// Cheap timestamps and busy work of a given length.
//
// Latency samples use the time-stamp counter (rdtsc, about 20 cycles with its fences) rather than
// steady_clock (a vDSO call, 20-40 ns), calibrated once against steady_clock; the TSC runs at a
// constant rate on every x86 CPU of the last fifteen years (flags constant_tsc, nonstop_tsc).
// Elsewhere the timestamps are steady_clock nanoseconds.
//
// The "hold" of the blocking scenarios is busy work: the thread spins on the TSC until W has
// passed. It occupies the CPU like real work, but unlike a calibrated count of loop iterations it
// lasts W whatever the core's clock does: on a shared virtual machine the speed of a loop varies
// by half between one moment and the next (turbo, a busy hyperthread sibling), which made
// "1 µs" holds last 0.5 µs.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CONNPOOL_BENCH_HAVE_TSC 1
#else
#define CONNPOOL_BENCH_HAVE_TSC 0
#endif

namespace connpool_bench {

using steady = std::chrono::steady_clock;

#if CONNPOOL_BENCH_HAVE_TSC
// lfence before rdtsc: the earlier instructions have completed before the counter is read.
inline std::uint64_t ticks_begin() noexcept
{
    _mm_lfence();
    return __rdtsc();
}
// rdtscp waits for the timed instructions; lfence keeps later ones from starting before it.
inline std::uint64_t ticks_end() noexcept
{
    unsigned aux;
    const std::uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
}
#else
inline std::uint64_t ticks_begin() noexcept
{
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
            .count());
}
inline std::uint64_t ticks_end() noexcept
{
    return ticks_begin();
}
#endif

// A bare read of the counter, for spinning (no fences: only the value matters).
inline std::uint64_t ticks_now() noexcept
{
#if CONNPOOL_BENCH_HAVE_TSC
    return __rdtsc();
#else
    return ticks_begin();
#endif
}

struct calibration {
    double ticks_per_ns = 1.0;
    double timer_overhead_ticks = 0;  // ticks_end() - ticks_begin() with nothing between
};

inline calibration& calibrated() noexcept
{
    static calibration c;
    return c;
}

inline double ticks_to_ns(double ticks) noexcept
{
    return ticks / calibrated().ticks_per_ns;
}

inline std::uint64_t ticks_for(std::chrono::nanoseconds d) noexcept
{
    return static_cast<std::uint64_t>(static_cast<double>(d.count()) * calibrated().ticks_per_ns);
}

// Busy work: spins until `ticks` have passed.
inline void busy_hold(std::uint64_t ticks) noexcept
{
    if (ticks == 0)
        return;
    const std::uint64_t until = ticks_now() + ticks;
    while (ticks_now() < until) {
    }
}

// Measures the TSC rate: the median of five trials of `window` each.
inline void calibrate(std::chrono::nanoseconds window)
{
    std::vector<double> rates;
    for (int trial = 0; trial < 5; ++trial) {
        const auto t0 = steady::now();
        const std::uint64_t c0 = ticks_begin();
        auto t1 = t0;
        while (t1 - t0 < window)
            t1 = steady::now();
        const std::uint64_t c1 = ticks_end();
        rates.push_back(static_cast<double>(c1 - c0) /
                        static_cast<double>((t1 - t0) / std::chrono::nanoseconds(1)));
    }
    std::sort(rates.begin(), rates.end());
    calibrated().ticks_per_ns = CONNPOOL_BENCH_HAVE_TSC ? rates[2] : 1.0;

    // What a latency sample adds by itself (reported, not subtracted): the median of empty pairs.
    std::vector<std::uint64_t> empty(10'001);
    for (std::uint64_t& e : empty) {
        const std::uint64_t t0 = ticks_begin();
        e = ticks_end() - t0;
    }
    std::nth_element(empty.begin(), empty.begin() + 5000, empty.end());
    calibrated().timer_overhead_ticks = static_cast<double>(empty[5000]);
}

}  // namespace connpool_bench

#endif
