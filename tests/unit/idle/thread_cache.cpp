// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The thread-affine cache in front of the idle stack (idle_stack.hpp): a thread reuses the
// connection it returned last, and a cached connection is never hidden from other threads,
// waiters, the reaper, clear() or close().

#include "support/pool_fixture.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

using namespace connpool::test;
using namespace connpool::testing;
using F = fixture<>;

namespace {

// A thread that keeps its identity (and so its thread cache) across tasks; run() waits for the
// task to finish.
class worker {
public:
    worker() : thread_([this] { loop(); }) {}
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;
    ~worker()
    {
        {
            std::lock_guard lk(mtx_);
            quit_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    void run(std::function<void()> task)
    {
        std::unique_lock lk(mtx_);
        task_ = std::move(task);
        cv_.notify_all();
        cv_.wait(lk, [this] { return !task_; });
    }

private:
    void loop()
    {
        std::unique_lock lk(mtx_);
        for (;;) {
            cv_.wait(lk, [this] { return quit_ || task_; });
            if (quit_)
                return;
            task_();
            task_ = nullptr;
            cv_.notify_all();
        }
    }

    std::mutex mtx_;
    std::condition_variable cv_;
    std::function<void()> task_;
    bool quit_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

}  // namespace

TEST_CASE_METHOD(F, "each thread reuses the connection it returned last", "[thread_cache][lifo]")
{
    make_pool({.min_size = 2, .max_size = 2});
    REQUIRE(stats().idle == 2);
    worker t1, t2;
    std::optional<handle> h1, h2;
    t1.run([&] { h1 = pool().try_acquire(); });
    t2.run([&] { h2 = pool().try_acquire(); });
    REQUIRE(h1);
    REQUIRE(h2);
    const int id1 = (*h1)->id, id2 = (*h2)->id;
    t1.run([&] { h1.reset(); });
    t2.run([&] { h2.reset(); });  // returned last: a shared LIFO would give it to t1 next
    t1.run([&] { h1 = pool().try_acquire(); });
    t2.run([&] { h2 = pool().try_acquire(); });
    REQUIRE(h1);
    REQUIRE(h2);
    CHECK((*h1)->id == id1);
    CHECK((*h2)->id == id2);
    t1.run([&] { h1.reset(); });
    t2.run([&] { h2.reset(); });
}

TEST_CASE_METHOD(F, "a connection cached by another thread is lent when nothing else is idle",
                 "[thread_cache]")
{
    make_pool({.min_size = 1, .max_size = 1});
    worker t;
    t.run([&] {
        auto h = pool().try_acquire();
        REQUIRE(h);
    });  // returned on t: cached there
    CHECK(stats().idle == 1);
    auto mine = pool().try_acquire();  // this thread's cache is empty and so is the stack
    REQUIRE(mine);
    CHECK(stats().in_use == 1);
    CHECK(backend->connects_started() == 1);
}

TEST_CASE_METHOD(F, "a connection returned on another thread goes to the oldest waiter",
                 "[thread_cache][handoff]")
{
    auto& p = make_pool({.max_size = 1});
    std::optional<handle> held{acquire_now()};
    auto waiting = start_acquire(3600s);
    REQUIRE(!waiting->called());
    worker t;
    t.run([&] { held.reset(); });  // t would cache it, but someone waits
    poll();
    REQUIRE(waiting->called_once());
    CHECK(!waiting->ec());
    CHECK(p.stats().waiters == 0);
    CHECK(p.stats().idle == 0);
}

TEST_CASE_METHOD(F, "clear() discards connections cached by other threads", "[thread_cache][clear]")
{
    auto& p = make_pool({.max_size = 2});
    worker t;
    t.run([&] {
        auto a = pool().try_acquire();
        (void)a;
    });
    auto h = acquire_now();
    worker u;
    std::optional<handle> moved{std::move(h)};
    u.run([&] { moved.reset(); });  // cached on u
    REQUIRE(p.stats().idle == 1);
    p.clear();
    poll();
    CHECK(p.stats().destroyed_cleared == 1);
    CHECK(p.stats().idle == 0);
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "close() destroys connections cached by other threads", "[thread_cache][close]")
{
    auto& p = make_pool({.max_size = 2});
    std::optional<handle> h{acquire_now()};
    worker t;
    t.run([&] { h.reset(); });
    REQUIRE(p.stats().idle == 1);
    p.close();
    poll();
    CHECK(p.stats().destroyed_closed == 1);
    CHECK(backend->live() == 0);
}

TEST_CASE_METHOD(F, "idle reaping closes a surplus connection cached by another thread",
                 "[thread_cache][idle]")
{
    auto& p = make_pool({.max_size = 2, .idle_timeout = 1s});
    std::optional<handle> h{acquire_now()};
    worker t;
    t.run([&] { h.reset(); });
    REQUIRE(p.stats().idle == 1);
    advance_in_steps(3s, 50ms);
    CHECK(p.stats().destroyed_idle == 1);
    CHECK(p.stats().size == 0);
}
