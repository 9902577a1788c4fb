// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// keyed_pool's hot path against pool's, in the same run (issue 10, item 7: keyed_pool::try_acquire
// of an existing key within 2x of pool's), with 1 thread and with 2 threads on one key:
//   keyed/pool    pool::try_acquire() + release; the pool holds one connection per thread
//   keyed/keyed   keyed_pool::try_acquire(key) + release of one key held, whose pool holds one
//                 connection per thread; vs_pool = its ops_per_s / keyed/pool's at the same
//                 thread count (ops_per_s counts the pairs of all threads together)
//   keyed/shared_mutex   the design keyed_pool does not use, for comparison: the pool behind a
//                 std::shared_mutex and a std::unordered_map lookup of the same key (see
//                 detail/keyed/read_mostly_lock.hpp); vs_pool as above

#include "register.hpp"
#include "support/connpool_adapter.hpp"
#include "support/results.hpp"
#include "support/timing.hpp"

#include <connpool/keyed_pool.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace connpool_bench {
namespace {

// The adapter's factory, with the key the keyed pool passes (ignored: every key connects alike).
struct keyed_fake_factory {
    fake_factory plain;

    template <class CompletionToken>
    auto async_connect(const std::string&, CompletionToken&& token)
    {
        return plain.async_connect(std::forward<CompletionToken>(token));
    }
};

using bench_keyed_pool = connpool::keyed_pool<std::string, fake_connection, keyed_fake_factory>;

// A keyed pool with one key held (a short string, as a "database/user" key is), its pool
// pre-warmed with `connections`, on an io_context run by a thread of its own.
class keyed_setup {
public:
    static inline const std::string key = "db1/alice";

    explicit keyed_setup(std::size_t connections)
    {
        pool_.emplace(io_.get_executor(), keyed_fake_factory{},
                      connpool::keyed_pool_options{
                          .per_key = {.min_size = connections, .max_size = connections}});
        pool_->acquire(key, std::chrono::seconds(10)).release();  // creates the key
        wait_until_idle([this] { return pool_->stats(key).idle; }, connections);
    }
    keyed_setup(const keyed_setup&) = delete;
    keyed_setup& operator=(const keyed_setup&) = delete;
    ~keyed_setup()
    {
        pool_.reset();
        io_.stop();
    }

    bench_keyed_pool& pool() noexcept { return *pool_; }

private:
    io_thread io_;
    std::optional<bench_keyed_pool> pool_;
};

double seconds_between(steady::time_point a, steady::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// The loop both benchmarks run: `take()` + release per iteration, timed between the start and
// end barriers; thread 0 records ops/s of all threads together under `name` and returns it.
template <class Take>
double run_pairs(benchmark::State& state, const std::string& name, Take take)
{
    auto it = state.begin();  // waits for every thread
    const auto last = state.end();
    const auto start = steady::now();
    for (; it != last; ++it) {
        auto lease = take();
        if (!lease) {
            state.SkipWithError("try_acquire found no idle connection");
            break;
        }
        benchmark::DoNotOptimize((*lease)->id);
    }  // released here
    const auto end = steady::now();
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        const double ops_per_s = static_cast<double>(state.iterations()) *
                                 static_cast<double>(state.threads()) / seconds_between(start, end);
        state.counters["ops_per_s"] = ops_per_s;
        rates().record(name, state.iterations(), ops_per_s);
        return ops_per_s;
    }
    return 0;
}

std::string pool_key(const benchmark::State& state)
{
    return "keyed/pool/threads:" + std::to_string(state.threads());
}

void pool_try_acquire(benchmark::State& state)
{
    static std::unique_ptr<connpool_blocking> setup;  // set up and torn down by thread 0
    if (state.thread_index() == 0)
        setup = std::make_unique<connpool_blocking>(static_cast<std::size_t>(state.threads()));
    run_pairs(state, pool_key(state), [] { return setup->pool().try_acquire(); });
    if (state.thread_index() == 0)
        setup.reset();
}

void keyed_try_acquire(benchmark::State& state)
{
    static std::unique_ptr<keyed_setup> setup;
    if (state.thread_index() == 0)
        setup = std::make_unique<keyed_setup>(static_cast<std::size_t>(state.threads()));
    const std::string name = "keyed/keyed/threads:" + std::to_string(state.threads());
    const double ops_per_s =
        run_pairs(state, name, [] { return setup->pool().try_acquire(keyed_setup::key); });
    if (state.thread_index() == 0) {
        set_ratio(state, "vs_pool", pool_key(state), ops_per_s);
        setup.reset();
    }
}

// The pool behind a lookup under a std::shared_mutex, as a keyed pool built on one would be.
class shared_mutex_setup {
public:
    explicit shared_mutex_setup(std::size_t connections) : pool_(connections)
    {
        map_.emplace(keyed_setup::key, &pool_);
    }
    std::optional<bench_pool::handle_type> try_acquire(const std::string& key)
    {
        std::shared_lock lk(mtx_);
        const auto it = map_.find(key);
        if (it == map_.end())
            return std::nullopt;
        return it->second->pool().try_acquire();
    }

private:
    connpool_blocking pool_;
    std::shared_mutex mtx_;
    std::unordered_map<std::string, connpool_blocking*> map_;
};

void shared_mutex_try_acquire(benchmark::State& state)
{
    static std::unique_ptr<shared_mutex_setup> setup;
    if (state.thread_index() == 0)
        setup = std::make_unique<shared_mutex_setup>(static_cast<std::size_t>(state.threads()));
    const double ops_per_s =
        run_pairs(state, "keyed/shared_mutex/threads:" + std::to_string(state.threads()),
                  [] { return setup->try_acquire(keyed_setup::key); });
    if (state.thread_index() == 0) {
        set_ratio(state, "vs_pool", pool_key(state), ops_per_s);
        setup.reset();
    }
}

}  // namespace

void register_keyed()
{
    benchmark::RegisterBenchmark("keyed/pool", pool_try_acquire)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark("keyed/keyed", keyed_try_acquire)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark("keyed/shared_mutex", shared_mutex_try_acquire)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
}

}  // namespace connpool_bench
