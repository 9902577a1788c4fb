// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Testing your own code against the pool, with connpool's test kit (<connpool/testing.hpp>): no
// server, no sleeps, no test framework. The "service" is a small quote service written as you
// would write yours (a template on the pool and on the way it sends a query, so production code
// and tests share it); main() tests it with the kit's fake backend and manual clock and returns
// non-zero when a check fails. Built without BOOST_ASIO_DISABLE_EPOLL: the kit's advance() and
// run_due() see manual-clock timers with the epoll reactor too.
//
// connpool-test: run

#include <connpool/connpool.hpp>
#include <connpool/testing.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

// ------------------------------------------------------------------------------- your service

/// A quote service: each request leases a connection, sends one query and gives it back. A query
/// slower than `query_timeout` fails with `timed_out`, and its connection, whose state is then
/// unknown, is dropped instead of being reused. `Query` sends a query on a connection:
/// `q.async_run(connection, text, token)`, completing with `void(error_code)`.
template <class Pool, class Query>
class quote_service {
public:
    quote_service(Pool& pool, Query query, std::chrono::milliseconds query_timeout)
        : pool_(pool), query_(std::move(query)), query_timeout_(query_timeout)
    {
    }

    /// Can the backend be reached now? The acquire's error when it cannot (the pool reports the
    /// last connect error, e.g. connection_refused, rather than a bare timeout).
    asio::awaitable<error_code> check()
    {
        auto [ec, conn] = co_await pool_.async_acquire(200ms, asio::as_tuple(asio::use_awaitable));
        co_return ec;
    }

    /// Asks for the quote of `symbol`.
    asio::awaitable<error_code> quote(std::string symbol)
    {
        using namespace asio::experimental::awaitable_operators;
        auto [ec, conn] = co_await pool_.async_acquire(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return ec;
        asio::basic_waitable_timer<typename Pool::clock_type> timer(
            co_await asio::this_coro::executor, query_timeout_);
        // The first to finish wins; the other is cancelled.
        auto done =
            co_await (query_.async_run(*conn, symbol, asio::as_tuple(asio::use_awaitable)) ||
                      timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (done.index() == 1) {
            conn.invalidate();  // the query may still be running on it: never reuse it
            co_return asio::error::timed_out;
        }
        const error_code query_ec = std::get<0>(std::get<0>(done));
        if (query_ec)
            conn.invalidate();
        co_return query_ec;
    }

private:
    Pool& pool_;
    Query query_;
    std::chrono::milliseconds query_timeout_;
};

// ----------------------------------------------------------------------------- its tests, with the
// kit

namespace kit = connpool::testing;

/// In the tests, a query is a round trip to the fake backend: its ping, scripted by the test.
struct fake_query {
    std::shared_ptr<kit::fake_backend> backend;
    asio::any_io_executor ex;

    template <class Token>
    auto async_run(kit::fake_connection& c, const std::string&, Token&& token)
    {
        return backend->async_ping(c, ex, std::forward<Token>(token));
    }
};

using test_pool =
    connpool::pool<kit::fake_connection, kit::connect_only_factory, kit::manual_clock>;

/// Starts `task` on `ioc`; the result is there once the io_context has run it to its end.
template <class T>
std::shared_ptr<std::optional<T>> start(asio::io_context& ioc, asio::awaitable<T> task)
{
    auto result = std::make_shared<std::optional<T>>();
    asio::co_spawn(ioc, std::move(task), [result](std::exception_ptr e, T value) {
        if (e)
            std::rethrow_exception(e);
        *result = std::move(value);
    });
    return result;
}

int failures = 0;
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
            ++failures;                                                                            \
        }                                                                                          \
    } while (false)

/// Every connection the fake made is counted by the pool, each in one state.
void expect_invariants(const test_pool& pool, const kit::fake_backend& backend)
{
    const auto report = kit::check_invariants(pool, backend);
    if (!report.ok()) {
        std::fprintf(stderr, "%s\n", report.message().c_str());
        ++failures;
    }
}

void the_service_reports_unavailable_when_the_backend_refuses_and_recovers()
{
    kit::manual_clock_guard clock;  // every test starts at the same manual time
    auto backend = std::make_shared<kit::fake_backend>();
    asio::io_context ioc;
    test_pool pool(ioc.get_executor(), kit::connect_only_factory(ioc.get_executor(), backend),
                   {.max_size = 2});
    quote_service service(pool, fake_query{backend, ioc.get_executor()}, 500ms);

    backend->set_connect(kit::outcome::fail(kit::refused()));  // the backend is down
    auto down = start(ioc, service.check());
    kit::run_due(ioc);  // the check waits: the connects fail
    EXPECT(!down->has_value());
    kit::advance(ioc, 200ms);  // the check's deadline
    EXPECT(down->has_value() && **down == asio::error::connection_refused);

    backend->set_connect(kit::outcome::ok());  // it is back
    kit::advance(ioc, 5s);                     // past the pool's retry backoff
    auto up = start(ioc, service.check());
    kit::run_due(ioc);
    EXPECT(up->has_value() && !**up);
    EXPECT(pool.stats().idle == 1);  // the check's lease came back
    expect_invariants(pool, *backend);

    pool.close();
    kit::run_due(ioc);
    EXPECT(backend->live() == 0);
}

void a_slow_query_times_out_without_leaking_a_connection()
{
    kit::manual_clock_guard clock;
    auto backend = std::make_shared<kit::fake_backend>();
    asio::io_context ioc;
    test_pool pool(ioc.get_executor(), kit::connect_only_factory(ioc.get_executor(), backend),
                   {.max_size = 2});
    quote_service service(pool, fake_query{backend, ioc.get_executor()}, 500ms);

    backend->push_ping(kit::outcome::ok().after(2s));  // the next query takes 2 s
    auto slow = start(ioc, service.quote("EURUSD"));
    kit::run_due(ioc);
    EXPECT(!slow->has_value());
    EXPECT(pool.stats().in_use == 1);
    kit::advance(ioc, 500ms);  // the service's query timeout
    EXPECT(slow->has_value() && **slow == asio::error::timed_out);
    EXPECT(pool.stats().in_use == 0);
    EXPECT(pool.stats().destroyed_broken == 1);  // dropped, not reused
    EXPECT(backend->live() == 0);
    expect_invariants(pool, *backend);

    auto fast = start(ioc, service.quote("EURUSD"));  // the next one is quick again
    kit::run_due(ioc);
    EXPECT(fast->has_value() && !**fast);
    EXPECT(backend->live() == 1);
    expect_invariants(pool, *backend);

    pool.close();
    kit::run_due(ioc);
    EXPECT(backend->live() == 0);
}

int main()
{
    the_service_reports_unavailable_when_the_backend_refuses_and_recovers();
    a_slow_query_times_out_without_leaking_a_connection();
    if (failures != 0) {
        std::fprintf(stderr, "testing_my_service: %d check(s) failed\n", failures);
        return 1;
    }
    std::puts("testing_my_service: all checks passed");
    return 0;
}
