// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Regression tests for issue 7, items 4 and 5: an executor shut down under pending work. What a
// handler owns must be freed when the handler is destroyed without running (observable here
// through weak_ptrs and the fake backend's live count; LeakSanitizer sees the rest in the asan
// stage), and nothing may touch a destroyed io_context. A crash would take the whole test binary
// down, so the blocking-driver scenario runs in a child process.

#include "support/run_until.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace connpool::test;
using namespace connpool::testing;
using boost::system::error_code;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using pool_type = connpool::pool<fake_connection, connect_only_factory>;
using handle = pool_type::handle_type;

// The pool's only connection, lent: polls until the acquire completed.
handle lend_only_connection(pool_type& p, asio::io_context& ioc)
{
    handle h;
    bool done = false;
    p.async_acquire([&](error_code ec, handle l) {
        REQUIRE(!ec);
        h = std::move(l);
        done = true;
    });
    REQUIRE(run_until(ioc, [&] { return done; }));
    return h;
}

asio::awaitable<void> park_in_acquire(pool_type* p, std::shared_ptr<int> token)
{
    auto h = co_await p->async_acquire(asio::use_awaitable);
    (void)token;
}

}  // namespace

// Defect 4 (issue 7): an acquire_op whose completion was posted to an io_context that is then
// destroyed was never freed: the op, its handler, the pool state (and through it the factory)
// leaked.
TEST_CASE("an acquire waiting when the pool and then its io_context are destroyed frees its "
          "handler and the pool",
          "[regression][shutdown]")
{
    std::weak_ptr<fake_backend> weak_backend;
    std::weak_ptr<int> weak_token;
    {
        auto backend = std::make_shared<fake_backend>();
        weak_backend = backend;
        auto ioc = std::make_unique<asio::io_context>();
        auto p = std::make_unique<pool_type>(ioc->get_executor(),
                                             connect_only_factory(ioc->get_executor(), backend),
                                             connpool::pool_options{.max_size = 1});
        auto lease = lend_only_connection(*p, *ioc);
        auto token = std::make_shared<int>(0);
        weak_token = token;
        p->async_acquire([token](error_code, handle) {});
        token.reset();
        poll_all(*ioc);
        REQUIRE(p->stats().waiters == 1);

        p.reset();        // closes: the waiter fails, its completion queued, never to run
        lease.release();  // returned to a closed pool: destroyed
        CHECK(backend->live() == 0);
        backend.reset();
        ioc.reset();  // destroyed without running again
    }
    CHECK(weak_token.expired());    // the handler was destroyed
    CHECK(weak_backend.expired());  // the pool state (which holds the factory) was freed
}

// Defect 4 (issue 7): a waiter just handed a connection, its completion still queued when the
// io_context is destroyed: the connection must be destroyed with the handler, not leak.
TEST_CASE("a connection handed to a waiter whose io_context is destroyed before it runs is "
          "destroyed",
          "[regression][shutdown]")
{
    std::weak_ptr<fake_backend> weak_backend;
    std::weak_ptr<int> weak_token;
    long live_at_end = -1;
    {
        auto backend = std::make_shared<fake_backend>();
        weak_backend = backend;
        auto ioc = std::make_unique<asio::io_context>();
        auto p = std::make_unique<pool_type>(ioc->get_executor(),
                                             connect_only_factory(ioc->get_executor(), backend),
                                             connpool::pool_options{.max_size = 1});
        auto lease = lend_only_connection(*p, *ioc);
        auto token = std::make_shared<int>(0);
        weak_token = token;
        p->async_acquire([token](error_code, handle) {});
        token.reset();
        poll_all(*ioc);
        REQUIRE(p->stats().waiters == 1);

        lease.release();  // handed to the waiter: its completion is queued
        REQUIRE(p->stats().waiters == 0);
        p.reset();
        ioc.reset();  // ... and destroyed without running
        live_at_end = backend->live();
    }
    CHECK(live_at_end == 0);
    CHECK(weak_token.expired());
    CHECK(weak_backend.expired());
}

// Defect 4 (issue 7): a coroutine parked in async_acquire when the pool and its io_context go:
// the coroutine frame (and what it holds) must be destroyed.
TEST_CASE("a coroutine parked in async_acquire is destroyed with its io_context",
          "[regression][shutdown]")
{
    std::weak_ptr<fake_backend> weak_backend;
    std::weak_ptr<int> weak_token;
    {
        auto backend = std::make_shared<fake_backend>();
        weak_backend = backend;
        auto ioc = std::make_unique<asio::io_context>();
        auto p = std::make_unique<pool_type>(ioc->get_executor(),
                                             connect_only_factory(ioc->get_executor(), backend),
                                             connpool::pool_options{.max_size = 1});
        auto lease = lend_only_connection(*p, *ioc);
        auto token = std::make_shared<int>(0);
        weak_token = token;
        asio::co_spawn(*ioc, park_in_acquire(p.get(), std::move(token)), asio::detached);
        REQUIRE(run_until(*ioc, [&] { return p->stats().waiters == 1; }));

        p.reset();
        lease.release();
        CHECK(backend->live() == 0);
        backend.reset();
        ioc.reset();
    }
    CHECK(weak_token.expired());  // the coroutine frame was destroyed
    CHECK(weak_backend.expired());
}

// ================================================================================ item 5

namespace {

// A driver whose connect() blocks until the test opens the gate.
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool entered = false;
    bool open = false;
    std::atomic<bool> driver_gone{false};
};

struct gated_connection {
    int id = 0;
};

struct gated_driver {
    explicit gated_driver(std::shared_ptr<gate> gt) : g(std::move(gt)) {}
    gated_driver(gated_driver&& o) noexcept : g(std::move(o.g)) {}
    gated_driver& operator=(gated_driver&&) = delete;
    ~gated_driver()
    {
        if (g)
            g->driver_gone = true;
    }

    gated_connection connect()
    {
        std::unique_lock lk(g->m);
        g->entered = true;
        g->cv.notify_all();
        g->cv.wait(lk, [&] { return g->open; });
        return gated_connection{1};
    }

    std::shared_ptr<gate> g;
};

// The child's scenario; its exit status: 0 fine, 2 the driver was never released (leak),
// 3 the connect never started. A crash (SIGSEGV, an ASan report) ends the child otherwise.
int blocking_connect_outlives_io_context()
{
    auto g = std::make_shared<gate>();
    {
        using factory = connpool::blocking_factory<gated_driver>;
        auto ioc = std::make_unique<asio::io_context>();
        auto p = std::make_unique<connpool::pool<gated_connection, factory>>(
            ioc->get_executor(), factory(gated_driver(g), 1),
            connpool::pool_options{.min_size = 1, .max_size = 1});
        const bool entered = wait_until([&] {
            ioc->poll();
            std::lock_guard lk(g->m);
            return g->entered;
        });
        if (!entered)
            return 3;
        ioc->stop();
        p.reset();
        // Opens the gate once the io_context is gone, or after a bound if its destruction waits
        // for the connect (as Asio's resolver does).
        std::atomic<bool> ioc_gone{false};
        std::thread opener([&] {
            wait_until([&] { return ioc_gone.load(); }, 500ms);
            std::lock_guard lk(g->m);
            g->open = true;
            g->cv.notify_all();
        });
        ioc.reset();
        ioc_gone = true;
        opener.join();
    }
    return wait_until([&] { return g->driver_gone.load(); }) ? 0 : 2;
}

}  // namespace

// Defect 5 (issue 7): blocking_factory's worker posted the connect's completion to the executor
// of an io_context destroyed meanwhile (SIGSEGV; heap-use-after-free under ASan).
TEST_CASE("a blocking connect that returns after the pool and its io_context are destroyed is "
          "harmless",
          "[regression][shutdown]")
{
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child reports through its exit status only, not through Catch's signal handlers.
        for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE})
            std::signal(sig, SIG_DFL);
        ::_exit(blocking_connect_outlives_io_context());
    }
    int status = 0;
    const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 60s);
    if (!ended) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
    }
    CHECK(ended);
    INFO("child status " << status << (WIFSIGNALED(status) ? " (killed by signal " : " (exit ")
                         << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)) << ")");
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
