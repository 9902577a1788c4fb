// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress: a two-level tree of connection limits (a root over two children), many threads each
// playing pools under it (taking units, parking connections idle, closing them, giving up,
// making room), a thread that changes the maxes of all three limits, and a sampler thread that
// checks, all the time, what a user relies on:
//   - at every level in_use never exceeds max, except while a lowered max drains, and then
//     in_use never grows (the sampler reads (max, in_use) as a consistent pair: see epoch_clock);
//   - at the end every count is back to 0 (every level, every account).
// The members are thread-safe fakes of pools: a mutex, lent connections, idle ones with their last
// use, and the same calling rules as a pool (take() under their mutex, release() and make_room()
// without it; on_units_granted takes the banked units at once). Real threads, bounded iteration
// counts; CONNPOOL_STRESS_SCALE (environment, default 1) scales them.

#include "support/stress_scale.hpp"

#include <connpool/connection_limit.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using connpool::connection_limit;
using connpool::detail::limit_account;
using connpool::detail::limit_member;

namespace {

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A thread-safe fake of a pool under a limit.
class stress_member final : public limit_member {
public:
    explicit stress_member(std::size_t min) : min_size_(min) {}
    stress_member(const stress_member&) = delete;
    stress_member& operator=(const stress_member&) = delete;

    // An acquirer arrives: an idle connection serves it, else it asks the limit for a unit.
    void acquire()
    {
        bool wait = false;
        {
            std::lock_guard lock(mtx_);
            if (!idle_.empty()) {
                idle_.pop_back();  // LIFO, as a pool
                ++lent_;
                return;
            }
            ++demand_;
            take_locked();
            wait = demand_ != 0;
        }
        account->deliver_grants();
        if (wait)
            account->make_room();
    }

    // The acquirers give up (their deadline passed): the demand is withdrawn.
    void give_up()
    {
        {
            std::lock_guard lock(mtx_);
            demand_ = 0;
            account->take(0, now_ns());
        }
        account->deliver_grants();
    }

    // A lent connection comes back: discarded when a limit is over its max, or when another pool
    // waits for a unit this one would free (fairness), else kept idle.
    void give_back(bool discard)
    {
        {
            std::lock_guard lock(mtx_);
            if (lent_ == 0)
                return;
            --lent_;
            const std::int64_t oldest = demand_ != 0 ? asked_ns_ : INT64_MAX;
            if (!discard && !account->over_max() && !account->others_waiting_before(oldest)) {
                idle_.push_back(now_ns());
                return;
            }
        }
        account->release(1);  // its destructor has returned
    }

    // The reaper closes the least recently used idle connection above min_size.
    void reap() noexcept { close_idle(true); }

    // Everything goes: the demand, then every connection.
    void shut_down()
    {
        std::size_t open = 0;
        {
            std::lock_guard lock(mtx_);
            demand_ = 0;
            account->take(0, now_ns());
            open = lent_ + idle_.size();
            lent_ = 0;
            idle_.clear();
        }
        account->release(open);
    }

    // ------------------------------------------------------------------ limit_member

    void on_units_granted() noexcept override
    {
        {
            std::lock_guard lock(mtx_);
            ++grants_seen;
            if (demand_ != 0)
                take_locked();
        }
        account->deliver_grants();
    }

    std::optional<std::int64_t> idle_to_close(bool above_min_only) noexcept override
    {
        std::lock_guard lock(mtx_);
        return oldest_locked(above_min_only);
    }

    bool close_idle(bool above_min_only) noexcept override
    {
        {
            std::lock_guard lock(mtx_);
            const auto oldest = oldest_locked(above_min_only);
            if (!oldest)
                return false;
            idle_.erase(std::find(idle_.begin(), idle_.end(), *oldest));
        }
        account->release(1);  // after the connection's destructor, without our mutex
        return true;
    }

    std::shared_ptr<limit_account> account;
    std::atomic<long> grants_seen{0};

private:
    void take_locked()
    {
        const std::size_t asked = demand_;
        const std::int64_t now = now_ns();
        const std::size_t got = account->take(asked, now);
        if (got < asked && asked_ns_ == INT64_MAX)
            asked_ns_ = now;
        if (got == asked)
            asked_ns_ = INT64_MAX;
        lent_ += got;
        demand_ -= got;
    }

    std::optional<std::int64_t> oldest_locked(bool above_min_only) const
    {
        if (idle_.empty() || (above_min_only && lent_ + idle_.size() <= min_size_))
            return std::nullopt;
        return *std::min_element(idle_.begin(), idle_.end());
    }

    const std::size_t min_size_;
    std::mutex mtx_;
    std::size_t lent_ = 0;
    std::vector<std::int64_t> idle_;  // last uses
    std::size_t demand_ = 0;          // acquirers waiting for a unit
    std::int64_t asked_ns_ = INT64_MAX;
};

// A sequence number around the resizer's set_max calls (odd while one runs): the sampler keeps a
// (max, in_use) pair only if no set_max ran while it read them, so the max it read was in force
// when the in_use it read was (see limit_node_state's mirrors: acquire loads of release stores).
struct epoch_clock {
    std::atomic<std::uint64_t> seq{0};

    template <class F>
    void change(F&& f)
    {
        seq.fetch_add(1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);  // the odd value before f's stores
        f();
        seq.fetch_add(1, std::memory_order_release);
    }
};

// What the sampler checks at one level, from consistent (epoch, max, in_use) samples: within an
// epoch (one max), in_use may grow only up to max; above max (a lowered max draining) it only
// shrinks.
struct level_check {
    explicit level_check(const char* level) : name(level) {}

    const char* name;
    std::uint64_t epoch = UINT64_MAX;
    std::size_t last_in_use = 0;
    long samples = 0, over_samples = 0, violations = 0;
    std::string first_violation;

    void sample(std::uint64_t e, std::size_t max, std::size_t in_use)
    {
        ++samples;
        if (in_use > max)
            ++over_samples;
        if (e == epoch && in_use > last_in_use && in_use > max) {
            if (violations++ == 0)
                first_violation = std::string(name) + ": in_use grew from " +
                                  std::to_string(last_in_use) + " to " + std::to_string(in_use) +
                                  " with max " + std::to_string(max);
        }
        epoch = e;
        last_in_use = in_use;
    }
};

}  // namespace

TEST_CASE("a tree of limits never counts more than its maxes while threads take, release and "
          "resize, and every count returns to 0",
          "[limit][stress]")
{
    const int rounds = 120000 * connpool::test::stress_scale();
    constexpr int workers = 4;
    constexpr int members_per_worker = 3;

    auto root = std::make_shared<connection_limit>(10);
    auto left = std::make_shared<connection_limit>(6, root);
    auto right = std::make_shared<connection_limit>(6, root);
    const std::array<connection_limit*, 3> leaves{root.get(), left.get(), right.get()};

    // Members: under each child and directly under the root, some with a min_size.
    std::vector<std::shared_ptr<stress_member>> members;
    for (int i = 0; i < workers * members_per_worker; ++i) {
        auto m = std::make_shared<stress_member>(static_cast<std::size_t>(i % 2));
        m->account = leaves[static_cast<std::size_t>(i) % leaves.size()]->join(m);
        members.push_back(std::move(m));
    }

    std::atomic<bool> stop{false};
    epoch_clock epochs;
    std::array<level_check, 3> checks{level_check{"root"}, level_check{"left"},
                                      level_check{"right"}};

    std::thread sampler([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            for (std::size_t i = 0; i < leaves.size(); ++i) {
                const std::uint64_t s1 = epochs.seq.load(std::memory_order_acquire);
                if (s1 % 2 != 0)
                    continue;
                const std::size_t max = leaves[i]->max();
                const std::size_t in_use = leaves[i]->in_use();
                std::atomic_thread_fence(std::memory_order_acquire);
                if (epochs.seq.load(std::memory_order_relaxed) != s1)
                    continue;
                checks[i].sample(s1, max, in_use);
            }
            std::this_thread::yield();  // two cores: leave the workers their share
        }
    });

    std::thread resizer([&] {
        std::mt19937 rng(7);
        while (!stop.load(std::memory_order_relaxed)) {
            const std::size_t which = rng() % 3;
            const std::size_t max = which == 0 ? 2 + rng() % 12 : 1 + rng() % 8;
            epochs.change([&] { leaves[which]->set_max(max); });
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });

    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(100 + w));
            for (int r = 0; r < rounds; ++r) {
                stress_member& m = *members[static_cast<std::size_t>(
                    w * members_per_worker + static_cast<int>(rng() % members_per_worker))];
                // Acquires outrun the returns that keep a connection: the limits stay full, pools
                // wait for units, and a lowered max has lent connections to drain.
                switch (rng() % 10) {
                case 0:
                case 1:
                case 2:
                    m.acquire();
                    break;
                case 3:
                case 4:
                case 5:
                    m.give_back(false);
                    break;
                case 6:
                    m.give_back(true);
                    break;
                case 7:
                    m.reap();
                    break;
                case 8:
                    m.give_up();
                    break;
                default:
                    std::this_thread::yield();  // hold what it has a while
                    break;
                }
            }
        });
    }
    for (auto& t : threads)
        t.join();
    stop.store(true, std::memory_order_relaxed);
    resizer.join();
    sampler.join();

    // Demand first (so nothing is granted any more), then every connection.
    for (auto& m : members)
        m->give_up();
    for (auto& m : members)
        m->shut_down();

    long grants = 0, drained = 0;
    for (const auto& c : checks)
        drained += c.over_samples;
    for (auto& m : members)
        grants += m->grants_seen.load();
    if (std::getenv("CONNPOOL_STRESS_VERBOSE")) {
        for (const auto& c : checks)
            std::printf("limit stress %s: %ld samples, %ld while draining\n", c.name, c.samples,
                        c.over_samples);
        std::printf("limit stress: %ld grants delivered\n", grants);
    }

    for (const auto& c : checks) {
        INFO(c.first_violation);
        CHECK(c.violations == 0);
        CHECK(c.samples > 0);
    }
    CHECK(grants > 0);   // units did reach waiters through the limit
    CHECK(drained > 0);  // lowered maxes did drain while the sampler looked
    CHECK(root->in_use() == 0);
    CHECK(left->in_use() == 0);
    CHECK(right->in_use() == 0);
    for (auto& m : members)
        CHECK(m->account->held() == 0);
}
