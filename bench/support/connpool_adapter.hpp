// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_CONNPOOL_ADAPTER_HPP
#define CONNPOOL_BENCH_SUPPORT_CONNPOOL_ADAPTER_HPP

// connpool as the benchmarks see it: a trivial in-process connection, a factory that connects at
// once, and a pool pre-warmed with P connections whose executor is an io_context run by a thread
// of its own.

#include "fake_connection.hpp"

#include <connpool/connpool.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace connpool_bench {

namespace asio = boost::asio;

// Connects at once; the completion is posted to the handler's executor (never inline).
// Called by the pool on its strand, one call at a time.
struct fake_factory {
    std::uint64_t next_id = 0;

    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(connpool::error_code, fake_connection)>(
            [this](auto handler) {
                auto ex = asio::get_associated_executor(handler);
                asio::post(ex, [h = std::move(handler), c = fake_connection{++next_id}]() mutable {
                    std::move(h)(connpool::error_code{}, c);
                });
            },
            token);
    }
};

using bench_pool = connpool::pool<fake_connection, fake_factory>;

// Waits (polling, real time) until `idle()` reaches `n`: the pre-warmed connections of a pool.
template <class IdleCount>
void wait_until_idle(IdleCount idle, std::size_t n)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (idle() < n) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("connpool did not pre-warm " + std::to_string(n) +
                                     " connections within 10 s");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

inline void wait_until_idle(const bench_pool& pool, std::size_t n)
{
    wait_until_idle([&pool] { return pool.stats().idle; }, n);
}

// An io_context run by a thread of its own, the executor of the pools under test.
class io_thread {
public:
    io_thread() : guard_(asio::make_work_guard(ctx_)), runner_([this] { ctx_.run(); }) {}
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    ~io_thread() { stop(); }

    asio::io_context::executor_type get_executor() noexcept { return ctx_.get_executor(); }

    // Once the pools are gone: the runner returns when their close has run out of work; a pool
    // that keeps work pending must not hang the benchmark.
    void stop()
    {
        if (!runner_.joinable())
            return;
        guard_.reset();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!ctx_.stopped() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ctx_.stop();
        runner_.join();
    }

private:
    asio::io_context ctx_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::thread runner_;
};

// What a scenario sets beyond a pool's size: a connection_limit the pool shares, the use-time
// histogram, leak detection, an observer (each one's cost on the fast path).
struct connpool_extras {
    std::shared_ptr<connpool::connection_limit> limit{};
    bool measure_use_time = false;
    std::chrono::milliseconds leak_threshold{0};
    std::shared_ptr<connpool::pool_observer<fake_connection>> observer{};
};

// The blocking interface of the harness (blocking_harness.hpp): acquire() with a deadline,
// release(), an empty lease on failure.
class connpool_blocking {
public:
    using lease = bench_pool::handle_type;
    static constexpr const char* name = "connpool";

    using extras = connpool_extras;

    explicit connpool_blocking(std::size_t connections, extras x = {})
    {
        pool_.emplace(io_.get_executor(), fake_factory{},
                      connpool::pool_options{.min_size = connections,
                                             .max_size = connections,
                                             .leak_threshold = x.leak_threshold,
                                             .limit = std::move(x.limit),
                                             .measure_use_time = x.measure_use_time},
                      std::move(x.observer));
        wait_until_idle(*pool_, connections);
    }

    connpool_blocking(const connpool_blocking&) = delete;
    connpool_blocking& operator=(const connpool_blocking&) = delete;

    ~connpool_blocking()
    {
        pool_.reset();  // closes: the pool's timers are cancelled, its connections destroyed
        io_.stop();
    }

    lease acquire()
    {
        connpool::error_code ec;
        return pool_->acquire(std::chrono::seconds(30), ec);
    }
    static void release(lease& l) noexcept { l.release(); }
    static bool ok(const lease& l) noexcept { return static_cast<bool>(l); }

    std::size_t waiters() const noexcept { return pool_->stats().waiters; }
    bench_pool& pool() noexcept { return *pool_; }

private:
    io_thread io_;
    std::optional<bench_pool> pool_;
};

// connpool with pool_options::measure_use_time on: what the use-time histogram costs, against
// connpool_blocking in the same run.
class connpool_use_time_blocking : public connpool_blocking {
public:
    static constexpr const char* name = "connpool_use_time";
    explicit connpool_use_time_blocking(std::size_t connections)
        : connpool_blocking(connections, {.measure_use_time = true})
    {
    }
};

}  // namespace connpool_bench

#endif
