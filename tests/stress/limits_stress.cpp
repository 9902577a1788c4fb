// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress (issue 10, item 1): real pools under a two-level tree of connection limits, hammered
// from every side at once, and a sampler that checks all the time what the limits promise, by
// counting what the backends see (not what the pools or the limits say about themselves):
//   - the tree: a root limit; two child limits under it; pools under each child and directly
//     under the root, each position with its own fake backend (its "server");
//   - threads acquire in every way (blocking with short timeouts, try_acquire, async with
//     per-operation cancellation), use, invalidate and release;
//   - a fault injector makes connects fail, stay pending (then completes some of them late, or
//     lets them time out) and pings fail;
//   - a resizer calls resize() on the pools and set_max() on the limits at random;
//   - a replacer destroys pools and creates new ones in their place while they are in use, and
//     calls clear();
//   - the sampler reads, continuously, the backends' counts of each limit (connections that exist
//     plus connects not answered yet) and checks that they never exceed the limit's max, except
//     while a lowered max drains, and then that they never grow beyond what the limit counted
//     when it was lowered (or since, as it drains): the connects whose unit was taken before
//     set_max returned may still reach the backend, no other.
// At the end: every acquire completed, the pools' invariants hold, every connection is gone, and
// every limit counts 0 once the pools are gone. Runs for a fixed real time (scaled by
// CONNPOOL_STRESS_SCALE); CONNPOOL_STRESS_VERBOSE prints what happened.
//
// How the sampler counts without a global lock. A backend's count is started - failed -
// destroyed (connects started; connects whose completion ran with an error; connections whose
// destructor ran), three counters that only grow. A connect starts after the pool took its unit,
// and a failure or a destruction is counted before the pool releases the unit, so the real count
// of a limit's backends is never above what the limit counts. Summing several backends is not one
// snapshot, but with counters that only grow, reading every `started` first and every `failed`
// and `destroyed` after gives a LOWER bound of the count at every instant between the two reads,
// A lower bound above what the limit allows is a real excess: no false alarm, whatever the
// interleaving.
// What the limit allows, after a sample that saw it count `in_use` under max `m`: at most
// max(m, in_use) from then on, until the max changes (a limit counts more only where it has
// room, and a pool connects only with a unit the limit counts).

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>
#include <connpool/testing/invariants.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

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
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;
using connpool::connection_limit;
using connpool::errc;
namespace asio = boost::asio;

namespace {

using pool_type = connpool::pool<fake_connection, ping_factory>;  // real steady_clock
using handle = pool_type::handle_type;

// The levels of the tree and the positions (pool places) each counts.
constexpr std::size_t position_count = 6;
enum level : std::size_t { root_level, left_level, right_level, level_count };
constexpr std::array<const char*, level_count> level_names{"root", "left", "right"};
// Positions 0-1 under the left child, 2-3 under the right one, 4-5 directly under the root.
constexpr std::size_t leaf_level_of(std::size_t position)
{
    return position < 2 ? left_level : position < 4 ? right_level : root_level;
}
constexpr bool counts(std::size_t lvl, std::size_t position)
{
    return lvl == root_level || leaf_level_of(position) == lvl;
}

// One place in the tree: its backend for the whole run, and the pool there now (replaced at
// times). Threads take a reference to the pool under the mutex and use it without.
struct position {
    std::shared_ptr<fake_backend> backend = std::make_shared<fake_backend>();
    std::mutex mtx;
    std::shared_ptr<pool_type> pool;

    std::shared_ptr<pool_type> get()
    {
        std::lock_guard lk(mtx);
        return pool;
    }
    std::shared_ptr<pool_type> exchange(std::shared_ptr<pool_type> p)
    {
        std::lock_guard lk(mtx);
        std::swap(pool, p);
        return p;
    }
};

// What the workers saw (they never call Catch2, which is not thread-safe).
struct tally {
    std::atomic<long> ok{0}, errors{0}, unexpected{0}, tries{0}, async_started{0},
        async_completed{0}, twice{0};
    std::mutex mtx;
    std::vector<std::string> notes;

    void record(const error_code& ec, bool got_handle)
    {
        if (!ec && got_handle) {
            ++ok;
            return;
        }
        if (!ec || got_handle) {
            note("an acquire completed with both or neither of an error and a connection");
            return;
        }
        // What a caller may be told while the pool is resized, replaced, or its backend fails.
        if (ec == errc::acquire_timeout || ec == errc::connect_timeout || ec == errc::pool_closed ||
            ec == errc::pool_exhausted || ec == asio::error::connection_refused ||
            ec == asio::error::operation_aborted)
            ++errors;
        else
            note("unexpected error: " + ec.message());
    }
    void note(const std::string& what)
    {
        ++unexpected;
        std::lock_guard lk(mtx);
        if (notes.size() < 10)
            notes.push_back(what);
    }
    std::string report()
    {
        std::ostringstream os;
        os << "ok=" << ok << " errors=" << errors << " unexpected=" << unexpected
           << " try_acquire=" << tries << " async started=" << async_started
           << " completed=" << async_completed;
        std::lock_guard lk(mtx);
        for (const auto& n : notes)
            os << "\n  " << n;
        return os.str();
    }
};

// Uses a lease as a caller would: marks it held (a second holder is a violation), touches it,
// sometimes declares it broken, gives it back.
void use(fake_backend& backend, handle& h, std::mt19937& rng)
{
    backend.mark_lent(h->id);
    h->uses++;  // a data race here would mean two holders (TSan sees it)
    if (rng() % 4 == 0)
        std::this_thread::yield();
    const bool broken = rng() % 12 == 0;
    backend.mark_returned(h->id);
    if (broken)
        h.invalidate();
    h.release();
}

// The maxes the resizer set, with a sequence number around each set_max (odd while one runs): a
// sample read while the number stayed even and unchanged saw one max per limit, in force all the
// while. The log keeps every max set, so that the sampler knows the highest one in force since
// its last sample, even if it did not see it.
struct max_log {
    std::atomic<std::uint64_t> seq{0};
    std::mutex mtx;
    std::vector<std::array<std::size_t, level_count>> history;  // the maxes after each change

    template <class F>
    void change(const std::array<std::size_t, level_count>& after, F&& f)
    {
        seq.fetch_add(1, std::memory_order_acq_rel);
        f();
        {
            std::lock_guard lk(mtx);
            history.push_back(after);
        }
        seq.fetch_add(1, std::memory_order_acq_rel);
    }

    // The highest max each limit had in the changes [from, end); `from` moves to the end.
    std::array<std::size_t, level_count> highest_since(std::size_t& from)
    {
        std::array<std::size_t, level_count> top{};
        std::lock_guard lk(mtx);
        for (; from < history.size(); ++from)
            for (std::size_t l = 0; l < level_count; ++l)
                top[l] = std::max(top[l], history[from][l]);
        return top;
    }
};

// The sampler's judgement at one limit: `bound` is, at every instant since the last sample, the
// most the backends (and the limit itself) may count: the max; above it, while a lowered max
// drains, what the limit counted before (it never grows then).
struct level_check {
    std::size_t bound = 0;
    long samples = 0, draining = 0, violations = 0;
    std::string first_violation;

    // `lower`: a lower bound of what the backends counted during the sample; `in_use`: what the
    // limit counted during it; `max`: its max all the while.
    void judge(const char* name, std::size_t max, long lower, std::size_t in_use)
    {
        ++samples;
        if (in_use > max)
            ++draining;
        if (lower > static_cast<long>(bound) && violations++ == 0)
            first_violation = std::string(name) + ": the backends counted at least " +
                              std::to_string(lower) + " while at most " + std::to_string(bound) +
                              " were allowed (max " + std::to_string(max) + ")";
        if (in_use > bound && violations++ == 0)
            first_violation = std::string(name) + ": the limit counted " + std::to_string(in_use) +
                              " while at most " + std::to_string(bound) + " were allowed (max " +
                              std::to_string(max) + ")";
        bound = std::max(max, std::min(bound, in_use));
    }
};

connpool::pool_options random_options(std::mt19937& rng, std::shared_ptr<connection_limit> limit)
{
    const std::size_t max = 1 + rng() % 4;
    return {
        .min_size = rng() % (max + 1) % 3,
        .max_size = max,
        .max_waiters = rng() % 4 == 0 ? 2 : SIZE_MAX,
        .acquire_timeout = 20ms,
        .connect_timeout = 15ms,
        .idle_timeout = 30ms,
        .max_lifetime = rng() % 2 == 0 ? 0ms : 60ms,
        .lifetime_jitter = 0.5,
        .validation_interval = 2ms,
        .keepalive_interval = 5ms,
        .max_concurrent_connects = 2,
        .backoff_initial = 1ms,
        .backoff_max = 3ms,
        .limit = std::move(limit),
    };
}

}  // namespace

TEST_CASE("pools under a tree of limits never open more than its maxes, counted at the backends, "
          "while threads acquire, faults strike, pools are resized, replaced and cleared",
          "[limit][stress]")
{
    const auto run_for = std::chrono::milliseconds(1500 * connpool::test::stress_scale());
    const bool verbose = std::getenv("CONNPOOL_STRESS_VERBOSE") != nullptr;

    std::array<std::size_t, level_count> initial_max{6, 3, 3};
    std::array<std::shared_ptr<connection_limit>, level_count> limits;
    limits[root_level] = std::make_shared<connection_limit>(initial_max[root_level]);
    limits[left_level] =
        std::make_shared<connection_limit>(initial_max[left_level], limits[root_level]);
    limits[right_level] =
        std::make_shared<connection_limit>(initial_max[right_level], limits[root_level]);

    asio::io_context ioc;
    std::array<position, position_count> positions;
    std::mt19937 setup_rng(2026);
    for (std::size_t i = 0; i < position_count; ++i)
        positions[i].pool = std::make_shared<pool_type>(
            ioc.get_executor(), ping_factory(ioc.get_executor(), positions[i].backend),
            random_options(setup_rng, limits[leaf_level_of(i)]));
    auto io = std::make_unique<io_runner>(ioc, 2);

    tally t;
    max_log maxes;
    std::array<level_check, level_count> checks{};
    for (std::size_t l = 0; l < level_count; ++l)
        checks[l].bound = initial_max[l];
    std::atomic<bool> stop_workers{false}, stop_helpers{false};
    std::atomic<long> replaced{0}, resized{0}, limits_changed{0}, cleared{0}, injected{0};

    // ---------------------------------------------------------------------------- the sampler
    std::thread sampler([&] {
        std::size_t seen_changes = 0;
        while (!stop_helpers.load(std::memory_order_relaxed)) {
            const std::uint64_t s1 = maxes.seq.load(std::memory_order_acquire);
            // Changes since the last look: the count may be anything up to the highest max in
            // force meanwhile, or up to what was allowed before (a lowered max drains). Taken
            // into the bounds even if this sample is dropped (a larger bound is always safe),
            // and before the counts are read: a change logged later is seen by the next sample.
            const auto highest = maxes.highest_since(seen_changes);
            for (std::size_t l = 0; l < level_count; ++l)
                checks[l].bound = std::max(checks[l].bound, highest[l]);
            if (s1 % 2 != 0) {
                std::this_thread::yield();
                continue;
            }
            std::array<std::size_t, level_count> max{};
            for (std::size_t l = 0; l < level_count; ++l)
                max[l] = limits[l]->max();
            // Every counter is a seq_cst atomic of the fake backend: the reads below are ordered
            // as written, which the bounds need (see the file comment).
            std::array<long, position_count> started{}, gone{};
            for (std::size_t i = 0; i < position_count; ++i)
                started[i] = positions[i].backend->connects_started();
            for (std::size_t i = 0; i < position_count; ++i)
                gone[i] =
                    positions[i].backend->connects_failed() + positions[i].backend->destroyed();
            std::array<std::size_t, level_count> in_use{};
            for (std::size_t l = 0; l < level_count; ++l)
                in_use[l] = limits[l]->in_use();
            if (maxes.seq.load(std::memory_order_acquire) != s1)
                continue;  // a set_max ran meanwhile: this sample may mix two maxes
            for (std::size_t l = 0; l < level_count; ++l) {
                long lower = 0;
                for (std::size_t i = 0; i < position_count; ++i)
                    if (counts(l, i))
                        lower += started[i] - gone[i];
                checks[l].judge(level_names[l], max[l], lower, in_use[l]);
            }
            std::this_thread::yield();  // two cores: leave the others their share
        }
    });

    // ---------------------------------------------------------------------------- the workers
    std::vector<std::thread> workers;
    // Blocking acquirers.
    for (int w = 0; w < 2; ++w) {
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(10 + w));
            while (!stop_workers.load(std::memory_order_relaxed)) {
                position& at = positions[rng() % position_count];
                auto p = at.get();
                error_code ec;
                auto h = p->acquire(std::chrono::milliseconds(rng() % 15), ec);
                t.record(ec, static_cast<bool>(h));
                if (h)
                    use(*at.backend, h, rng);
            }
        });
    }
    // A try_acquire spinner.
    workers.emplace_back([&] {
        std::mt19937 rng(20);
        while (!stop_workers.load(std::memory_order_relaxed)) {
            position& at = positions[rng() % position_count];
            ++t.tries;
            if (auto h = at.get()->try_acquire()) {
                if (!*h)
                    t.note("try_acquire returned an empty lease");
                else {
                    ++t.ok;
                    use(*at.backend, *h, rng);
                }
            } else {
                std::this_thread::yield();
            }
        }
    });
    // An async acquirer: initiated and completed on a strand, sometimes cancelled from it.
    struct async_op {
        asio::cancellation_signal signal;
        std::atomic<int> calls{0};
    };
    workers.emplace_back([&] {
        std::mt19937 rng(30);
        auto strand = asio::make_strand(ioc);
        std::atomic<int> in_flight{0};
        while (!stop_workers.load(std::memory_order_relaxed)) {
            if (in_flight.load() >= 4) {
                std::this_thread::yield();
                continue;
            }
            const std::size_t i = rng() % position_count;
            auto op = std::make_shared<async_op>();
            const auto timeout = std::chrono::milliseconds(rng() % 20);
            const bool cancel = rng() % 6 == 0;
            const auto seed = static_cast<unsigned>(rng());
            ++in_flight;
            ++t.async_started;
            asio::post(strand, [&, i, op, timeout, cancel, seed, strand] {
                positions[i].get()->async_acquire(
                    timeout,
                    asio::bind_cancellation_slot(
                        op->signal.slot(),
                        asio::bind_executor(strand, [&, i, op, seed](error_code ec, handle h) {
                            if (op->calls.fetch_add(1) != 0)
                                ++t.twice;
                            t.record(ec, static_cast<bool>(h));
                            if (h) {
                                std::mt19937 rng2(seed);
                                use(*positions[i].backend, h, rng2);
                            }
                            ++t.async_completed;
                            --in_flight;
                        })));
                if (cancel)  // racing the handoff, from the handler's executor
                    asio::post(strand,
                               [op] { op->signal.emit(asio::cancellation_type::terminal); });
            });
        }
        while (in_flight.load() > 0)
            std::this_thread::yield();
    });

    // ------------------------------------------------------------------------ the disturbances
    std::vector<std::thread> helpers;
    // Faults: connects that fail, that stay pending (completed late, or timed out), pings that
    // fail.
    helpers.emplace_back([&] {
        std::mt19937 rng(40);
        while (!stop_helpers.load(std::memory_order_relaxed)) {
            fake_backend& b = *positions[rng() % position_count].backend;
            switch (rng() % 5) {
            case 0:
                b.set_random_failures(static_cast<double>(rng() % 3) * 0.2,
                                      static_cast<double>(rng() % 2) * 0.2, 0.0,
                                      static_cast<unsigned>(rng()));
                break;
            case 1:
                b.set_connect(rng() % 2 == 0 ? outcome::pending() : outcome::ok());
                break;
            default:
                b.complete_next_connect(rng() % 4 == 0 ? refused() : error_code{});
                break;
            }
            ++injected;
            std::this_thread::sleep_for(std::chrono::microseconds(300 + rng() % 700));
        }
    });
    // Resizes and set_max.
    helpers.emplace_back([&] {
        std::mt19937 rng(50);
        std::array<std::size_t, level_count> now = initial_max;
        while (!stop_helpers.load(std::memory_order_relaxed)) {
            if (rng() % 2 == 0) {
                const std::size_t l = rng() % level_count;
                now[l] = l == root_level ? 2 + rng() % 7 : 1 + rng() % 4;
                maxes.change(now, [&] { limits[l]->set_max(now[l]); });
                ++limits_changed;
            } else {
                const std::size_t max = 1 + rng() % 5;
                positions[rng() % position_count].get()->resize(rng() % (max + 1) % 3, max);
                ++resized;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));
        }
    });
    // Pools replaced (destroyed while in use) and cleared.
    helpers.emplace_back([&] {
        std::mt19937 rng(60);
        while (!stop_helpers.load(std::memory_order_relaxed)) {
            const std::size_t i = rng() % position_count;
            if (rng() % 3 == 0) {
                positions[i].get()->clear();
                ++cleared;
            } else {
                auto fresh = std::make_shared<pool_type>(
                    ioc.get_executor(), ping_factory(ioc.get_executor(), positions[i].backend),
                    random_options(rng, limits[leaf_level_of(i)]));
                positions[i].exchange(std::move(fresh));  // the old one goes with its last user
                ++replaced;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 6));
        }
    });

    std::this_thread::sleep_for(run_for);
    stop_workers = true;
    for (auto& w : workers)
        w.join();
    stop_helpers = true;
    for (auto& h : helpers)
        h.join();
    sampler.join();

    // The backends answer again, and connects left pending are completed or time out.
    for (auto& pos : positions) {
        pos.backend->set_random_failures(0.0, 0.0, 0.0, 1);
        pos.backend->set_connect(outcome::ok());
        while (pos.backend->complete_next_connect())
            ;
    }
    // Quiescent: no thread in a pool, no handler ready. Every pool's bookkeeping holds.
    REQUIRE(wait_until(
        [&] {
            for (auto& pos : positions)
                if (pos.get()->stats().pending != 0 || pos.backend->connects_in_flight() != 0)
                    return false;
            return true;
        },
        10s));
    io->stop();
    poll_all(ioc);
    for (std::size_t i = 0; i < position_count; ++i) {
        const auto report = check_invariants(*positions[i].get());
        INFO("position " << i << ": " << report.message());
        CHECK(report.ok());
    }

    // Everything goes: every connection is destroyed and every limit counts 0 again.
    io = std::make_unique<io_runner>(ioc, 2);
    for (auto& pos : positions) {
        checked_ec closed{must_complete};
        pos.get()->async_close(closed.handler());
        REQUIRE(wait_until([&] { return closed.called(); }, 10s));
        pos.exchange(nullptr);
    }
    for (std::size_t l = 0; l < level_count; ++l) {
        INFO("limit " << level_names[l]);
        CHECK(wait_until([&] { return limits[l]->in_use() == 0; }, 10s));
    }
    io->stop();
    poll_all(ioc);

    std::size_t drains = 0;
    for (const auto& c : checks)
        drains += static_cast<std::size_t>(c.draining);
    if (verbose) {
        std::printf("[limits stress] %s\n", t.report().c_str());
        std::printf("  replaced=%ld resized=%ld set_max=%ld cleared=%ld faults=%ld\n",
                    replaced.load(), resized.load(), limits_changed.load(), cleared.load(),
                    injected.load());
        for (std::size_t l = 0; l < level_count; ++l)
            std::printf("  %s: %ld samples, %ld while a lowered max drained\n", level_names[l],
                        checks[l].samples, checks[l].draining);
        for (std::size_t i = 0; i < position_count; ++i)
            std::printf("  backend %zu: %ld connects, %ld failed, %ld destroyed\n", i,
                        positions[i].backend->connects_started(),
                        positions[i].backend->connects_failed(), positions[i].backend->destroyed());
    }
    INFO(t.report());
    CHECK(t.unexpected == 0);
    CHECK(t.twice == 0);
    CHECK(t.ok > 0);
    CHECK(t.async_completed == t.async_started);  // every acquire completed
    for (std::size_t l = 0; l < level_count; ++l) {
        INFO(checks[l].first_violation);
        CHECK(checks[l].violations == 0);
        CHECK(checks[l].samples > 0);
    }
    CHECK(drains > 0);  // lowered maxes did drain while the sampler looked
    for (auto& pos : positions) {
        CHECK(pos.backend->live() == 0);
        CHECK(pos.backend->double_lends() == 0);
        CHECK(pos.backend->bad_returns() == 0);
        CHECK(pos.backend->lent_now() == 0);
        pos.backend->drop_pending();
    }
}
