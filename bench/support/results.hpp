// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_RESULTS_HPP
#define CONNPOOL_BENCH_SUPPORT_RESULTS_HPP

// What the benchmarks measure besides time: latency samples, and the process-wide table of
// throughputs that turns a peer's result into a ratio counter on connpool's benchmark.

#include "timing.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace connpool_bench {

// One thread's latency samples, in TSC ticks. Every `sample_every`-th operation is timed (the
// two timestamps cost about as much as an uncontended acquire, so timing all of them would
// measure the timer). The buffer is a ring allocated and touched before the round: no allocation
// and no page fault while measuring. When it wraps, the latest samples are kept, and each kept
// sample stands for taken()/kept() operations in the percentiles.
class latency_recorder {
public:
    static constexpr std::uint64_t sample_every = 8;  // a power of two
    static constexpr std::size_t capacity = std::size_t{1} << 16;

    latency_recorder() : buf_(std::make_unique<std::uint32_t[]>(capacity))
    {
        std::memset(buf_.get(), 0, capacity * sizeof(std::uint32_t));
    }

    static bool sample_this(std::uint64_t op) noexcept { return (op & (sample_every - 1)) == 0; }

    void record(std::uint64_t ticks) noexcept
    {
        buf_[taken_ & (capacity - 1)] =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(ticks, UINT32_MAX));
        ++taken_;
    }

    std::uint64_t taken() const noexcept { return taken_; }
    std::size_t kept() const noexcept
    {
        return static_cast<std::size_t>(std::min<std::uint64_t>(taken_, capacity));
    }
    const std::uint32_t* data() const noexcept { return buf_.get(); }

private:
    std::unique_ptr<std::uint32_t[]> buf_;
    std::uint64_t taken_ = 0;
};

struct percentiles {
    double p50_ns = 0;
    double p99_ns = 0;
    std::uint64_t samples = 0;
};

// p50 and p99 over every recorder, each sample weighted by the operations it stands for.
inline percentiles weighted_percentiles(const std::vector<const latency_recorder*>& recs)
{
    std::vector<std::pair<std::uint32_t, double>> all;
    std::size_t total = 0;
    for (const latency_recorder* r : recs)
        total += r->kept();
    all.reserve(total);
    double weight_sum = 0;
    percentiles out;
    for (const latency_recorder* r : recs) {
        if (r->kept() == 0)
            continue;
        const double w = static_cast<double>(r->taken()) / static_cast<double>(r->kept());
        for (std::size_t i = 0; i < r->kept(); ++i)
            all.emplace_back(r->data()[i], w);
        weight_sum += w * static_cast<double>(r->kept());
        out.samples += r->taken();
    }
    if (all.empty())
        return out;
    std::sort(all.begin(), all.end());
    auto at = [&](double q) {
        double cum = 0;
        for (const auto& [v, w] : all) {
            cum += w;
            if (cum >= q * weight_sum)
                return ticks_to_ns(v);
        }
        return ticks_to_ns(all.back().first);
    };
    out.p50_ns = at(0.50);
    out.p99_ns = at(0.99);
    return out;
}

// Throughputs (operations per second) by key, e.g. "blocking/16x4/w0/mutex". A benchmark that
// Google Benchmark runs several times records one value per run; median() takes the median of
// the measured runs. Google Benchmark sizes a repetition by trial runs of growing iteration
// counts in the first repetition only, then repeats the final count: the measured runs are the
// ones with the largest iteration count.
class rate_table {
public:
    void record(const std::string& key, std::int64_t iterations, double ops_per_s)
    {
        std::lock_guard lk(mtx_);
        runs_[key].emplace_back(iterations, ops_per_s);
    }

    std::optional<double> median(const std::string& key) const
    {
        std::lock_guard lk(mtx_);
        auto it = runs_.find(key);
        if (it == runs_.end() || it->second.empty())
            return std::nullopt;
        std::int64_t most = 0;
        for (const auto& [iters, rate] : it->second)
            most = std::max(most, iters);
        std::vector<double> rates;
        for (const auto& [iters, rate] : it->second)
            if (iters == most)
                rates.push_back(rate);
        std::sort(rates.begin(), rates.end());
        const std::size_t n = rates.size();
        return n % 2 ? rates[n / 2] : (rates[n / 2 - 1] + rates[n / 2]) / 2;
    }

private:
    mutable std::mutex mtx_;
    std::map<std::string, std::vector<std::pair<std::int64_t, double>>> runs_;
};

inline rate_table& rates()
{
    static rate_table t;
    return t;
}

// Sets counter `name` = ours / the median recorded under `key`, when the table has it (the
// reference benchmark was registered, built and not filtered out).
inline void set_ratio(benchmark::State& state, const std::string& name, const std::string& key,
                      double ours)
{
    if (auto theirs = rates().median(key); theirs && *theirs > 0)
        state.counters[name] = ours / *theirs;
}

}  // namespace connpool_bench

#endif
