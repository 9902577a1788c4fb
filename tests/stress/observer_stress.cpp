// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress of the observer (issue 11, item 1): threads acquire (blocking, async, try_acquire) and
// return while connects fail at random, the hooks veto at random, clear() and housekeeping
// (leak reports) run; the observer's members are called from all of these threads at once. At
// the end, after async_close, the events add up to the pool's counters exactly: every lease
// reported acquired and released, every connect finished, every destruction (by cause) once.
// Real threads and clock; run under ThreadSanitizer. CONNPOOL_STRESS_SCALE scales it.

#include "support/io_runner.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;
namespace asio = boost::asio;

namespace {

using pool_type = connpool::pool<fake_connection, connect_only_factory>;
using handle = pool_type::handle_type;

// Counts every event; the hooks veto about one call in `veto_one_in`.
struct counting_observer : connpool::pool_observer<fake_connection> {
    std::atomic<long> connects_started{0}, connects_ok{0}, connects_failed{0}, acquires_ok{0},
        acquires_failed{0}, releases{0}, releases_invalidated{0}, leaks{0}, hook_calls{0};
    std::array<std::atomic<long>, 7> destroyed{};
    unsigned veto_one_in = 16;

    void on_connect_started() override { ++connects_started; }
    void on_connect_finished(const connpool::connect_event& e) override
    {
        ++(e.error ? connects_failed : connects_ok);
    }
    void on_acquire(const connpool::acquire_event& e) override
    {
        ++(e.error ? acquires_failed : acquires_ok);
    }
    void on_release(const connpool::release_event& e) override
    {
        ++releases;
        if (e.invalidated)
            ++releases_invalidated;
    }
    void on_destroyed(connpool::destroy_cause c) override
    {
        ++destroyed[static_cast<std::size_t>(c)];
    }
    void on_leak_suspected(const connpool::leak_event& e) override
    {
        if (e.where.known())
            ++leaks;
    }
    bool before_lend(fake_connection& c) override { return decide(c); }
    bool after_return(fake_connection& c) override { return decide(c); }

    bool decide(fake_connection& c)
    {
        ++hook_calls;
        c.uses++;  // the hook may touch the connection: it owns it now (TSan checks)
        thread_local std::mt19937 rng(std::random_device{}());
        return rng() % veto_one_in != 0;
    }
    long destroyed_total() const
    {
        long n = 0;
        for (const auto& d : destroyed)
            n += d.load();
        return n;
    }
};

}  // namespace

TEST_CASE("an observer called from every thread at once sees every event exactly once",
          "[stress][observer]")
{
    const int rounds = 2000 * stress_scale();
    auto backend = std::make_shared<fake_backend>();
    backend->set_random_failures(0.05, 0, 0, 7);
    auto obs = std::make_shared<counting_observer>();
    asio::io_context ioc;
    std::optional<pool_type> storage;
    storage.emplace(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend),
                    connpool::pool_options{.min_size = 1,
                                           .max_size = 3,
                                           .acquire_timeout = 60s,
                                           .backoff_initial = 1ms,
                                           .backoff_max = 2ms,
                                           .leak_threshold = 1ms},
                    obs);
    pool_type& p = *storage;
    io_runner io(ioc, 2);

    std::atomic<long> served{0}, failed{0};
    auto hold = [&](handle& h, std::mt19937& rng) {
        const int id = h->id;
        backend->mark_lent(id);
        h->uses++;
        if (rng() % 8 == 0)
            std::this_thread::sleep_for(2ms);  // past leak_threshold: a leak report
        backend->mark_returned(id);
        if (rng() % 8 == 0)
            h.invalidate();
        h.release();
    };

    std::vector<std::thread> workers;
    for (int w = 0; w < 2; ++w)
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(w));
            for (int i = 0; i < rounds; ++i) {
                error_code ec;
                handle h = p.acquire(std::chrono::milliseconds(rng() % 20), ec);
                if (h) {
                    ++served;
                    hold(h, rng);
                } else {
                    ++failed;
                }
            }
        });
    workers.emplace_back([&] {
        auto strand = asio::make_strand(ioc);
        std::atomic<int> in_flight{0};
        for (int i = 0; i < rounds; ++i) {
            while (in_flight.load() >= 3)
                std::this_thread::yield();
            ++in_flight;
            p.async_acquire(5ms, asio::bind_executor(strand, [&, i](error_code, handle h) {
                                if (h) {
                                    ++served;
                                    std::mt19937 rng(static_cast<unsigned>(i));
                                    hold(h, rng);
                                } else {
                                    ++failed;
                                }
                                --in_flight;
                            }));
        }
        while (in_flight.load() > 0)
            std::this_thread::yield();
    });
    workers.emplace_back([&] {
        std::mt19937 rng(99);
        for (int i = 0; i < rounds; ++i) {
            if (auto h = p.try_acquire()) {
                ++served;
                hold(*h, rng);
            }
            if (i % 500 == 0)
                p.clear();
            std::this_thread::yield();
        }
    });
    for (auto& t : workers)
        t.join();

    std::promise<void> closed;
    p.async_close([&](error_code) { closed.set_value(); });
    REQUIRE(closed.get_future().wait_for(30s) == std::future_status::ready);
    io.stop();

    const connpool::pool_stats st = p.stats();
    INFO("served " << served << ", failed " << failed << ", hook calls " << obs->hook_calls
                   << ", leaks " << obs->leaks);
    CHECK(backend->double_lends() == 0);
    CHECK(backend->live() == 0);
    CHECK(obs->acquires_ok == served);
    CHECK(obs->acquires_failed == failed);
    CHECK(static_cast<std::uint64_t>(obs->acquires_ok.load()) == st.acquired);
    CHECK(obs->releases == served);
    CHECK(obs->connects_ok == static_cast<long>(st.created));
    CHECK(obs->connects_failed == static_cast<long>(st.connect_failures));
    CHECK(obs->connects_started == obs->connects_ok + obs->connects_failed);
    CHECK(obs->destroyed_total() == static_cast<long>(st.created));  // all gone, each once
    using connpool::destroy_cause;
    auto destroyed = [&](destroy_cause c) {
        return obs->destroyed[static_cast<std::size_t>(c)].load();
    };
    CHECK(destroyed(destroy_cause::vetoed) == static_cast<long>(st.destroyed_vetoed));
    CHECK(destroyed(destroy_cause::broken) == static_cast<long>(st.destroyed_broken));
    CHECK(destroyed(destroy_cause::cleared) == static_cast<long>(st.destroyed_cleared));
    CHECK(destroyed(destroy_cause::closed) == static_cast<long>(st.destroyed_closed));
    CHECK(obs->leaks == static_cast<long>(st.leaks_suspected));
    CHECK(st.destroyed_vetoed > 0);  // the hooks did veto: the scenario exercised them
    CHECK(obs->releases_invalidated > 0);
}
