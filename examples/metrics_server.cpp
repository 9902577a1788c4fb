// Prometheus metrics of three pools and a keyed pool's three keys under load, served over
// HTTP/1.1 on 127.0.0.1:
//   GET /metrics   the exposition of <connpool/prometheus.hpp> (what Prometheus scrapes)
//   GET /stats     each pool's and each key's stats() and histogram counts as JSON (a key's entry
//                  has the keyed pool's "name" and a "key"), and whether the load is over
// The backend is simulated: a connect takes 2-12 ms and every 6th one is refused; clients hold a
// connection 1-8 ms and sometimes invalidate it. After --load-seconds the clients stop; once the
// pools are at rest (nothing lent, connecting or waiting, in any pool or key) /stats says
// "frozen": from then on neither endpoint changes, so a scraper's values can be compared with
// /stats exactly (scripts/test.sh's prometheus stage does that against a real Prometheus).
//
//   connpool_example_metrics_server [--port N] [--load-seconds S] [--serve-seconds S]
//                                   [--self-check]
// --port 0 (the default) takes a free port; the first line of output names it. --serve-seconds:
// exit that long after the load is over (default: on SIGINT or SIGTERM). --self-check: read
// /metrics and /stats over HTTP once frozen, check that they agree, exit 0 or 1.
// connpool-test: run --load-seconds 1 --self-check
#include <connpool/connpool.hpp>
#include <connpool/prometheus.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <list>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

// ------------------------------------------------------------------------ the simulated backend

struct db_connection {  // make_coro_factory wants it default-constructible
    int id = 0;
};

struct backend_state {
    int attempts = 0;
    std::minstd_rand rng{42};
};

// Connects take 2-12 ms; every 6th attempt is refused.
auto make_factory(asio::any_io_executor ex, std::shared_ptr<backend_state> backend)
{
    return connpool::make_coro_factory([ex, backend]() -> asio::awaitable<db_connection> {
        const int attempt = ++backend->attempts;
        asio::steady_timer delay(ex, std::chrono::milliseconds(2 + backend->rng() % 11));
        co_await delay.async_wait(asio::use_awaitable);
        if (attempt % 6 == 0)
            throw boost::system::system_error(asio::error::connection_refused);
        co_return db_connection{attempt};
    });
}

using factory_type = decltype(make_factory({}, {}));
using pool_type = connpool::pool<db_connection, factory_type>;

struct named_pool {
    std::string name;
    std::unique_ptr<pool_type> pool;
    int clients;
    std::chrono::milliseconds acquire_timeout;
};

// The keyed pool's factory: a keyed factory's async_connect takes the key; every tenant's
// connections come from the one simulated backend, which has no use for it.
struct tenant_factory {
    factory_type backend;

    template <class CompletionToken>
    auto async_connect(const std::string& /*tenant*/, CompletionToken&& token)
    {
        return backend.async_connect(std::forward<CompletionToken>(token));
    }
};

using keyed_pool_type = connpool::keyed_pool<std::string, db_connection, tenant_factory>;

struct tenant {
    std::string key;
    int clients;
};

struct named_keyed_pool {
    std::string name;
    std::unique_ptr<keyed_pool_type> pool;
    std::vector<tenant> tenants;  // each is held from its first client's acquire on
    std::chrono::milliseconds acquire_timeout;
};

struct service_pools {
    std::list<named_pool> plain;
    named_keyed_pool keyed;
};

// One entry of /stats: a pool, or one key of the keyed pool.
struct pool_report {
    std::string name;
    std::string key;  // empty for a plain pool
    connpool::pool_stats stats;
    connpool::pool_histograms histograms;
};

// Every pool's report, then one per key the keyed pool holds now (the keys its Prometheus
// export has), sorted by key so that /stats reads the same from one request to the next.
std::vector<pool_report> reports(const service_pools& pools)
{
    std::vector<pool_report> out;
    for (const named_pool& p : pools.plain)
        out.push_back({p.name, {}, p.pool->stats(), p.pool->histograms()});
    const auto first_key = static_cast<std::ptrdiff_t>(out.size());
    pools.keyed.pool->for_each_key(
        [&](const std::string& key, const connpool::pool_stats& s,
            const connpool::pool_histograms& h) { out.push_back({pools.keyed.name, key, s, h}); });
    std::sort(out.begin() + first_key, out.end(),
              [](const pool_report& a, const pool_report& b) { return a.key < b.key; });
    return out;
}

// ------------------------------------------------------------------------ the load

struct load_state {
    bool stopping = false;
    int clients_running = 0;
};

// `acquire()`: a pool's or a key's async_acquire, completing with as_tuple(use_awaitable).
template <class Acquire>
asio::awaitable<void> client(Acquire acquire, std::shared_ptr<load_state> load, unsigned seed)
{
    auto ex = co_await asio::this_coro::executor;
    std::minstd_rand rng(seed);
    asio::steady_timer hold(ex);
    while (!load->stopping) {
        auto [ec, conn] = co_await acquire();
        if (ec) {  // a timeout under contention, or the last connect error: try again shortly
            hold.expires_after(1ms);
            co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        hold.expires_after(std::chrono::milliseconds(1 + rng() % 8));  // "the query"
        co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
        if (rng() % 30 == 0)
            conn.invalidate();  // "the server hung up"
    }
    --load->clients_running;
}

// Every pool and every key held: nothing lent, connecting, waiting or in maintenance, and
// min_size met.
bool at_rest(const service_pools& pools)
{
    for (const pool_report& r : reports(pools)) {
        const connpool::pool_stats& s = r.stats;
        if (s.in_use || s.pending || s.waiters || s.maintenance || s.size < s.min_size)
            return false;
    }
    return true;
}

// ------------------------------------------------------------------------ /stats as JSON

void json_string(std::ostream& out, std::string_view s)
{
    out << '"';
    for (char c : s) {
        if (c == '"' || c == '\\')
            out << '\\' << c;
        else if (c == '\n')
            out << "\\n";
        else
            out << c;
    }
    out << '"';
}

std::string stats_json(const service_pools& pools, bool frozen)
{
    std::ostringstream out;
    out << "{\"state\":\"" << (frozen ? "frozen" : "loading") << "\",\"pools\":[";
    bool first = true;
    for (const pool_report& r : reports(pools)) {
        const connpool::pool_stats& s = r.stats;
        const connpool::pool_histograms& h = r.histograms;
        out << (first ? "" : ",") << "{\"name\":";
        first = false;
        json_string(out, r.name);
        if (!r.key.empty()) {
            out << ",\"key\":";
            json_string(out, r.key);
        }
        out << ",\"size\":" << s.size << ",\"idle\":" << s.idle << ",\"in_use\":" << s.in_use
            << ",\"pending\":" << s.pending << ",\"waiters\":" << s.waiters
            << ",\"min_size\":" << s.min_size << ",\"max_size\":" << s.max_size
            << ",\"acquired\":" << s.acquired << ",\"waited\":" << s.waited
            << ",\"timeouts\":" << s.timeouts << ",\"created\":" << s.created
            << ",\"connect_failures\":" << s.connect_failures
            << ",\"destroyed_broken\":" << s.destroyed_broken
            << ",\"wait_count\":" << h.wait_time.count()
            << ",\"create_count\":" << h.create_time.count()
            << ",\"use_time_measured\":" << (h.use_time_measured ? "true" : "false")
            << ",\"use_count\":" << h.use_time.count() << '}';
    }
    out << "]}\n";
    return std::move(out).str();
}

// ------------------------------------------------------------------------ HTTP/1.1

struct server_state {
    server_state(connpool::prometheus::collector m, const service_pools* p)
        : metrics(std::move(m)), pools(p)
    {
    }
    connpool::prometheus::collector metrics;
    const service_pools* pools;
    bool frozen = false;
};

// One connection: requests until the client closes (keep-alive, as Prometheus uses it).
asio::awaitable<void> http_session(tcp::socket socket, std::shared_ptr<server_state> state)
{
    const connpool::prometheus::collector& metrics = state->metrics;
    std::string buffer;
    for (;;) {
        auto [ec, n] =
            co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, 16 * 1024),
                                            "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;  // closed by the client, or a request head over 16 KiB
        const std::string head = buffer.substr(0, n);
        buffer.erase(0, n);  // GET requests have no body
        std::istringstream request_line(head.substr(0, head.find("\r\n")));
        std::string method, target;
        request_line >> method >> target;
        std::string status = "200 OK", type = "application/json", body;
        if (method != "GET") {
            status = "405 Method Not Allowed";
            type = "text/plain";
            body = "GET only\n";
        } else if (target == "/metrics") {
            type = connpool::prometheus::content_type;
            body = metrics.text();
        } else if (target == "/stats") {
            body = stats_json(*state->pools, state->frozen);
        } else {
            status = "404 Not Found";
            type = "text/plain";
            body = "/metrics or /stats\n";
        }
        const std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                                     "\r\nContent-Length: " + std::to_string(body.size()) +
                                     "\r\n\r\n" + body;
        auto [wec, written] = co_await asio::async_write(socket, asio::buffer(response),
                                                         asio::as_tuple(asio::use_awaitable));
        if (wec)
            co_return;
    }
}

asio::awaitable<void> http_server(tcp::acceptor& acceptor, std::shared_ptr<server_state> state)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;  // the acceptor was closed
        asio::co_spawn(acceptor.get_executor(), http_session(std::move(socket), state),
                       asio::detached);
    }
}

// GET `target` from the server itself (--self-check): the body.
asio::awaitable<std::string> http_get(tcp::endpoint server, std::string target)
{
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(server, asio::use_awaitable);
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    std::string buffer;
    const std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer),
                                                          "\r\n\r\n", asio::use_awaitable);
    const std::string head = buffer.substr(0, n);
    const auto at = head.find("Content-Length: ");
    const std::size_t length = std::stoul(head.substr(at + 16));
    while (buffer.size() < n + length) {
        char chunk[4096];
        const std::size_t got =
            co_await socket.async_read_some(asio::buffer(chunk), asio::use_awaitable);
        buffer.append(chunk, got);
    }
    co_return buffer.substr(n, length);
}

// A Prometheus label value, escaped as the text format wants it (written out here rather than
// taken from the library, so that the check does not trust the code it checks).
std::string label_value(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\' || c == '\n')
            out += '\\';
        out += c == '\n' ? 'n' : c;
    }
    return out;
}

// The number of times `needle` occurs in `text`.
std::size_t occurrences(std::string_view text, std::string_view needle)
{
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + needle.size()))
        ++n;
    return n;
}

// --self-check: the exposition served over HTTP carries each pool's stats(), and each tenant's
// stats(key) under its key label (read key by key here, not through for_each_key, which the
// collector uses); /stats lists every tenant.
asio::awaitable<bool> self_check(tcp::endpoint server, const service_pools& pools)
{
    const std::string metrics = co_await http_get(server, "/metrics");
    const std::string stats = co_await http_get(server, "/stats");
    bool ok = stats.find("\"state\":\"frozen\"") != std::string::npos;
    const auto fail = [&](const std::string& what) {
        std::cerr << "self-check: " << what << '\n';
        ok = false;
    };
    std::vector<pool_report> expected;
    for (const named_pool& p : pools.plain)
        expected.push_back({p.name, {}, p.pool->stats(), p.pool->histograms()});
    const named_keyed_pool& keyed = pools.keyed;
    for (const tenant& t : keyed.tenants) {
        expected.push_back(
            {keyed.name, t.key, keyed.pool->stats(t.key), keyed.pool->histograms(t.key)});
        std::ostringstream entry;
        json_string(entry << "{\"name\":", keyed.name);
        json_string(entry << ",\"key\":", t.key);
        if (stats.find(entry.str()) == std::string::npos)
            fail("/stats lacks " + entry.str());
    }
    // Every tenant is held (none forgotten: see per_key.idle_timeout in main), and exported once.
    if (keyed.pool->keys() != keyed.tenants.size())
        fail("the keyed pool holds " + std::to_string(keyed.pool->keys()) + " keys, not " +
             std::to_string(keyed.tenants.size()));
    const std::size_t exported =
        occurrences(metrics, "\nconnpool_acquired_total{pool=\"" + label_value(keyed.name) + "\",");
    if (exported != keyed.tenants.size())
        fail("/metrics has " + std::to_string(exported) + " keys of " + keyed.name + ", not " +
             std::to_string(keyed.tenants.size()));
    for (const pool_report& r : expected) {
        const connpool::pool_stats& s = r.stats;
        const connpool::pool_histograms& h = r.histograms;
        const auto expect = [&](const std::string& series, std::uint64_t value) {
            const std::string line = series + " " + std::to_string(value) + "\n";
            if (metrics.find(line) == std::string::npos)
                fail("/metrics lacks: " + line.substr(0, line.size() - 1));
        };
        std::string l = "{pool=\"" + label_value(r.name) + "\"";
        if (!r.key.empty())
            l += ",key=\"" + label_value(r.key) + "\"";
        l += "}";
        const std::string state_idle = l.substr(0, l.size() - 1) + ",state=\"idle\"}";
        expect("db_client_connection_count" + state_idle, s.idle);
        expect("db_client_connection_max" + l, s.max_size);
        expect("connpool_acquired_total" + l, s.acquired);
        expect("connpool_created_total" + l, s.created);
        expect("db_client_connection_timeouts_total" + l, s.timeouts);
        expect("db_client_connection_wait_time_seconds_count" + l, s.waited);
        expect("db_client_connection_create_time_seconds_count" + l,
               s.created + s.connect_failures);
        if (h.use_time_measured)
            expect("db_client_connection_use_time_seconds_count" + l, s.acquired);
    }
    co_return ok;
}

struct options {
    unsigned short port = 0;
    double load_seconds = 3;
    double serve_seconds = -1;
    bool self_check = false;
};

bool parse(int argc, char** argv, options& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--port" && has_value)
            o.port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--load-seconds" && has_value)
            o.load_seconds = std::atof(argv[++i]);
        else if (a == "--serve-seconds" && has_value)
            o.serve_seconds = std::atof(argv[++i]);
        else if (a == "--self-check")
            o.self_check = true;
        else
            return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv)
{
    options opt;
    if (!parse(argc, argv, opt)) {
        std::cerr << "usage: " << argv[0]
                  << " [--port N] [--load-seconds S] [--serve-seconds S] [--self-check]\n";
        return 2;
    }
    asio::io_context ctx;
    auto ex = ctx.get_executor();
    auto backend = std::make_shared<backend_state>();

    // Three pools: a busy one with use time measured, a small one whose short deadlines time
    // out, and one whose name needs escaping in the exposition.
    service_pools pools;
    auto add = [&](std::string name, connpool::pool_options o, int clients,
                   std::chrono::milliseconds timeout) {
        pools.plain.push_back({std::move(name),
                               std::make_unique<pool_type>(ex, make_factory(ex, backend), o),
                               clients, timeout});
    };
    add("orders", {.min_size = 2, .max_size = 4, .measure_use_time = true}, 10, 50ms);
    add("quotes", {.max_size = 2}, 6, 4ms);
    add("reports \"eu\"", {.min_size = 1, .max_size = 1, .measure_use_time = true}, 2, 100ms);

    // And a keyed pool, one key per tenant, their load uneven: 5 connections for the three keys
    // (at most 3 each) make the keys wait for each other, and a key's idle surplus be closed to
    // serve another. per_key options are every key's: use time is measured for all of them.
    // A key is forgotten (and drops out of the exposition) after idle_timeout without use: an
    // hour keeps every key held from its first acquire to the end of the run, so the values
    // frozen after the load stay put (the 10 min default would do for the prometheus stage,
    // but not for a --serve-seconds run of more than ten minutes).
    pools.keyed = {"tenants",
                   std::make_unique<keyed_pool_type>(
                       ex, tenant_factory{make_factory(ex, backend)},
                       connpool::keyed_pool_options{.per_key = {.min_size = 1,
                                                                .max_size = 3,
                                                                .idle_timeout = 1h,
                                                                .measure_use_time = true},
                                                    .max_total = 5}),
                   {{"acme", 6}, {"globex", 3}, {"initech", 1}},
                   50ms};

    // The exposition of every pool and key, read at each GET /metrics.
    connpool::prometheus::collector metrics;
    for (const named_pool& p : pools.plain)
        metrics.add(p.name, *p.pool);                        // by reference: the pools outlive it
    metrics.add_keyed(pools.keyed.name, *pools.keyed.pool);  // one entry per key held
    auto state = std::make_shared<server_state>(std::move(metrics), &pools);

    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), opt.port});
    const tcp::endpoint endpoint = acceptor.local_endpoint();
    std::cout << "metrics_server: listening on http://127.0.0.1:" << endpoint.port() << "/metrics"
              << std::endl;
    asio::co_spawn(ctx, http_server(acceptor, state), asio::detached);

    auto load = std::make_shared<load_state>();
    unsigned seed = 1;
    for (named_pool& p : pools.plain)
        for (int i = 0; i < p.clients; ++i) {
            ++load->clients_running;
            auto acquire = [&pool = *p.pool, timeout = p.acquire_timeout] {
                return pool.async_acquire(timeout, asio::as_tuple(asio::use_awaitable));
            };
            asio::co_spawn(ctx, client(acquire, load, seed++), asio::detached);
        }
    for (const tenant& t : pools.keyed.tenants)
        for (int i = 0; i < t.clients; ++i) {
            ++load->clients_running;
            auto acquire = [&keyed = *pools.keyed.pool, key = t.key,
                            timeout = pools.keyed.acquire_timeout] {
                return keyed.async_acquire(key, timeout, asio::as_tuple(asio::use_awaitable));
            };
            asio::co_spawn(ctx, client(acquire, load, seed++), asio::detached);
        }

    int exit_code = 0;
    auto shut_down = [&] {
        acceptor.close();
        for (named_pool& p : pools.plain)
            p.pool->close();
        pools.keyed.pool->close();
        ctx.stop();  // also ends idle keep-alive sessions
    };
    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](error_code ec, int) {
        if (!ec)
            shut_down();
    });

    // The load's end, then the pools at rest, then (--self-check or --serve-seconds) the end.
    auto conductor = [&]() -> asio::awaitable<void> {
        asio::steady_timer t(ex);
        t.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(opt.load_seconds)));
        co_await t.async_wait(asio::use_awaitable);
        load->stopping = true;
        while (load->clients_running > 0 || !at_rest(pools)) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        state->frozen = true;
        std::cout << "metrics_server: load over, values frozen" << std::endl;
        for (const pool_report& r : reports(pools)) {
            const connpool::pool_stats& s = r.stats;
            const connpool::pool_histograms& h = r.histograms;
            std::cout
                << "  " << r.name << (r.key.empty() ? "" : "[" + r.key + "]") << ": acquired "
                << s.acquired << ", waited " << s.waited << ", timeouts " << s.timeouts
                << ", created " << s.created << ", connect failures " << s.connect_failures
                << ", wait p99 "
                << std::chrono::duration<double, std::milli>(h.wait_time.quantile(0.99)).count()
                << " ms, connect p50 "
                << std::chrono::duration<double, std::milli>(h.create_time.quantile(0.5)).count()
                << " ms" << std::endl;
        }
        if (opt.self_check) {
            const bool ok = co_await self_check(endpoint, pools);
            std::cout << "metrics_server: self-check " << (ok ? "passed" : "FAILED") << std::endl;
            exit_code = ok ? 0 : 1;
            shut_down();
        } else if (opt.serve_seconds >= 0) {
            t.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(opt.serve_seconds)));
            co_await t.async_wait(asio::use_awaitable);
            shut_down();
        }
    };
    asio::co_spawn(ctx, conductor(), [&](std::exception_ptr e) {
        if (e) {
            exit_code = 1;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "metrics_server: " << x.what() << '\n';
            }
            shut_down();
        }
    });
    ctx.run();
    return exit_code;
}
