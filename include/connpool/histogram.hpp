// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_HISTOGRAM_HPP
#define CONNPOOL_HISTOGRAM_HPP

/// \file histogram.hpp
/// Distributions of durations, as a pool records them: duration_histogram and pool_histograms
/// (returned by pool::histograms()).

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace connpool {

/// A distribution of durations over fixed buckets: a count per bucket and the sum.
///
/// The buckets double: bucket i holds the durations in (upper_bound(i - 1), upper_bound(i)],
/// with upper_bound(i) = 2^(i + 10) ns, from 1.024 us (bucket 0 also holds zero) to 68.7 s;
/// the last bucket, overflow, holds the longer ones. Why these:
/// - 1 us to 1 min spans what a pool sees: a handoff between threads takes microseconds, a
///   connect over a WAN tens of milliseconds, and the default acquire and connect timeouts are
///   30 s and 10 s, so a wait or a connect that runs into its deadline still lands in a bucket;
/// - every bucket has the same relative width, so a quantile estimate is off by less than a
///   factor of 2 whatever the scale (interpolated within the bucket, usually far less);
/// - a duration's bucket is the bit width of its nanoseconds: one instruction, no table search,
///   on the paths that record;
/// - they are the buckets of an OpenTelemetry base-2 exponential histogram at scale 0 (in ns),
///   so an exporter converts them without loss above 1 us.
///
/// A plain value: copy it, add two together (+=, e.g. the pools of a service), compare them.
struct duration_histogram {
    /// Buckets with a finite upper bound.
    static constexpr std::size_t finite_buckets = 27;
    /// finite_buckets plus the overflow bucket.
    static constexpr std::size_t bucket_count = finite_buckets + 1;
    /// log2 of the first bucket's upper bound in nanoseconds (1.024 us).
    static constexpr std::size_t first_bound_log2 = 10;

    /// The upper bound (inclusive) of bucket `i`, for i < finite_buckets.
    static constexpr std::chrono::nanoseconds upper_bound(std::size_t i) noexcept
    {
        return std::chrono::nanoseconds(std::int64_t{1} << (i + first_bound_log2));
    }

    /// The bucket that a duration is counted in (negative durations count as zero).
    static constexpr std::size_t bucket_of(std::chrono::nanoseconds d) noexcept
    {
        if (d.count() <= (std::int64_t{1} << first_bound_log2))
            return 0;
        // The smallest k with ns <= 2^k is the bit width of ns - 1.
        const auto k =
            static_cast<std::size_t>(std::bit_width(static_cast<std::uint64_t>(d.count()) - 1));
        return std::min(k - first_bound_log2, finite_buckets);
    }

    /// Counts per bucket (not cumulative); buckets[finite_buckets] is the overflow bucket.
    std::array<std::uint64_t, bucket_count> buckets{};
    /// The sum of the recorded durations.
    std::chrono::nanoseconds sum{0};

    /// Durations recorded.
    constexpr std::uint64_t count() const noexcept
    {
        std::uint64_t n = 0;
        for (std::uint64_t b : buckets)
            n += b;
        return n;
    }

    /// Durations recorded at most upper_bound(i) (Prometheus' cumulative `le` bucket); for
    /// i >= finite_buckets, count().
    constexpr std::uint64_t cumulative(std::size_t i) const noexcept
    {
        std::uint64_t n = 0;
        for (std::size_t b = 0; b <= std::min(i, finite_buckets); ++b)
            n += buckets[b];
        return n;
    }

    /// An estimate of the q-quantile (q in [0, 1], clamped), as Prometheus' histogram_quantile
    /// computes it: the bucket holding the rank q * count(), interpolated linearly between its
    /// bounds. Durations are assumed spread evenly within a bucket, so the estimate may be off
    /// by up to the bucket's width (a factor of 2). A rank in the overflow bucket gives the last
    /// finite bound (68.7 s), which the truth exceeds. Zero when nothing was recorded.
    constexpr std::chrono::nanoseconds quantile(double q) const noexcept
    {
        const std::uint64_t total = count();
        if (total == 0)
            return std::chrono::nanoseconds(0);
        const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
        std::uint64_t below = 0;  // durations in the buckets before i
        for (std::size_t i = 0; i < bucket_count; ++i) {
            const std::uint64_t here = buckets[i];
            if (here != 0 && static_cast<double>(below + here) >= rank) {
                if (i == finite_buckets)
                    return upper_bound(finite_buckets - 1);
                const double lower = i == 0 ? 0.0 : static_cast<double>(upper_bound(i - 1).count());
                const double upper = static_cast<double>(upper_bound(i).count());
                const double within =
                    std::max(0.0, rank - static_cast<double>(below)) / static_cast<double>(here);
                return std::chrono::nanoseconds(
                    static_cast<std::int64_t>(lower + (upper - lower) * within));
            }
            below += here;
        }
        // Not reached: the last non-empty bucket holds the rank q * total <= total.
        return upper_bound(finite_buckets - 1);
    }

    constexpr duration_histogram& operator+=(const duration_histogram& other) noexcept
    {
        for (std::size_t i = 0; i < bucket_count; ++i)
            buckets[i] += other.buckets[i];
        sum += other.sum;
        return *this;
    }

    friend constexpr bool operator==(const duration_histogram&,
                                     const duration_histogram&) noexcept = default;
};

/// Returned by pool::histograms(): the distributions of a pool's waits, leases and connects
/// since it was created. Each is read bucket by bucket while the pool runs, like pool_stats'
/// counters, so under concurrent use a record may show in its bucket before it shows in the sum.
/// The names follow OpenTelemetry's db.client.connection.* metrics.
struct pool_histograms {
    /// Acquires that had to queue, from queuing to leaving the queue, whatever the outcome
    /// (served, timed out, cancelled, failed): count() is pool_stats::waited minus the waiters
    /// still queued, sum is pool_stats::total_wait_time. An acquire served at once (an idle
    /// connection, or within the blocking acquire's short spin) is not recorded: it reads no
    /// clock. (db.client.connection.wait_time)
    duration_histogram wait_time;

    /// Leases, from the acquire that handed the connection out to its return (an invalidated
    /// one too). Recorded only with pool_options::measure_use_time; see use_time_measured.
    /// (db.client.connection.use_time)
    duration_histogram use_time;

    /// Connect attempts, success or failure: count() is pool_stats::created plus
    /// pool_stats::connect_failures once no connect is in flight. An attempt that timed out
    /// counts its connect_timeout. (db.client.connection.create_time)
    duration_histogram create_time;

    /// Whether use_time is recorded (pool_options::measure_use_time); when false, use_time is
    /// empty and an exporter should leave it out rather than report no leases.
    bool use_time_measured = false;

    constexpr pool_histograms& operator+=(const pool_histograms& other) noexcept
    {
        wait_time += other.wait_time;
        use_time += other.use_time;
        create_time += other.create_time;
        use_time_measured = use_time_measured || other.use_time_measured;
        return *this;
    }

    friend constexpr bool operator==(const pool_histograms&,
                                     const pool_histograms&) noexcept = default;
};

}  // namespace connpool

#endif
