// connpool with plain threads and a blocking driver.
//
// Many services use a blocking C driver (libpq's PQconnectdb/PQexec, a vendor SDK) from a thread
// pool of their own. This example shows that set-up:
//   - connpool::blocking_factory runs the driver's blocking calls on its own threads, so they
//     never stall the pool's io_context;
//   - one background thread runs that io_context for the pool;
//   - ordinary std::threads call the blocking pool.acquire(timeout).
//
// connpool-test: run

#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

// A stand-in for a blocking database driver's connection (think PGconn*).
struct toy_db_connection {
    int id = 0;
    int queries = 0;

    std::string query(std::string_view sql)  // a blocking round trip, like PQexec
    {
        ++queries;
        return "result of " + std::string(sql);
    }
};

// What blocking_factory needs: connect() (required); ping(), reset(), is_healthy() (optional).
// Calls run on the adapter's threads, possibly two at once: keep the driver thread-safe.
struct toy_db_driver {
    std::shared_ptr<std::atomic<int>> connects = std::make_shared<std::atomic<int>>(0);

    toy_db_connection connect()  // like PQconnectdb: blocks for the whole handshake
    {
        std::this_thread::sleep_for(1ms);
        return toy_db_connection{++*connects, 0};
    }
    void ping(toy_db_connection& c) { c.query("SELECT 1"); }      // validation and keepalive
    void reset(toy_db_connection& c) { c.query("DISCARD ALL"); }  // on every return
};

using db_factory = connpool::blocking_factory<toy_db_driver>;
using db_pool = connpool::pool<toy_db_connection, db_factory>;

int main()
{
    // The pool's io_context, run by one background thread.
    asio::io_context ctx;
    auto work = asio::make_work_guard(ctx);
    std::thread io_thread([&ctx] { ctx.run(); });
    int status = 0;

    {
        db_pool pool(ctx.get_executor(), db_factory(toy_db_driver{}),
                     connpool::pool_options{.max_size = 4, .acquire_timeout = 2s});

        // 8 threads share 4 connections.
        std::atomic<int> failures{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < 8; ++t) {
            workers.emplace_back([&pool, &failures, t] {
                try {
                    for (int i = 0; i < 25; ++i) {
                        auto conn = pool.acquire(1s);  // throws boost::system::system_error
                        conn->query("SELECT * FROM orders WHERE shard = " + std::to_string(t));
                    }  // the lease returns the connection here
                } catch (const boost::system::system_error& e) {
                    std::fprintf(stderr, "thread %d: %s\n", t, e.what());
                    ++failures;
                }
            });
        }
        for (auto& w : workers)
            w.join();

        // The error_code overload: with all 4 connections lent, a 5th acquire times out.
        {
            std::vector<db_pool::handle_type> held;
            for (int i = 0; i < 4; ++i)
                held.push_back(pool.acquire(1s));
            error_code ec;
            auto fifth = pool.acquire(50ms, ec);
            std::printf("5th acquire with all 4 lent: %s (timed out: %s)\n", ec.message().c_str(),
                        ec == std::errc::timed_out ? "yes" : "no");
            if (fifth || ec != connpool::errc::acquire_timeout)
                status = 1;
        }

        // Blocking acquire on the pool's own io_context thread would deadlock: it fails instead.
        std::promise<error_code> on_io_thread;
        asio::post(ctx, [&pool, &on_io_thread] {
            error_code ec;
            auto conn = pool.acquire(10ms, ec);
            on_io_thread.set_value(ec);
        });
        error_code ec = on_io_thread.get_future().get();
        std::printf("acquire() on the io_context thread: %s\n", ec.message().c_str());
        if (ec != connpool::errc::would_deadlock)
            status = 1;

        auto s = pool.stats();
        std::printf("stats: size %zu, idle %zu, acquired %llu, waited %llu, created %llu\n", s.size,
                    s.idle, static_cast<unsigned long long>(s.acquired),
                    static_cast<unsigned long long>(s.waited),
                    static_cast<unsigned long long>(s.created));
        if (failures != 0 || s.created > 4)
            status = 1;
    }  // ~pool closes the pool and destroys its connections

    work.reset();
    io_thread.join();
    return status;
}
