// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// connpool_bench_memory: the pool's heap metadata, measured by a counting global operator new
// (this executable replaces every form of it). "Live bytes" are the bytes requested and not yet
// freed, whoever allocated them (the pool, its strand and timers, Asio's handler memory).
//
//   memory/per_connection   bytes_per_connection: the live bytes of a pre-warmed pool of 2N
//                           connections minus those of one of N, divided by N, minus
//                           sizeof(Connection) (the pool's fixed costs cancel out);
//                           fixed_bytes: what a pool of N costs beyond N times that
//   memory/per_waiter       bytes_per_waiter: live bytes added by N parked async_acquire calls
//                           (each with its 30 s deadline armed), divided by N, the completion
//                           handler's own size included (handler_bytes; the budget excludes it)
//
// Budgets (docs: design contract): <= 128 B per connection beyond sizeof(Connection), <= 256 B
// per waiter beyond sizeof(Handler).

#include "support/config.hpp"
#include "support/connpool_adapter.hpp"

#include <boost/asio/io_context.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace {
std::atomic<std::int64_t> live_bytes{0};

// Each block carries a header in front: [offset][size] just below the pointer handed out.
void* counted_alloc(std::size_t n, std::size_t align = 0) noexcept
{
    const std::size_t header = align <= 16 ? 16 : align;
    void* raw = align <= alignof(std::max_align_t)
                    ? std::malloc(header + n)
                    : std::aligned_alloc(align, (header + n + align - 1) / align * align);
    if (!raw)
        return nullptr;
    auto* p = static_cast<unsigned char*>(raw) + header;
    reinterpret_cast<std::size_t*>(p)[-1] = n;
    reinterpret_cast<std::size_t*>(p)[-2] = header;
    live_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    return p;
}
void* counted_alloc_or_throw(std::size_t n, std::size_t align = 0)
{
    if (void* p = counted_alloc(n, align))
        return p;
    throw std::bad_alloc();
}
void counted_free(void* ptr) noexcept
{
    if (!ptr)
        return;
    auto* p = static_cast<unsigned char*>(ptr);
    const std::size_t n = reinterpret_cast<std::size_t*>(p)[-1];
    const std::size_t header = reinterpret_cast<std::size_t*>(p)[-2];
    live_bytes.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    std::free(p - header);
}
}  // namespace

void* operator new(std::size_t n)
{
    return counted_alloc_or_throw(n);
}
void* operator new[](std::size_t n)
{
    return counted_alloc_or_throw(n);
}
void* operator new(std::size_t n, std::align_val_t a)
{
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a)
{
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept
{
    counted_free(p);
}
void operator delete[](void* p) noexcept
{
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    counted_free(p);
}
void operator delete(void* p, std::align_val_t) noexcept
{
    counted_free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept
{
    counted_free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    counted_free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept
{
    counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    counted_free(p);
}

namespace connpool_bench {
namespace {

std::int64_t live() noexcept
{
    return live_bytes.load(std::memory_order_relaxed);
}

std::size_t batch() noexcept
{
    return settings().smoke ? 64 : 1024;
}

// Runs `ctx` (nobody else does) until `pool` has `n` idle connections.
bool prewarm(asio::io_context& ctx, const bench_pool& pool, std::size_t n)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pool.stats().idle < n && std::chrono::steady_clock::now() < deadline)
        ctx.poll();
    return pool.stats().idle == n;
}

// Live bytes of an io_context and a pool of n pre-warmed connections; -1 if it did not pre-warm.
std::int64_t pool_bytes(std::size_t n)
{
    const std::int64_t before = live();
    asio::io_context ctx;
    bench_pool pool(ctx.get_executor(), fake_factory{},
                    connpool::pool_options{.min_size = n, .max_size = n});
    if (!prewarm(ctx, pool, n))
        return -1;
    ctx.poll();
    return live() - before;
}

void per_connection(benchmark::State& state)
{
    const std::size_t n = batch();
    std::int64_t small = 0, large = 0;
    for (auto _ : state) {
        pool_bytes(n);  // warm-up: Asio's per-thread handler memory, first-use statics
        small = pool_bytes(n);
        large = pool_bytes(2 * n);
    }
    if (small < 0 || large < 0) {
        state.SkipWithError("the pool did not pre-warm");
        return;
    }
    const double per_conn = static_cast<double>(large - small) / static_cast<double>(n);
    state.counters["bytes_per_connection"] = per_conn - double{sizeof(fake_connection)};
    state.counters["connection_bytes"] = double{sizeof(fake_connection)};
    state.counters["fixed_bytes"] = static_cast<double>(small) - per_conn * static_cast<double>(n);
    state.counters["budget_bytes"] = 128;
    state.counters["connections"] = static_cast<double>(n);
}

struct counting_handler {
    std::size_t* completed;
    void operator()(connpool::error_code, bench_pool::handle_type) const { ++*completed; }
};

void per_waiter(benchmark::State& state)
{
    const std::size_t n = batch();
    std::int64_t parked = 0;
    std::size_t completed = 0;
    for (auto _ : state) {
        asio::io_context ctx;
        bench_pool pool(ctx.get_executor(), fake_factory{},
                        connpool::pool_options{.min_size = 1, .max_size = 1});
        if (!prewarm(ctx, pool, 1)) {
            state.SkipWithError("the pool did not pre-warm");
            return;
        }
        auto held = pool.try_acquire();  // the only connection: every acquire below waits
        // Warm-up: one waiter parked, served, and its handler run.
        pool.async_acquire(std::chrono::seconds(30), counting_handler{&completed});
        ctx.poll();
        held.reset();
        ctx.poll();
        held = pool.try_acquire();
        ctx.poll();
        const std::int64_t before = live();
        for (std::size_t i = 0; i < n; ++i)
            pool.async_acquire(std::chrono::seconds(30), counting_handler{&completed});
        ctx.poll();
        parked = live() - before;
        if (pool.stats().waiters != n) {
            state.SkipWithError("the waiters did not park");
            return;
        }
        pool.close();  // fails the waiters with pool_closed
        held.reset();
        ctx.run_for(std::chrono::seconds(5));
    }
    if (completed != n + 1) {
        state.SkipWithError("not every waiter completed after close()");
        return;
    }
    state.counters["bytes_per_waiter"] = static_cast<double>(parked) / static_cast<double>(n);
    state.counters["handler_bytes"] = double{sizeof(counting_handler)};
    state.counters["budget_bytes"] = 256;
    state.counters["waiters"] = static_cast<double>(n);
}

}  // namespace
}  // namespace connpool_bench

int main(int argc, char** argv)
{
    using namespace connpool_bench;
    std::vector<std::string> storage;
    std::vector<char*> args = parse_flags(argc, argv, storage, {});
    int n = static_cast<int>(args.size()) - 1;
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 1;
    benchmark::RegisterBenchmark("memory/per_connection", per_connection)->Iterations(1);
    benchmark::RegisterBenchmark("memory/per_waiter", per_waiter)->Iterations(1);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
