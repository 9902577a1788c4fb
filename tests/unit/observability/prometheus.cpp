// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// The Prometheus text exposition (issue 11, item 3): the exact text of each family for known
// statistics, escaping of label values and help texts, several pools in one exposition, and the
// collector over live pools. scripts/test.sh's prometheus stage has a real Prometheus scrape it.

#include "support/pool_fixture.hpp"
#include "unit/keyed/keyed_fixture.hpp"

#include <connpool/prometheus.hpp>

#include <boost/asio/error.hpp>

#include <locale>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace connpool::test;
using namespace connpool::testing;
using connpool::duration_histogram;
using connpool::pool_histograms;
using connpool::pool_stats;
namespace prom = connpool::prometheus;

using F = fixture<>;

namespace {

pool_stats sample_stats()
{
    pool_stats s;
    s.size = 7;
    s.idle = 2;
    s.in_use = 3;
    s.pending = 1;
    s.maintenance = 1;
    s.waiters = 4;
    s.min_size = 1;
    s.max_size = 8;
    s.acquired = 1000;
    s.waited = 40;
    s.timeouts = 3;
    s.cancelled = 2;
    s.exhausted = 1;
    s.created = 12;
    s.connect_failures = 5;
    s.destroyed_idle = 1;
    s.destroyed_lifetime = 2;
    s.destroyed_broken = 3;
    s.destroyed_cleared = 4;
    s.destroyed_closed = 0;
    s.destroyed_surplus = 7;
    s.destroyed_vetoed = 9;
    s.leaks_suspected = 6;
    s.leases_overdue = 2;
    s.oldest_lease_held = std::chrono::milliseconds(1500);
    return s;
}

std::string exposition(const std::vector<prom::pool_metrics>& pools)
{
    std::ostringstream out;
    prom::write(out, pools);
    return out.str();
}

// The lines of one family: its # HELP and # TYPE lines and its samples.
std::string family(const std::string& text, const std::string& name)
{
    const std::string head = "# HELP " + name + " ";
    const auto from = text.find(head);
    if (from == std::string::npos)
        return {};
    auto to = text.find("# HELP ", from + head.size());
    return text.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    return lines;
}

}  // namespace

TEST_CASE("gauges and counters of one pool, exact text", "[prometheus]")
{
    const std::string text = exposition({{"db", "", sample_stats(), {}}});
    CHECK(family(text, "db_client_connection_count") ==
          "# HELP db_client_connection_count Connections open now, by state: idle (ready to be "
          "lent) or used (lent to a caller). Connects in flight and connections being checked "
          "are in connpool_connections.\n"
          "# TYPE db_client_connection_count gauge\n"
          "db_client_connection_count{pool=\"db\",state=\"idle\"} 2\n"
          "db_client_connection_count{pool=\"db\",state=\"used\"} 3\n");
    CHECK(lines_of(family(text, "db_client_connection_idle_min")).back() ==
          "db_client_connection_idle_min{pool=\"db\"} 1");
    CHECK(lines_of(family(text, "db_client_connection_max")).back() ==
          "db_client_connection_max{pool=\"db\"} 8");
    CHECK(lines_of(family(text, "db_client_connection_pending_requests")).back() ==
          "db_client_connection_pending_requests{pool=\"db\"} 4");
    CHECK(family(text, "db_client_connection_timeouts_total") ==
          "# HELP db_client_connection_timeouts_total Acquires that reached their deadline "
          "without a connection.\n"
          "# TYPE db_client_connection_timeouts_total counter\n"
          "db_client_connection_timeouts_total{pool=\"db\"} 3\n");
    const auto conns = lines_of(family(text, "connpool_connections"));
    REQUIRE(conns.size() == 6);
    CHECK(conns[1] == "# TYPE connpool_connections gauge");
    CHECK(conns[2] == "connpool_connections{pool=\"db\",state=\"idle\"} 2");
    CHECK(conns[3] == "connpool_connections{pool=\"db\",state=\"used\"} 3");
    CHECK(conns[4] == "connpool_connections{pool=\"db\",state=\"connecting\"} 1");
    CHECK(conns[5] == "connpool_connections{pool=\"db\",state=\"maintenance\"} 1");
    for (auto [name, value] : std::initializer_list<std::pair<const char*, const char*>>{
             {"connpool_acquired_total", "1000"},
             {"connpool_waited_total", "40"},
             {"connpool_cancelled_total", "2"},
             {"connpool_exhausted_total", "1"},
             {"connpool_created_total", "12"},
             {"connpool_connect_failures_total", "5"},
             {"connpool_leaks_suspected_total", "6"}}) {
        INFO(name);
        const auto l = lines_of(family(text, name));
        REQUIRE(l.size() == 3);
        CHECK(l[1] == std::string("# TYPE ") + name + " counter");
        CHECK(l[2] == std::string(name) + "{pool=\"db\"} " + value);
    }
    const auto destroyed = lines_of(family(text, "connpool_destroyed_total"));
    REQUIRE(destroyed.size() == 9);
    CHECK(destroyed[2] == "connpool_destroyed_total{pool=\"db\",cause=\"idle\"} 1");
    CHECK(destroyed[3] == "connpool_destroyed_total{pool=\"db\",cause=\"lifetime\"} 2");
    CHECK(destroyed[4] == "connpool_destroyed_total{pool=\"db\",cause=\"broken\"} 3");
    CHECK(destroyed[5] == "connpool_destroyed_total{pool=\"db\",cause=\"cleared\"} 4");
    CHECK(destroyed[6] == "connpool_destroyed_total{pool=\"db\",cause=\"closed\"} 0");
    CHECK(destroyed[7] == "connpool_destroyed_total{pool=\"db\",cause=\"surplus\"} 7");
    CHECK(destroyed[8] == "connpool_destroyed_total{pool=\"db\",cause=\"vetoed\"} 9");
    const auto overdue = lines_of(family(text, "connpool_leases_overdue"));
    REQUIRE(overdue.size() == 3);
    CHECK(overdue[1] == "# TYPE connpool_leases_overdue gauge");
    CHECK(overdue[2] == "connpool_leases_overdue{pool=\"db\"} 2");
    const auto oldest = lines_of(family(text, "connpool_oldest_lease_seconds"));
    REQUIRE(oldest.size() == 3);
    CHECK(oldest[1] == "# TYPE connpool_oldest_lease_seconds gauge");
    CHECK(oldest[2] == "connpool_oldest_lease_seconds{pool=\"db\"} 1.5");
    // No error yet: no info series, and no use-time histogram without measure_use_time.
    CHECK(family(text, "connpool_last_connect_error_info").empty());
    CHECK(family(text, "db_client_connection_use_time_seconds").empty());
}

TEST_CASE("a histogram: cumulative buckets up to +Inf, _sum in seconds, _count", "[prometheus]")
{
    pool_histograms h;
    h.wait_time.buckets[0] = 1;  // <= 1.024 us
    h.wait_time.buckets[duration_histogram::bucket_of(std::chrono::milliseconds(3))] = 2;
    h.wait_time.buckets[duration_histogram::finite_buckets] = 1;  // > 68.7 s
    h.wait_time.sum = std::chrono::nanoseconds(90'006'000'500);   // 90.0060005 s
    const std::string text = exposition({{"db", "", {}, h}});
    CHECK(
        family(text, "db_client_connection_wait_time_seconds") ==
        R"(# HELP db_client_connection_wait_time_seconds Time acquires spent queued for a connection, whatever the outcome (served, timed out, cancelled, failed). Acquires served at once are not counted: see connpool_acquired_total.
# TYPE db_client_connection_wait_time_seconds histogram
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000001024"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000002048"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000004096"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000008192"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000016384"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000032768"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000065536"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000131072"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000262144"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.000524288"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.001048576"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.002097152"} 1
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.004194304"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.008388608"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.016777216"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.033554432"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.067108864"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.134217728"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.268435456"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="0.536870912"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="1.073741824"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="2.147483648"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="4.294967296"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="8.589934592"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="17.179869184"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="34.359738368"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="68.719476736"} 3
db_client_connection_wait_time_seconds_bucket{pool="db",le="+Inf"} 4
db_client_connection_wait_time_seconds_sum{pool="db"} 90.0060005
db_client_connection_wait_time_seconds_count{pool="db"} 4
)");
    // The other two are written the same way; use time only when measured.
    CHECK(lines_of(family(text, "db_client_connection_create_time_seconds")).size() == 2 + 28 + 2);
    CHECK(family(text, "db_client_connection_use_time_seconds").empty());
    h.use_time_measured = true;
    const std::string measured = exposition({{"db", "", {}, h}});
    CHECK(lines_of(family(measured, "db_client_connection_use_time_seconds")).back() ==
          "db_client_connection_use_time_seconds_count{pool=\"db\"} 0");
}

TEST_CASE("label values escape backslash, double quote and line feed", "[prometheus]")
{
    const std::string text = exposition({{"eu\\west \"b\"\nx", "", sample_stats(), {}}});
    CHECK(lines_of(family(text, "db_client_connection_max")).back() ==
          R"(db_client_connection_max{pool="eu\\west \"b\"\nx"} 8)");
}

TEST_CASE("help texts escape backslash and line feed, not double quotes", "[prometheus]")
{
    std::ostringstream out;
    connpool::detail::prometheus_text::write_family(out, "m", "gauge", "a\\b\n\"c\"");
    CHECK(out.str() == "# HELP m a\\\\b\\n\"c\"\n# TYPE m gauge\n");
}

TEST_CASE("durations are written as exact decimal seconds", "[prometheus]")
{
    connpool::detail::prometheus_text::seconds_buffer b;
    CHECK(b.format(0) == "0");
    CHECK(b.format(1) == "0.000000001");
    CHECK(b.format(1'500'000'000) == "1.5");
    CHECK(b.format(68'719'476'736) == "68.719476736");
    CHECK(b.format(UINT64_MAX) == "18446744073.709551615");
}

TEST_CASE("numbers ignore the stream's locale", "[prometheus]")
{
    struct grouping : std::numpunct<char> {
        char do_thousands_sep() const override { return ','; }
        std::string do_grouping() const override { return "\3"; }
    };
    std::ostringstream out;
    out.imbue(std::locale(std::locale::classic(), new grouping));
    auto s = sample_stats();
    s.acquired = 1234567;
    prom::write(out, "db", s, {});
    CHECK(out.str().find("connpool_acquired_total{pool=\"db\"} 1234567\n") != std::string::npos);
}

TEST_CASE("several pools: each family once, one series per pool, in order", "[prometheus]")
{
    auto a = sample_stats();
    auto b = sample_stats();
    b.max_size = 32;
    pool_histograms measured;
    measured.use_time_measured = true;
    measured.use_time.buckets[3] = 5;
    const std::string text = exposition({{"a", "", a, {}}, {"b", "", b, measured}});
    // Every family's # TYPE line appears once.
    std::set<std::string> types;
    for (const auto& l : lines_of(text))
        if (l.rfind("# TYPE ", 0) == 0)
            CHECK(types.insert(l).second);
    CHECK(types.size() == 19);
    const auto max = lines_of(family(text, "db_client_connection_max"));
    REQUIRE(max.size() == 4);
    CHECK(max[2] == "db_client_connection_max{pool=\"a\"} 8");
    CHECK(max[3] == "db_client_connection_max{pool=\"b\"} 32");
    // Use time: only pool b measures it.
    const std::string use = family(text, "db_client_connection_use_time_seconds");
    CHECK(use.find("pool=\"a\"") == std::string::npos);
    CHECK(use.find("db_client_connection_use_time_seconds_count{pool=\"b\"} 5\n") !=
          std::string::npos);
}

TEST_CASE("a key label follows the pool label", "[prometheus]")
{
    const std::string text = exposition({{"shards", "eu-1", sample_stats(), {}}});
    CHECK(lines_of(family(text, "db_client_connection_count"))[2] ==
          "db_client_connection_count{pool=\"shards\",key=\"eu-1\",state=\"idle\"} 2");
    CHECK(text.find("_bucket{pool=\"shards\",key=\"eu-1\",le=\"+Inf\"} 0\n") != std::string::npos);
}

TEST_CASE("the last connect error is an info series of the pools where a connect failed",
          "[prometheus]")
{
    auto failing = sample_stats();
    failing.last_connect_error = boost::asio::error::connection_refused;
    const std::string text =
        exposition({{"ok", "", sample_stats(), {}}, {"down", "", failing, {}}});
    const auto l = lines_of(family(text, "connpool_last_connect_error_info"));
    REQUIRE(l.size() == 3);
    CHECK(l[1] == "# TYPE connpool_last_connect_error_info gauge");
    CHECK(l[2] == "connpool_last_connect_error_info{pool=\"down\",category=\"system\",code=\"" +
                      std::to_string(boost::asio::error::connection_refused) +
                      "\",message=\"Connection refused\"} 1");
}

TEST_CASE("every line is a comment or a well-formed sample", "[prometheus]")
{
    auto s = sample_stats();
    s.last_connect_error = boost::asio::error::host_not_found;
    pool_histograms h;
    h.use_time_measured = true;
    const std::string text = exposition({{"a\"b", "k\\", s, h}, {"c", "", {}, {}}});
    const std::regex comment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
    const std::regex sample(
        R"([a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\} [0-9]+(\.[0-9]+)?)");
    std::size_t samples = 0;
    for (const auto& l : lines_of(text)) {
        INFO(l);
        if (l.rfind("#", 0) == 0) {
            CHECK(std::regex_match(l, comment));
        } else {
            CHECK(std::regex_match(l, sample));
            ++samples;
        }
    }
    CHECK(text.back() == '\n');
    // Pool a: 5 + 4 + 2 gauge lines (the two of leases), 1 + 7 + 7 counters, 3 histograms of 30
    // lines, the error; pool b: no use time, no error.
    CHECK(samples == (11 + 15 + 90 + 1) + (11 + 15 + 60));
}

TEST_CASE("an exposition of no pools is empty", "[prometheus]")
{
    CHECK(exposition({}).empty());
}

TEST_CASE_METHOD(F, "the collector reads its pools when it writes", "[prometheus]")
{
    auto& p = make_pool({.max_size = 2});
    prom::collector metrics;
    metrics.add("main", p);
    CHECK(metrics.text().find("connpool_acquired_total{pool=\"main\"} 0\n") != std::string::npos);
    auto a = acquire_now();
    auto b = acquire_now();
    const std::string text = metrics.text();
    CHECK(text.find("connpool_acquired_total{pool=\"main\"} 2\n") != std::string::npos);
    CHECK(text.find("db_client_connection_count{pool=\"main\",state=\"used\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("db_client_connection_create_time_seconds_count{pool=\"main\"} 2\n") !=
          std::string::npos);
    // The same text as writing the pool's own snapshot.
    std::ostringstream direct;
    prom::write(direct, "main", p.stats(), p.histograms());
    CHECK(direct.str() == text);
}

TEST_CASE_METHOD(F, "the collector refuses a name twice and forgets a removed pool", "[prometheus]")
{
    auto& p = make_pool({.max_size = 1});
    prom::collector metrics;
    metrics.add("x", p).add("y", p);
    CHECK_THROWS_AS(metrics.add("x", p), std::invalid_argument);
    CHECK(metrics.collect().size() == 2);
    CHECK(metrics.remove("x"));
    CHECK_FALSE(metrics.remove("x"));
    const auto left = metrics.collect();
    REQUIRE(left.size() == 1);
    CHECK(left[0].pool == "y");
    CHECK(metrics.text().find("pool=\"x\"") == std::string::npos);
}

TEST_CASE_METHOD(connpool::test::keyed_fixture<>,
                 "the collector exports a keyed pool's keys, one series per key held",
                 "[prometheus][keyed]")
{
    auto& k = make_keyed({.per_key = {.max_size = 2}});
    prom::collector metrics;
    metrics.add_keyed("users", k);
    metrics.add_keyed("shards", k, [](const std::string& key) { return "shard-" + key; });
    CHECK(metrics.collect().empty());  // no key yet
    auto a = acquire_now("alice");
    auto b1 = acquire_now("bob");
    auto b2 = acquire_now("bob");
    const auto all = metrics.collect();
    REQUIRE(all.size() == 4);
    std::set<std::pair<std::string, std::string>> labels;
    for (const auto& m : all)
        labels.emplace(m.pool, m.key);
    CHECK(labels == std::set<std::pair<std::string, std::string>>{{"users", "alice"},
                                                                  {"users", "bob"},
                                                                  {"shards", "shard-alice"},
                                                                  {"shards", "shard-bob"}});
    const std::string text = metrics.text();
    CHECK(text.find("db_client_connection_count{pool=\"users\",key=\"bob\",state=\"used\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("db_client_connection_count{pool=\"users\",key=\"alice\",state=\"used\"} "
                    "1\n") != std::string::npos);
    CHECK(text.find("connpool_acquired_total{pool=\"shards\",key=\"shard-bob\"} 2\n") !=
          std::string::npos);
    // Each key's series agree with the key's own stats().
    for (const auto& m : all)
        if (m.pool == "users") {
            INFO(m.key);
            CHECK(m.stats.acquired == k.stats(m.key).acquired);
        }
}
