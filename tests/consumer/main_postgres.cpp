// A user's program with connpool::postgres from find_package(connpool COMPONENTS postgres): a pool
// whose server does not listen. Its acquire fails with the connect error, and the error's
// message carries libpq's own text (no server needed: the port is closed).
#include <connpool/postgres.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main()
{
    namespace pg = connpool::postgres;
    boost::asio::io_context ctx;
    unsigned short port = 0;
    {  // a port nobody listens on: bound, then released
        boost::asio::ip::tcp::acceptor a(ctx, {boost::asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    const std::string conninfo =
        "host=127.0.0.1 port=" + std::to_string(port) + " dbname=x user=x connect_timeout=5";
    pg::pool<> pool(ctx.get_executor(), pg::factory(ctx.get_executor(), conninfo),
                    {.max_size = 1, .acquire_timeout = std::chrono::milliseconds(500)});
    boost::system::error_code ec;
    pool.async_acquire([&](boost::system::error_code e, pg::pool<>::handle_type) {
        ec = e;
        pool.close();
    });
    ctx.run_for(std::chrono::seconds(20));  // this tests packaging, not shutdown: never hang
    const std::string msg = ec.message();
    std::printf("consumer (postgres): %s\n", msg.c_str());
    const bool ok = ec == pg::client_errc::connection_failed &&
                    msg.find("Connection refused") != std::string::npos &&
                    msg.find(std::to_string(port)) != std::string::npos;
    std::puts(ok ? "consumer (postgres): ok" : "consumer (postgres): FAILED");
    return ok ? 0 : 1;
}
