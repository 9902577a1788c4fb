// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_HISTOGRAM_RECORDER_HPP
#define CONNPOOL_DETAIL_HISTOGRAM_RECORDER_HPP

// Where the pool records its three distributions (pool_histograms, histogram.hpp) without a lock,
// and the snapshot pool::histograms() reads. The recording points:
//   wait time     waiter_exits::left_queue_locked (under the pool's mutex: one writer at a time)
//   create time   connector::run_connect's completion, timeout and failure (on the strand)
//   use time      pool_impl::return_slot, from slot::lent_at, with measure_use_time only (any
//                 thread: every thread that returns a lease)

#include <connpool/histogram.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace connpool::detail {

// One histogram's cells: a count per bucket and the sum in nanoseconds. Aligned to a cache line,
// so that no other data (the fast path's flags, another histogram) shares its lines.
struct alignas(64) histogram_cells {
    std::atomic<std::uint64_t> sum_ns{0};
    std::array<std::atomic<std::uint64_t>, duration_histogram::bucket_count> buckets{};

    void record(std::chrono::nanoseconds d) noexcept
    {
        // Relaxed: each cell is a statistic of its own, read by histograms() only; nothing is
        // published through them (a reader may see this record's bucket before its sum).
        buckets[duration_histogram::bucket_of(d)].fetch_add(1, std::memory_order_relaxed);
        sum_ns.fetch_add(d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0,
                         std::memory_order_relaxed);
    }

    void add_to(duration_histogram& h) const noexcept
    {
        for (std::size_t i = 0; i < duration_histogram::bucket_count; ++i)
            h.buckets[i] += buckets[i].load(std::memory_order_relaxed);  // relaxed: see record
        h.sum += std::chrono::nanoseconds(
            static_cast<std::int64_t>(sum_ns.load(std::memory_order_relaxed)));
    }
};

class histogram_recorder {
public:
    // The use time is recorded by every thread that returns a lease, so its cells are striped
    // by slot index: a stripe is written by whoever holds one of its slots, and a slot's owner
    // touches the slot's own lines anyway; two threads returning different connections (up to
    // use_stripes of them) do not bounce one shared line between their cores. 8 stripes of
    // 4 lines: 2 KiB per pool.
    static constexpr std::size_t use_stripes = 8;

    // Under the pool's mutex.
    void record_wait(std::chrono::nanoseconds d) noexcept { wait_.record(d); }
    // On the pool's strand.
    void record_create(std::chrono::nanoseconds d) noexcept { create_.record(d); }
    // Any thread: the returner of the lease of slot `slot_index`.
    void record_use(std::uint32_t slot_index, std::chrono::nanoseconds d) noexcept
    {
        use_[slot_index % use_stripes].record(d);
    }

    pool_histograms snapshot(bool use_time_measured) const noexcept
    {
        pool_histograms h;
        wait_.add_to(h.wait_time);
        create_.add_to(h.create_time);
        for (const histogram_cells& stripe : use_)
            stripe.add_to(h.use_time);
        h.use_time_measured = use_time_measured;
        return h;
    }

private:
    histogram_cells wait_;
    histogram_cells create_;
    std::array<histogram_cells, use_stripes> use_;
};

}  // namespace connpool::detail

#endif
