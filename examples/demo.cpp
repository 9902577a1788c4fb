// connpool_demo: what a connection pool buys you, measured on this machine.
//
// An embedded loopback TCP server plays a database-like backend: every new connection costs a
// handshake (the client sends HELLO, the server spends a few milliseconds of CPU on it -- think
// authentication and session set-up -- and answers READY); after that each request is one short
// line that the server echoes after a tiny, fixed amount of work.
//
// N concurrent clients (coroutines on one io_context thread) issue requests for a fixed time,
// twice:
//   (a) pooled:              lease a connection from a connpool::pool, send, receive, return it;
//   (b) connect-per-request: connect + handshake + request + close, every time.
// For each run the program prints requests/s and p50/p99 latency, and the pool's statistics.
//
// usage: connpool_demo [--seconds N] [--clients N]

#include <connpool/connpool.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto handshake_cost = 3ms;  // server-side work per new connection
constexpr std::size_t server_threads = 2;
constexpr std::size_t pool_max_size = 8;

// ---------------------------------------------------------------------------------------------
// The backend: an Asio TCP server on 127.0.0.1, running on its own threads.

// Burns CPU for `d` (hashing, so that the work cannot be optimised away).
std::uint64_t burn_cpu(clock_type::duration d)
{
    const auto until = clock_type::now() + d;
    std::uint64_t h = 14695981039346656037ULL;
    do {
        for (int i = 0; i < 256; ++i)
            h = (h ^ static_cast<std::uint64_t>(i)) * 1099511628211ULL;
    } while (clock_type::now() < until);
    return h;
}

// A tiny, fixed amount of work per request: hash the request line a few times.
std::uint64_t request_work(std::string_view line)
{
    std::uint64_t h = 14695981039346656037ULL;
    for (int round = 0; round < 16; ++round)
        for (char c : line)
            h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
}

class backend_server {
public:
    backend_server() : acceptor_(ctx_, {asio::ip::make_address_v4("127.0.0.1"), 0})
    {
        asio::co_spawn(ctx_, accept_loop(), asio::detached);
        for (std::size_t i = 0; i < server_threads; ++i)
            threads_.emplace_back([this] { ctx_.run(); });
    }

    backend_server(const backend_server&) = delete;
    backend_server& operator=(const backend_server&) = delete;

    ~backend_server()
    {
        ctx_.stop();
        for (auto& t : threads_)
            t.join();
    }

    tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

    std::uint64_t handshakes() const noexcept
    {
        return handshakes_.load(std::memory_order_relaxed);
    }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] =
                co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted)
                co_return;
            if (ec)
                continue;  // e.g. the client reset the connection before it was accepted
            asio::co_spawn(ctx_, session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> session(tcp::socket socket)
    {
        constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::string buf;

        // Handshake: HELLO -> (expensive set-up) -> READY.
        auto [ec, n] =
            co_await asio::async_read_until(socket, asio::dynamic_buffer(buf), '\n', tuple);
        if (ec || std::string_view(buf).substr(0, n) != "HELLO\n")
            co_return;
        buf.erase(0, n);
        sink_.fetch_xor(burn_cpu(handshake_cost), std::memory_order_relaxed);
        handshakes_.fetch_add(1, std::memory_order_relaxed);
        if (auto [wec, wn] = co_await asio::async_write(socket, asio::buffer("READY\n", 6), tuple);
            wec)
            co_return;

        // Requests: one line each, echoed back.
        for (;;) {
            std::tie(ec, n) =
                co_await asio::async_read_until(socket, asio::dynamic_buffer(buf), '\n', tuple);
            if (ec)
                co_return;  // the client closed (or reset) the connection
            std::string reply = buf.substr(0, n);
            buf.erase(0, n);
            sink_.fetch_xor(request_work(reply), std::memory_order_relaxed);
            if (auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(reply), tuple);
                wec)
                co_return;
        }
    }

    asio::io_context ctx_{static_cast<int>(server_threads)};
    tcp::acceptor acceptor_;
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> handshakes_{0};
    std::atomic<std::uint64_t> sink_{0};
};

// ---------------------------------------------------------------------------------------------
// The client side: a connection type and its connpool factory.

struct backend_connection {
    explicit backend_connection(asio::any_io_executor ex) : socket(std::move(ex)) {}

    tcp::socket socket;
    std::string buffer;  // bytes received beyond the last reply
};

// Closes with RST instead of FIN, so that no socket lingers in TIME_WAIT: connect-per-request
// opens thousands of connections per second, which would otherwise exhaust the ephemeral ports.
void abortive_close(tcp::socket& socket)
{
    error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

// Connect + handshake as a composed operation: completes with void(error_code, backend_connection).
struct connect_op {
    tcp::endpoint server;
    std::unique_ptr<backend_connection> conn;  // stable address while the operation runs
    asio::coroutine coro{};

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0)
    {
        BOOST_ASIO_CORO_REENTER(coro)
        {
            BOOST_ASIO_CORO_YIELD conn->socket.async_connect(server, std::move(self));
            if (ec)
                return self.complete(ec, std::move(*conn));
            conn->socket.set_option(tcp::no_delay(true), ec);
            BOOST_ASIO_CORO_YIELD asio::async_write(conn->socket, asio::buffer("HELLO\n", 6),
                                                    std::move(self));
            if (ec)
                return self.complete(ec, std::move(*conn));
            BOOST_ASIO_CORO_YIELD asio::async_read_until(
                conn->socket, asio::dynamic_buffer(conn->buffer), '\n', std::move(self));
            if (!ec && std::string_view(conn->buffer).substr(0, n) != "READY\n")
                ec = asio::error::connection_refused;  // not our protocol
            conn->buffer.erase(0, n);
            self.complete(ec, std::move(*conn));
        }
    }
};

// Satisfies connpool::connection_factory<backend_factory, backend_connection>.
struct backend_factory {
    asio::any_io_executor executor;  // where the sockets live
    tcp::endpoint server;

    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return asio::async_compose<CompletionToken, void(error_code, backend_connection)>(
            connect_op{server, std::make_unique<backend_connection>(executor)}, token, executor);
    }
};

// One request on an established connection: send a line, read the echoed line.
asio::awaitable<error_code> send_request(backend_connection& conn, std::uint64_t id)
{
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    std::string request = "GET item:" + std::to_string(id) + "\n";
    auto [wec, wn] = co_await asio::async_write(conn.socket, asio::buffer(request), tuple);
    if (wec)
        co_return wec;
    auto [ec, n] = co_await asio::async_read_until(conn.socket, asio::dynamic_buffer(conn.buffer),
                                                   '\n', tuple);
    if (ec)
        co_return ec;
    bool ok = std::string_view(conn.buffer).substr(0, n) == request;
    conn.buffer.erase(0, n);
    co_return ok ? error_code() : error_code(asio::error::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The two modes.

struct run_result {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::uint64_t connects = 0;  // handshakes the server saw during the run
    error_code first_error;
    std::vector<clock_type::duration> latencies;
    clock_type::duration elapsed{};
    std::optional<connpool::pool_stats> stats;

    void record(clock_type::time_point start, error_code ec)
    {
        if (ec) {
            if (errors++ == 0)
                first_error = ec;
            return;
        }
        ++requests;
        latencies.push_back(clock_type::now() - start);
    }
};

using backend_pool = connpool::pool<backend_connection, backend_factory>;

asio::awaitable<void> pooled_client(backend_pool& pool, clock_type::time_point deadline,
                                    run_result& r)
{
    for (std::uint64_t id = 0; clock_type::now() < deadline; ++id) {
        auto start = clock_type::now();
        auto [ec, conn] = co_await pool.async_acquire(asio::as_tuple(asio::use_awaitable));
        if (!ec) {
            ec = co_await send_request(*conn, id);
            if (ec)
                conn.invalidate();  // never hand a broken connection to the next client
        }
        r.record(start, ec);
    }  // each iteration's `conn` goes back to the pool when it goes out of scope
}

asio::awaitable<void> connect_per_request_client(backend_factory factory,
                                                 clock_type::time_point deadline, run_result& r)
{
    for (std::uint64_t id = 0; clock_type::now() < deadline; ++id) {
        auto start = clock_type::now();
        auto [ec, conn] = co_await factory.async_connect(asio::as_tuple(asio::use_awaitable));
        if (!ec)
            ec = co_await send_request(conn, id);
        abortive_close(conn.socket);
        r.record(start, ec);
        if (ec) {  // back off a little instead of spinning on a persistent error
            asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
}

run_result run_pooled(tcp::endpoint server, std::size_t clients, clock_type::duration duration)
{
    asio::io_context ctx(1);
    run_result r;
    backend_pool pool(ctx.get_executor(), backend_factory{ctx.get_executor(), server},
                      connpool::pool_options{.max_size = pool_max_size, .acquire_timeout = 5s});

    const auto start = clock_type::now();
    const auto deadline = start + duration;
    std::size_t running = clients;
    for (std::size_t i = 0; i < clients; ++i) {
        asio::co_spawn(ctx, pooled_client(pool, deadline, r), [&](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
            if (--running == 0) {
                r.elapsed = clock_type::now() - start;
                r.stats = pool.stats();
                pool.close();
            }
        });
    }
    ctx.run();
    return r;
}

run_result run_connect_per_request(tcp::endpoint server, std::size_t clients,
                                   clock_type::duration duration)
{
    asio::io_context ctx(1);
    run_result r;
    const auto start = clock_type::now();
    const auto deadline = start + duration;
    std::size_t running = clients;
    for (std::size_t i = 0; i < clients; ++i) {
        asio::co_spawn(
            ctx,
            connect_per_request_client(backend_factory{ctx.get_executor(), server}, deadline, r),
            [&](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
                if (--running == 0)
                    r.elapsed = clock_type::now() - start;
            });
    }
    ctx.run();
    return r;
}

// ---------------------------------------------------------------------------------------------
// Reporting.

double seconds_of(clock_type::duration d)
{
    return std::chrono::duration<double>(d).count();
}

double rate_of(const run_result& r)
{
    double s = seconds_of(r.elapsed);
    return s > 0 ? static_cast<double>(r.requests) / s : 0.0;
}

clock_type::duration percentile(std::vector<clock_type::duration>& v, double p)
{
    if (v.empty())
        return {};
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    auto idx = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
    return v[idx];
}

std::string format_duration(clock_type::duration d)
{
    double us = std::chrono::duration<double, std::micro>(d).count();
    char buf[32];
    if (us < 1000)
        std::snprintf(buf, sizeof buf, "%.0f us", us);
    else if (us < 1e6)
        std::snprintf(buf, sizeof buf, "%.2f ms", us / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
    return buf;
}

constexpr const char* row_format = "  %-24s %10s %12s %10s %10s %9s %7s\n";

void print_row(const char* mode, run_result& r)
{
    auto num = [](auto v) { return std::to_string(v); };
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f", rate_of(r));
    std::printf(row_format, mode, num(r.requests).c_str(), rate,
                format_duration(percentile(r.latencies, 0.50)).c_str(),
                format_duration(percentile(r.latencies, 0.99)).c_str(), num(r.connects).c_str(),
                num(r.errors).c_str());
}

void print_stats(const connpool::pool_stats& s, std::size_t clients)
{
    auto u = [](auto v) { return static_cast<unsigned long long>(v); };
    auto avg_wait = s.waited ? std::chrono::duration_cast<clock_type::duration>(s.total_wait_time) /
                                   static_cast<clock_type::rep>(s.waited)
                             : clock_type::duration{};
    std::printf("pool stats after run (a): size %llu, idle %llu, in_use %llu, pending %llu, "
                "waiters %llu\n",
                u(s.size), u(s.idle), u(s.in_use), u(s.pending), u(s.waiters));
    std::printf("  acquired %llu, waited %llu (average wait %s), timeouts %llu, created %llu, "
                "connect failures %llu, destroyed broken %llu\n",
                u(s.acquired), u(s.waited), format_duration(avg_wait).c_str(), u(s.timeouts),
                u(s.created), u(s.connect_failures), u(s.destroyed_broken));
    if (clients > pool_max_size)
        std::printf("  (%zu clients share %zu connections: an acquire usually waits for a "
                    "connection to come back)\n",
                    clients, pool_max_size);
}

// ---------------------------------------------------------------------------------------------
// Command line.

struct options {
    double seconds = 4.5;  // per mode
    std::size_t clients = 32;
};

[[noreturn]] void usage_error(const std::string& msg)
{
    std::fprintf(stderr,
                 "connpool_demo: %s\n"
                 "usage: connpool_demo [--seconds N] [--clients N]\n"
                 "  --seconds N   duration of each of the two runs, 0.1 to 600 (default 4.5)\n"
                 "  --clients N   concurrent clients, 1 to 256 (default 32)\n",
                 msg.c_str());
    std::exit(2);
}

options parse_args(int argc, char** argv)
{
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::printf(
                "usage: connpool_demo [--seconds N] [--clients N]\n"
                "Compares a connpool pool with a new connection per request against an\n"
                "embedded loopback server whose connection handshake costs %lld ms.\n"
                "  --seconds N   duration of each of the two runs, 0.1 to 600 (default 4.5)\n"
                "  --clients N   concurrent clients, 1 to 256 (default 32)\n",
                static_cast<long long>(handshake_cost.count()));
            std::exit(0);
        }
        std::string_view name = arg, value;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else if (arg == "--seconds" || arg == "--clients") {
            if (i + 1 >= argc)
                usage_error("missing value for " + std::string(arg));
            value = argv[++i];
        }
        if (name == "--seconds") {
            char* end = nullptr;
            std::string s(value);
            double v = std::strtod(s.c_str(), &end);
            if (s.empty() || end != s.c_str() + s.size() || !(v >= 0.1 && v <= 600))
                usage_error("invalid value for --seconds: '" + s +
                            "' (expected a number from 0.1 to 600)");
            o.seconds = v;
        } else if (name == "--clients") {
            std::size_t v = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec != std::errc() || p != value.data() + value.size() || v < 1 || v > 256)
                usage_error("invalid value for --clients: '" + std::string(value) +
                            "' (expected an integer from 1 to 256)");
            o.clients = v;
        } else {
            usage_error("unknown argument '" + std::string(arg) + "'");
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv)
{
    const options opt = parse_args(argc, argv);
    const auto duration = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(opt.seconds));

    try {
        backend_server server;
        std::printf("connpool demo: %zu clients (coroutines on 1 thread), %.1f s per run\n",
                    opt.clients, opt.seconds);
        std::printf(
            "backend: loopback TCP server on %s, %zu threads, %lld ms of work per connection "
            "handshake\n\n",
            server.endpoint().address().to_string().c_str(), server_threads,
            static_cast<long long>(handshake_cost.count()));

        std::printf("running (a) pooled, max_size %zu ...\n", pool_max_size);
        std::fflush(stdout);
        run_result pooled = run_pooled(server.endpoint(), opt.clients, duration);
        pooled.connects = server.handshakes();
        std::printf("running (b) connect-per-request ...\n\n");
        std::fflush(stdout);
        run_result per_request = run_connect_per_request(server.endpoint(), opt.clients, duration);
        per_request.connects = server.handshakes() - pooled.connects;

        std::printf(row_format, "mode", "requests", "requests/s", "p50", "p99", "connects",
                    "errors");
        char pooled_name[32];
        std::snprintf(pooled_name, sizeof pooled_name, "(a) pooled, max_size %zu", pool_max_size);
        print_row(pooled_name, pooled);
        print_row("(b) connect-per-request", per_request);
        std::printf("\n");
        if (pooled.stats)
            print_stats(*pooled.stats, opt.clients);
        std::printf("\n");

        for (auto* r : {&pooled, &per_request})
            if (r->errors)
                std::printf(
                    "note: %s had %llu errors, the first: %s\n", r == &pooled ? "(a)" : "(b)",
                    static_cast<unsigned long long>(r->errors), r->first_error.message().c_str());

        if (rate_of(per_request) > 0)
            std::printf("pooled: %.0fx the requests/s of connect-per-request, p50 latency %s "
                        "instead of %s\n",
                        rate_of(pooled) / rate_of(per_request),
                        format_duration(percentile(pooled.latencies, 0.5)).c_str(),
                        format_duration(percentile(per_request.latencies, 0.5)).c_str());
        else
            std::printf("connect-per-request completed no request\n");
        return pooled.requests > 0 && per_request.requests > 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "connpool_demo: %s\n", e.what());
        return 1;
    }
}
