// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// async_acquire + release against a bare asio::post round trip, on one io_context run by the
// benchmark's own thread, with an idle connection always available:
//   async/post        post a handler, run it
//   async/connpool    async_acquire(handler), run the handler, which drops (releases) the lease;
//                     vs_post = its ops_per_s / async/post's
//   coro/post         a coroutine looping co_await asio::post(ctx, use_awaitable)
//   coro/connpool     a coroutine looping co_await pool.async_acquire(use_awaitable), dropping the
//                     lease; vs_post = its ops_per_s / coro/post's

#include "register.hpp"
#include "support/connpool_adapter.hpp"
#include "support/results.hpp"
#include "support/timing.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>

namespace connpool_bench {
namespace {

// A pool of one connection on `ctx`, which nobody runs yet: pre-warmed by polling it here.
struct single_thread_pool {
    explicit single_thread_pool(asio::io_context& ctx) : ctx_(ctx)
    {
        pool.emplace(ctx.get_executor(), fake_factory{},
                     connpool::pool_options{.min_size = 1, .max_size = 1});
        const auto deadline = steady::now() + std::chrono::seconds(10);
        while (pool->stats().idle < 1 && steady::now() < deadline)
            ctx.poll();
    }
    ~single_thread_pool()
    {
        pool.reset();  // closes; its handlers run below
        ctx_.restart();
        ctx_.run_for(std::chrono::seconds(1));
    }
    single_thread_pool(const single_thread_pool&) = delete;
    single_thread_pool& operator=(const single_thread_pool&) = delete;

    bool ready() const { return pool->stats().idle == 1; }

    asio::io_context& ctx_;
    std::optional<bench_pool> pool;
};

void finish(benchmark::State& state, const std::string& key, steady::time_point start,
            const char* baseline)
{
    const double ops_per_s = static_cast<double>(state.iterations()) /
                             std::chrono::duration<double>(steady::now() - start).count();
    state.SetItemsProcessed(state.iterations());
    state.counters["ops_per_s"] = ops_per_s;
    rates().record(key, state.iterations(), ops_per_s);
    if (baseline)
        set_ratio(state, "vs_post", baseline, ops_per_s);
}

// Like for like: the pool keeps a housekeeping timer armed on its io_context, as every real
// program has some I/O object on it, and Asio's scheduler then polls its reactor between
// handlers. The baselines arm one timer too, so that they measure the same scheduler work.
struct armed_timer {
    explicit armed_timer(asio::io_context& ctx) : timer(ctx)
    {
        timer.expires_after(std::chrono::hours(1));
        timer.async_wait([](const boost::system::error_code&) {});
    }
    asio::steady_timer timer;
};

void async_post(benchmark::State& state)
{
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    armed_timer timer(ctx);
    bool done = false;
    auto it = state.begin();  // the range-for spelled out: the clock starts after begin()
    const auto last = state.end();
    const auto start = steady::now();
    for (; it != last; ++it) {
        done = false;
        asio::post(ctx, [&done] { done = true; });
        while (!done)
            ctx.run_one();
    }
    finish(state, "async/post", start, nullptr);
}

void async_acquire_release(benchmark::State& state)
{
    asio::io_context ctx;
    auto guard = asio::make_work_guard(ctx);
    single_thread_pool p(ctx);
    if (!p.ready()) {
        state.SkipWithError("connpool did not pre-warm its connection");
        return;
    }
    bool done = false;
    connpool::error_code failure;
    auto it = state.begin();  // the range-for spelled out: the clock starts after begin()
    const auto last = state.end();
    const auto start = steady::now();
    for (; it != last; ++it) {
        done = false;
        p.pool->async_acquire([&](connpool::error_code ec, bench_pool::handle_type lease) {
            failure = ec;
            done = true;
            benchmark::DoNotOptimize(lease);
        });  // the lease is released when the handler returns
        while (!done)
            ctx.run_one();
        if (failure) {
            state.SkipWithError(("async_acquire failed: " + failure.message()).c_str());
            break;
        }
    }
    finish(state, "async/connpool", start, "async/post");
}

// Runs `body` as a coroutine on `ctx` until it returns; rethrows what it throws.
template <class Body>
void run_coroutine(asio::io_context& ctx, Body body)
{
    std::exception_ptr failure;
    asio::co_spawn(ctx, std::move(body), [&](std::exception_ptr e) {
        failure = e;
        ctx.stop();  // the pool's timers would keep run() going
    });
    ctx.restart();
    ctx.run();
    if (failure)
        std::rethrow_exception(failure);
}

void coro_post(benchmark::State& state)
{
    asio::io_context ctx;
    armed_timer timer(ctx);
    const auto start = steady::now();
    run_coroutine(ctx, [&]() -> asio::awaitable<void> {
        for (auto _ : state)
            co_await asio::post(ctx, asio::use_awaitable);
    });
    finish(state, "coro/post", start, nullptr);
}

void coro_acquire_release(benchmark::State& state)
{
    asio::io_context ctx;
    single_thread_pool p(ctx);
    if (!p.ready()) {
        state.SkipWithError("connpool did not pre-warm its connection");
        return;
    }
    const auto start = steady::now();
    try {
        run_coroutine(ctx, [&]() -> asio::awaitable<void> {
            for (auto _ : state) {
                auto lease = co_await p.pool->async_acquire(asio::use_awaitable);
                benchmark::DoNotOptimize(lease);
            }
        });
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    finish(state, "coro/connpool", start, "coro/post");
}

}  // namespace

void register_async()
{
    benchmark::RegisterBenchmark("async/post", async_post);
    benchmark::RegisterBenchmark("async/connpool", async_acquire_release);
    benchmark::RegisterBenchmark("coro/post", coro_post);
    benchmark::RegisterBenchmark("coro/connpool", coro_acquire_release);
}

}  // namespace connpool_bench
