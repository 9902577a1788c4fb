// The pool's io_context shut down under it: internal work that never runs must not keep the pool
// or its connections alive (LeakSanitizer checks the memory in the asan stage).
#include <connpool/connpool.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <memory>

using connpool::testing::fake_backend;
using connpool::testing::fake_connection;
using connpool::testing::reset_factory;
namespace asio = boost::asio;

TEST_CASE("destroying the io_context with a reset not yet run destroys the connection",
          "[lifecycle][shutdown]")
{
    auto backend = std::make_shared<fake_backend>();
    {
        asio::io_context ioc;
        {
            connpool::pool<fake_connection, reset_factory> pool(
                ioc.get_executor(), reset_factory(ioc.get_executor(), backend), {.max_size = 1});
            connpool::pooled<fake_connection> lease;
            pool.async_acquire([&](connpool::error_code ec, connpool::pooled<fake_connection> l) {
                REQUIRE(!ec);
                lease = std::move(l);
            });
            while (!lease && ioc.poll() != 0) {
            }
            REQUIRE(lease);
            lease.release();  // its reset is queued on the io_context, never to run
        }
        CHECK(backend->live() == 1);  // the queued reset still holds the pool
    }
    CHECK(backend->live() == 0);
}

TEST_CASE("destroying the io_context with a connect not yet run frees the pool",
          "[lifecycle][shutdown]")
{
    auto backend = std::make_shared<fake_backend>();
    {
        asio::io_context ioc;
        connpool::pool<fake_connection, reset_factory> pool(
            ioc.get_executor(), reset_factory(ioc.get_executor(), backend), {.min_size = 2});
        // The pre-warming connects are queued, never run.
    }
    CHECK(backend->live() == 0);
    CHECK(backend->connects_succeeded() == 0);
}
