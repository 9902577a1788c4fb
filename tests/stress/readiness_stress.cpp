// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Stress of fail_fast and async_wait_ready (issue 10, item 5): threads acquire (blocking, async,
// try_acquire) and wait for readiness while the backend flaps between up and down and clear()
// drops the open connections at each outage. Checked throughout and at the end: every acquire
// ends with a connection or the connect error (its deadline is a bound against hangs, never
// reached), no connection is lent twice, none is lost, the pool closes empty. Real threads and
// clock; run under ThreadSanitizer. CONNPOOL_STRESS_SCALE (environment, default 1) scales it.

#include "support/checked_handler.hpp"
#include "support/io_runner.hpp"
#include "support/run_until.hpp"
#include "support/stress_scale.hpp"

#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using namespace std::chrono_literals;
using boost::system::error_code;
using connpool::errc;
namespace asio = boost::asio;

namespace {

using pool_type = connpool::pool<fake_connection, connect_only_factory>;
using handle = pool_type::handle_type;

// How the acquires and waits ended. Workers never call Catch2; the test thread reads this.
struct outcomes {
    std::atomic<long> served{0}, refused{0}, ready{0}, ready_refused{0}, ready_aborted{0},
        ready_closed{0}, other{0};
    std::mutex mtx;
    std::vector<std::string> others;

    // An acquire: a connection, or the connect error; anything else is a defect.
    void acquire_ended(const error_code& ec, bool got)
    {
        if (!ec && got)
            ++served;
        else if (ec == asio::error::connection_refused && !got)
            ++refused;
        else
            note("acquire: " + ec.message() + (got ? " with a connection" : ""));
    }

    void wait_ended(const error_code& ec)
    {
        if (!ec)
            ++ready;
        else if (ec == asio::error::connection_refused)
            ++ready_refused;
        else if (ec == asio::error::operation_aborted)
            ++ready_aborted;
        else if (ec == errc::pool_closed)
            ++ready_closed;
        else
            note("wait_ready: " + ec.message());
    }

    void note(std::string what)
    {
        ++other;
        std::lock_guard lk(mtx);
        if (others.size() < 20)
            others.push_back(std::move(what));
    }

    std::string report()
    {
        std::ostringstream os;
        os << "served=" << served << " refused=" << refused << " ready=" << ready
           << " ready_refused=" << ready_refused << " ready_aborted=" << ready_aborted
           << " ready_closed=" << ready_closed << " other=" << other;
        std::lock_guard lk(mtx);
        for (const auto& o : others)
            os << "\n  unexpected " << o;
        return os.str();
    }
};

// Holds a lease as a caller would: marks it (a second holder is a violation), touches it, and
// sometimes declares it broken, so that the pool keeps losing and reopening connections.
void hold(fake_backend& backend, handle& h, std::mt19937& rng)
{
    const int id = h->id;
    backend.mark_lent(id);
    h->uses++;  // two holders at once would be a data race (TSan)
    if (rng() % 4 == 0)
        std::this_thread::yield();
    backend.mark_returned(id);
    if (rng() % 4 == 0)
        h.invalidate();
    h.release();
}

}  // namespace

TEST_CASE("with fail_fast, threads acquiring while the backend flaps all end with a connection "
          "or the connect error, and nothing is lost",
          "[stress][fail_fast][ready]")
{
    const int rounds = 1500 * stress_scale();
    const connpool::pool_options opts{
        .min_size = 1,
        .max_size = 4,
        .acquire_timeout = 60s,  // a bound against hangs: an acquire must end long before
        .backoff_initial = 1ms,
        .backoff_max = 2ms,
        .fail_fast = true,
    };
    auto backend = std::make_shared<fake_backend>();
    std::atomic<bool> up{true};
    backend->script_connect(
        [&up](const call_info&) { return up.load() ? outcome::ok() : outcome::fail(refused()); });
    asio::io_context ioc;
    std::optional<pool_type> storage;
    storage.emplace(ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend), opts);
    pool_type& p = *storage;
    io_runner io(ioc, 2);
    outcomes seen;

    std::vector<std::thread> workers;
    // Blocking acquirers.
    for (int w = 0; w < 2; ++w)
        workers.emplace_back([&, w] {
            std::mt19937 rng(static_cast<unsigned>(10 + w));
            for (int i = 0; i < rounds; ++i) {
                error_code ec;
                handle h = p.acquire(60s, ec);
                seen.acquire_ended(ec, static_cast<bool>(h));
                if (h)
                    hold(*backend, h, rng);
                else  // refused: a caller backs off a moment, as it would shed a request
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
            }
        });
    // Async acquirers, a few in flight each, completed on a strand of their own.
    std::atomic<long> async_started{0}, async_ended{0};
    for (int w = 0; w < 2; ++w)
        workers.emplace_back([&, w] {
            auto strand = asio::make_strand(ioc);
            std::mt19937 pace(static_cast<unsigned>(60 + w));
            std::atomic<int> in_flight{0};
            for (int i = 0; i < rounds; ++i) {
                while (in_flight.load() >= 3)
                    std::this_thread::yield();
                std::this_thread::sleep_for(std::chrono::microseconds(pace() % 100));
                ++in_flight;
                ++async_started;
                const auto seed = static_cast<unsigned>(20 + w * rounds + i);
                p.async_acquire(asio::bind_executor(strand, [&, seed](error_code ec, handle h) {
                    seen.acquire_ended(ec, static_cast<bool>(h));
                    if (h) {
                        std::mt19937 rng(seed);
                        hold(*backend, h, rng);
                    }
                    ++async_ended;
                    --in_flight;
                }));
            }
            while (in_flight.load() > 0)
                std::this_thread::yield();
        });
    // try_acquire: never waits, never fails; only takes what is idle.
    workers.emplace_back([&] {
        std::mt19937 rng(30);
        for (int i = 0; i < rounds; ++i) {
            if (auto h = p.try_acquire())
                hold(*backend, *h, rng);
            else
                std::this_thread::yield();
        }
    });
    // Waits for readiness, some cancelled from their strand.
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    std::atomic<long> waits_started{0}, waits_ended{0};
    workers.emplace_back([&] {
        auto strand = asio::make_strand(ioc);
        std::mt19937 rng(40);
        signals.reserve(static_cast<std::size_t>(rounds / 4));
        for (int i = 0; i < rounds / 4; ++i) {
            signals.push_back(std::make_unique<asio::cancellation_signal>());
            asio::cancellation_signal* sig = signals.back().get();
            ++waits_started;
            p.async_wait_ready(asio::bind_cancellation_slot(
                sig->slot(), asio::bind_executor(strand, [&](error_code ec) {
                    seen.wait_ended(ec);
                    ++waits_ended;
                })));
            if (rng() % 2 == 0)
                asio::post(strand, [sig] { sig->emit(asio::cancellation_type::terminal); });
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
        }
    });

    // The backend flaps; each outage is a server restart: clear() drops the open connections.
    std::atomic<bool> done{false};
    long outages = 0;
    std::thread flapper([&] {
        std::mt19937 rng(50);
        while (!done.load()) {
            // Up for 2 to 6 ms (a reconnect waits out a backoff of up to 2 ms), down for less.
            const bool is_up = up.load();
            std::this_thread::sleep_for(
                std::chrono::microseconds(is_up ? 2000 + rng() % 4000 : 300 + rng() % 1500));
            const bool going_down = up.load();
            up = !going_down;
            if (going_down) {
                ++outages;
                p.clear();
            }
        }
    });

    for (auto& w : workers)
        w.join();
    done = true;
    flapper.join();
    REQUIRE(wait_until([&] { return async_ended.load() == async_started.load(); }, 60s));

    // An outage for certain: down, nothing open, a refused connect; an acquire fails at once.
    up = false;
    p.clear();
    REQUIRE(wait_until([&] { return p.stats().size == 0 || p.stats().pending == p.stats().size; },
                       60s));
    error_code first_ec, outage_ec;
    // Refused at once, or (the latest attempt had succeeded) waits for the connect that fails.
    const handle first = p.acquire(60s, first_ec);
    const handle during = p.acquire(60s, outage_ec);  // refused at once
    CHECK(first_ec == asio::error::connection_refused);
    CHECK(outage_ec == asio::error::connection_refused);
    CHECK(!first);
    CHECK(!during);

    // The backend is back: the pool reconnects in the background (min_size) and is ready.
    up = true;
    checked_ec ready{must_complete};
    p.async_wait_ready(ready.handler());
    REQUIRE(wait_until([&] { return ready.called(); }, 60s));
    CHECK(!ready.ec());
    error_code after_ec;
    auto after = p.acquire(60s, after_ec);
    CHECK(!after_ec);
    CHECK(after);
    after = handle{};

    checked_ec closed{must_complete};
    p.async_close(closed.handler());
    REQUIRE(wait_until([&] { return closed.called(); }, 60s));
    REQUIRE(wait_until([&] { return waits_ended.load() == waits_started.load(); }, 60s));

    if (std::getenv("CONNPOOL_STRESS_VERBOSE"))
        std::printf("[stress] fail_fast while the backend flaps: %s\n  outages=%ld created=%llu "
                    "connect_failures=%llu\n",
                    seen.report().c_str(), outages,
                    static_cast<unsigned long long>(p.stats().created),
                    static_cast<unsigned long long>(p.stats().connect_failures));
    INFO(seen.report() << "\noutages=" << outages);
    CHECK(seen.other == 0);
    CHECK(seen.served > 0);
    CHECK(seen.ready > 0);
    CHECK(backend->double_lends() == 0);
    CHECK(backend->bad_returns() == 0);
    CHECK(backend->lent_now() == 0);
    CHECK(backend->live() == 0);  // every connection was destroyed: none lost
    const auto s = p.stats();
    CHECK(s.size == 0);
    CHECK(s.waiters == 0);
    CHECK(s.timeouts == 0);  // no acquire waited out its deadline
    CHECK(s.created == static_cast<std::uint64_t>(backend->connects_succeeded()));
    CHECK(s.created == s.destroyed_idle + s.destroyed_lifetime + s.destroyed_broken +
                           s.destroyed_cleared + s.destroyed_closed);

    io.stop();
    storage.reset();
    poll_all(ioc);
    CHECK(backend->live() == 0);
}
