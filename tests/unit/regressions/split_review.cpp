// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Review of the engine split (45172a0 -> 7f9061b..): behaviour the split changed. Each test passes
// on 45172a0 and fails on the split engine; see the comment of each. Public API only, so the file
// builds against both trees. The factory and the clock are the file's own: they carry hooks
// (a connection's destructor, is_healthy, the clock's reads) that pin an interleaving exactly.
// Where a test needs real threads, every wait is bounded against hangs.

#include <connpool/connpool.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

// A steady clock that counts its reads per thread and can run a one-shot hook (per thread) inside
// a read.
struct counting_clock {
    using duration = std::chrono::steady_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<counting_clock>;
    [[maybe_unused]] static constexpr bool is_steady = true;

    static time_point now() noexcept
    {
        ++reads;
        if (hook) {
            auto h = std::exchange(hook, nullptr);
            h();
        }
        return time_point(std::chrono::steady_clock::now().time_since_epoch());
    }

    static inline thread_local long reads = 0;
    static inline thread_local std::function<void()> hook;
};

// A flag a thread waits for, bounded.
class gate {
public:
    void open()
    {
        std::lock_guard lk(m_);
        open_ = true;
        cv_.notify_all();
    }
    bool wait(std::chrono::milliseconds limit = 10s)
    {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, limit, [this] { return open_; });
    }
    bool is_open()
    {
        std::lock_guard lk(m_);
        return open_;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

struct probe {
    std::atomic<int> next_id{0};
    std::function<void(int)> on_destroy;    // set before threads start, read only afterwards
    std::function<bool(int)> healthy_hook;  // idem
    std::atomic<int> last_destroyed{0};
    std::atomic<int> last_destroyed_at_pool_end{-1};  // when the pool (its factory) was destroyed
};

struct conn {
    conn() = default;
    conn(int i, std::shared_ptr<probe> p) : id(i), pr(std::move(p)) {}
    conn(conn&& o) noexcept : id(std::exchange(o.id, 0)), pr(std::move(o.pr)) {}
    conn& operator=(conn&&) = delete;
    ~conn()
    {
        if (id != 0 && pr) {
            if (pr->on_destroy)
                pr->on_destroy(id);
            pr->last_destroyed = id;
        }
    }
    int id = 0;
    std::shared_ptr<probe> pr;
};

// Connects succeed (posted to the handler's executor); is_healthy asks the probe's hook.
struct hook_factory {
    explicit hook_factory(std::shared_ptr<probe> p) : pr(std::move(p)) {}
    hook_factory(hook_factory&& o) noexcept = default;
    hook_factory& operator=(hook_factory&&) = delete;
    ~hook_factory()
    {
        if (pr)
            pr->last_destroyed_at_pool_end = pr->last_destroyed.load();
    }

    template <class Token>
    auto async_connect(Token&& token)
    {
        return asio::async_initiate<Token, void(error_code, conn)>(
            [pr = pr](auto handler) {
                auto ex = asio::get_associated_executor(handler);
                conn c(++pr->next_id, pr);
                asio::post(ex, [h = std::move(handler), c = std::move(c)]() mutable {
                    h(error_code{}, std::move(c));
                });
            },
            token);
    }

    bool is_healthy(const conn& c) const
    {
        return pr->healthy_hook ? pr->healthy_hook(c.id) : true;
    }

    std::shared_ptr<probe> pr;
};

using pool_type = connpool::pool<conn, hook_factory, counting_clock>;
using handle = pool_type::handle_type;

// Acquires `n` connections with async_acquire, polling `ioc` until each is served.
std::vector<handle> acquire_n(pool_type& p, asio::io_context& ioc, int n)
{
    std::vector<handle> out;
    for (int i = 0; i < n; ++i) {
        std::optional<handle> got;
        error_code got_ec;
        p.async_acquire(5s, [&](error_code ec, handle h) {
            got_ec = ec;
            got.emplace(std::move(h));
        });
        for (int k = 0; k < 100000 && !got; ++k) {
            ioc.restart();
            ioc.poll();
            if (!got)
                std::this_thread::yield();
        }
        REQUIRE(got);
        REQUIRE(!got_ec);
        REQUIRE(*got);
        out.push_back(std::move(*got));
    }
    return out;
}

}  // namespace

// park_in_thread_cache, split engine (pool_impl.hpp, idle_set::park): the thread's older cached
// connection is claimed, the returned one is stored as `cached`, and only then is the older one
// offered. Before the split the older one was offered first, while the returned connection was
// still `lent`: invisible to a drain, so it kept the pool's size above zero and an orphaned pool
// alive until park_in_thread_cache was done with it. Now a close() that lands between the
// returner's health check and its offer makes that offer's drain take (and destroy) the returned
// connection as well; when the pool is orphaned, the last free_slot deletes it and
// park_in_thread_cache goes on to read waiters_count_, closed_ and the slot from freed memory
// (AddressSanitizer: heap-use-after-free in park_in_thread_cache).
//
// Pinned with hooks: A returns `s` while `older` sits in A's cache and stops in is_healthy(s)
// (after its closed_ check); C's broken return stops in a clock read under the pool's mutex; B
// destroys the pool object, whose close() sets closed_ and blocks on that mutex (before its
// drain); A goes on. Then the pool's last reference goes (on_owners_gone: orphaned) while A is
// destroying `older`.
// The deterministic assertion: the connection being returned is the last one destroyed before
// the pool object is (it keeps the pool alive until its returner is done). Under ASan the split
// engine also aborts with the use-after-free.
TEST_CASE("split review: a return racing the pool's end destroys the returned connection last "
          "(no use of a deleted pool in park_in_thread_cache)",
          "[split_review][lifetime][thread_cache]")
{
    auto pr = std::make_shared<probe>();
    asio::io_context ioc;
    auto pool_ptr = std::make_unique<pool_type>(ioc.get_executor(), hook_factory(pr),
                                                connpool::pool_options{.max_size = 3});
    auto leases = acquire_n(*pool_ptr, ioc, 3);
    const int older_id = leases[0]->id;
    const int s_id = leases[1]->id;
    const int c_id = leases[2]->id;

    gate a_in_healthy, go_a, a_in_older_dtor, go_a2, c_holds_mutex, go_c;
    std::atomic<bool> healthy_hooked{false};
    pr->healthy_hook = [&](int id) {
        if (id == s_id && !healthy_hooked.exchange(true)) {
            a_in_healthy.open();
            go_a.wait();
        }
        return true;
    };
    pr->on_destroy = [&](int id) {
        if (id == older_id) {
            a_in_older_dtor.open();
            go_a2.wait();
        } else if (id == c_id) {
            // The next clock read on this thread is free_slot's, under the pool's mutex.
            counting_clock::hook = [&] {
                c_holds_mutex.open();
                go_c.wait();
            };
        }
    };

    handle older = std::move(leases[0]);
    handle s = std::move(leases[1]);
    handle c = std::move(leases[2]);

    std::thread a([&] {
        older.release();  // into A's thread cache
        s.release();      // stops in is_healthy(s), then parks s and offers `older`
    });
    REQUIRE(a_in_healthy.wait());
    std::thread ct([&] {
        c.invalidate();
        c.release();  // stops in free_slot's clock read, holding the pool's mutex
    });
    REQUIRE(c_holds_mutex.wait());
    std::thread b([&] { pool_ptr.reset(); });  // close(): closed_ = true, then waits for the mutex
    std::this_thread::sleep_for(200ms);
    go_a.open();
    std::this_thread::sleep_for(200ms);  // A reaches the mutex (split) or older's destructor (old)
    go_c.open();
    ct.join();
    b.join();
    REQUIRE(a_in_older_dtor.wait());
    // The pool object is gone; run its close's posted work: the last reference goes, and
    // on_owners_gone leaves the pool orphaned (a connection is still counted).
    for (int k = 0; k < 10; ++k) {
        ioc.restart();
        ioc.poll();
    }
    CHECK(pr->last_destroyed_at_pool_end.load() == -1);  // still alive: A's return is not done
    go_a2.open();
    a.join();

    CHECK(pr->last_destroyed_at_pool_end.load() == s_id);
}

// return_slot, split engine (pool_impl.hpp: `const time_point now = stamps::now();` before
// judge_return): an invalidated lease now reads the stamp clock before it is discarded. Before
// the split, a broken return went straight to discard; the only read was free_slot's (sizing).
TEST_CASE("split review: an invalidated lease's return reads the clock once, as before the split",
          "[split_review][clock]")
{
    auto pr = std::make_shared<probe>();
    asio::io_context ioc;
    pool_type p(ioc.get_executor(), hook_factory(pr), connpool::pool_options{.max_size = 1});
    auto leases = acquire_n(p, ioc, 1);
    leases[0].invalidate();
    counting_clock::reads = 0;
    leases[0].release();
    CHECK(counting_clock::reads == 1);  // free_slot's plan_connects_locked(Clock::now())
    CHECK(p.stats().destroyed_broken == 1);
}

// offer, split engine (pool_impl.hpp: due_for_validation(const slot_type&, time_point now =
// stamps::now())): judge_lend's due-for-validation question reads the clock through the default
// argument even when the factory has no async_ping (the answer is always no). Before the split
// due_for_validation read the clock only with async_ping. A return handed straight to a waiter
// (offer_check::usable) pays one extra read: 4 instead of 3 (return_slot's stamp,
// left_queue_locked's wait time, lend's stamp).
TEST_CASE("split review: a return handed to a waiter reads the clock as before the split "
          "(no validation clock read without async_ping)",
          "[split_review][clock]")
{
    auto pr = std::make_shared<probe>();
    asio::io_context ioc;
    pool_type p(ioc.get_executor(), hook_factory(pr), connpool::pool_options{.max_size = 1});
    auto leases = acquire_n(p, ioc, 1);
    std::optional<handle> got;
    p.async_acquire(5s, [&](error_code ec, handle h) {
        REQUIRE(!ec);
        got.emplace(std::move(h));
    });
    ioc.restart();
    ioc.poll();
    REQUIRE(p.stats().waiters == 1);
    counting_clock::reads = 0;
    leases[0].release();
    CHECK(counting_clock::reads == 3);
    for (int k = 0; k < 100 && !got; ++k) {
        ioc.restart();
        ioc.poll();
    }
    REQUIRE(got);
    CHECK(static_cast<bool>(*got));
}
