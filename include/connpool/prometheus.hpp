// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_PROMETHEUS_HPP
#define CONNPOOL_PROMETHEUS_HPP

/// \file prometheus.hpp
/// Pools' statistics and histograms in Prometheus' text exposition format (version 0.0.4),
/// without a metrics library: write them to any std::ostream, e.g. the body of your service's
/// `GET /metrics` response (Content-Type: prometheus::content_type).
///
///     connpool::prometheus::collector metrics;
///     metrics.add("orders", orders_pool).add("quotes", quotes_pool);
///     ...
///     std::string body = metrics.text();   // in the /metrics handler
///
/// The metrics are named after OpenTelemetry's semantic conventions for database client
/// connection pools (db.client.connection.*), in Prometheus form, plus connpool's own counters
/// (connpool_*); every series has a `pool` label (and a `key` label when pool_metrics::key is
/// set). Durations are in seconds. README.md, "Observability", lists them all.

#include <connpool/detail/prometheus_text.hpp>
#include <connpool/histogram.hpp>
#include <connpool/stats.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace connpool::prometheus {

/// The Content-Type of the exposition written here.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// What one pool contributes to an exposition: its labels and what it reported.
struct pool_metrics {
    std::string pool;  ///< The `pool` label's value (UTF-8; escaped as the format requires).
    std::string key;   ///< A `key` label when not empty: one entry per key of a keyed pool.
    pool_stats stats;
    pool_histograms histograms;
};

/// Anything that reports like a pool: connpool::pool, or a wrapper of your own.
template <class Pool>
concept metrics_source = requires(const Pool& p) {
    { p.stats() } -> std::convertible_to<pool_stats>;
    { p.histograms() } -> std::convertible_to<pool_histograms>;
};

/// Reads `pool`'s statistics and histograms now. Thread safety: as pool::stats(), any thread.
template <metrics_source Pool>
pool_metrics snapshot(std::string name, const Pool& pool)
{
    return pool_metrics{std::move(name), {}, pool.stats(), pool.histograms()};
}

namespace detail {
using namespace connpool::detail::prometheus_text;

// A gauge or counter family with one unlabelled (beyond pool and key) sample per pool.
template <class Value>
void write_simple_family(std::ostream& out, std::span<const pool_metrics> pools,
                         std::string_view name, std::string_view type, std::string_view help,
                         Value value_of)
{
    write_family(out, name, type, help);
    for (const pool_metrics& p : pools) {
        write_series(out, name, p.pool, p.key);
        write_integer(out, static_cast<std::uint64_t>(value_of(p.stats)));
        out << '\n';
    }
}

// A family with one sample per pool and per value of one more label.
template <class Value>
void write_labelled_family(std::ostream& out, std::span<const pool_metrics> pools,
                           std::string_view name, std::string_view type, std::string_view help,
                           std::string_view label_name,
                           std::initializer_list<std::pair<std::string_view, Value>> values)
{
    write_family(out, name, type, help);
    for (const pool_metrics& p : pools)
        for (const auto& [label_value, value_of] : values) {
            write_series(out, name, p.pool, p.key, {{label_name, label_value}});
            write_integer(out, static_cast<std::uint64_t>(value_of(p.stats)));
            out << '\n';
        }
}

// A histogram family: cumulative _bucket{le} lines (+Inf included), _sum in seconds, _count.
// Pools for which `include` is false are left out; the family too when none is left.
template <class Include>
void write_histogram_family(std::ostream& out, std::span<const pool_metrics> pools,
                            std::string_view name, std::string_view help,
                            duration_histogram pool_histograms::* which, Include include)
{
    if (std::none_of(pools.begin(), pools.end(), include))
        return;
    write_family(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    const std::string sum = std::string(name) + "_sum";
    const std::string count = std::string(name) + "_count";
    for (const pool_metrics& p : pools) {
        if (!include(p))
            continue;
        const duration_histogram& h = p.histograms.*which;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < duration_histogram::finite_buckets; ++i) {
            cumulative += h.buckets[i];
            seconds_buffer le;
            write_series(out, bucket, p.pool, p.key,
                         {{"le", le.format(static_cast<std::uint64_t>(
                                     duration_histogram::upper_bound(i).count()))}});
            write_integer(out, cumulative);
            out << '\n';
        }
        cumulative += h.buckets[duration_histogram::finite_buckets];
        write_series(out, bucket, p.pool, p.key, {{"le", "+Inf"}});
        write_integer(out, cumulative);
        out << '\n';
        write_series(out, sum, p.pool, p.key);
        write_seconds(out, static_cast<std::uint64_t>(std::max<std::int64_t>(0, h.sum.count())));
        out << '\n';
        write_series(out, count, p.pool, p.key);
        write_integer(out, cumulative);
        out << '\n';
    }
}

using stats_value = std::uint64_t (*)(const pool_stats&);
}  // namespace detail

/// Writes the exposition of `pools`: each metric family once, with one series per pool (and per
/// state, cause, ...), in the order of `pools`. Nothing when `pools` is empty. Two entries with
/// the same pool and key would make Prometheus reject the scrape: keep them distinct (the
/// collector checks). Thread safety: a pure function of its arguments.
inline void write(std::ostream& out, std::span<const pool_metrics> pools)
{
    using detail::stats_value;
    if (pools.empty())
        return;
    auto always = [](const pool_metrics&) { return true; };

    // OpenTelemetry's db.client.connection.* metrics.
    detail::write_labelled_family<stats_value>(
        out, pools, "db_client_connection_count", "gauge",
        "Connections open now, by state: idle (ready to be lent) or used (lent to a caller). "
        "Connects in flight and connections being checked are in connpool_connections.",
        "state",
        {{"idle", [](const pool_stats& s) -> std::uint64_t { return s.idle; }},
         {"used", [](const pool_stats& s) -> std::uint64_t { return s.in_use; }}});
    detail::write_simple_family(
        out, pools, "db_client_connection_idle_min", "gauge",
        "Connections the pool keeps open at all times, idle or used (min_size, as resize() "
        "left it).",
        [](const pool_stats& s) { return s.min_size; });
    detail::write_simple_family(
        out, pools, "db_client_connection_max", "gauge",
        "The cap on the connections that exist, connects in flight included "
        "(max_size, as resize() left it).",
        [](const pool_stats& s) { return s.max_size; });
    detail::write_simple_family(out, pools, "db_client_connection_pending_requests", "gauge",
                                "Acquires waiting for a connection now.",
                                [](const pool_stats& s) { return s.waiters; });
    detail::write_simple_family(out, pools, "db_client_connection_timeouts_total", "counter",
                                "Acquires that reached their deadline without a connection.",
                                [](const pool_stats& s) { return s.timeouts; });
    detail::write_histogram_family(
        out, pools, "db_client_connection_create_time_seconds",
        "Duration of each connect attempt, success or failure (an attempt that timed out counts "
        "its connect_timeout).",
        &pool_histograms::create_time, always);
    detail::write_histogram_family(
        out, pools, "db_client_connection_wait_time_seconds",
        "Time acquires spent queued for a connection, whatever the outcome (served, timed out, "
        "cancelled, failed). Acquires served at once are not counted: see "
        "connpool_acquired_total.",
        &pool_histograms::wait_time, always);
    detail::write_histogram_family(out, pools, "db_client_connection_use_time_seconds",
                                   "Time from lending a connection to its return (pools with "
                                   "pool_options::measure_use_time only).",
                                   &pool_histograms::use_time, [](const pool_metrics& p) {
                                       return p.histograms.use_time_measured;
                                   });

    // connpool's own.
    detail::write_labelled_family<stats_value>(
        out, pools, "connpool_connections", "gauge",
        "Connections that exist, by state: idle, used, connecting (a connect in flight) or "
        "maintenance (being reset, validated, pinged or destroyed). Their sum is the pool's size.",
        "state",
        {{"idle", [](const pool_stats& s) -> std::uint64_t { return s.idle; }},
         {"used", [](const pool_stats& s) -> std::uint64_t { return s.in_use; }},
         {"connecting", [](const pool_stats& s) -> std::uint64_t { return s.pending; }},
         {"maintenance", [](const pool_stats& s) -> std::uint64_t { return s.maintenance; }}});
    detail::write_simple_family(out, pools, "connpool_acquired_total", "counter",
                                "Leases handed out.",
                                [](const pool_stats& s) { return s.acquired; });
    detail::write_simple_family(out, pools, "connpool_waited_total", "counter",
                                "Acquires that had to wait in the queue.",
                                [](const pool_stats& s) { return s.waited; });
    detail::write_simple_family(out, pools, "connpool_cancelled_total", "counter",
                                "Acquires cancelled by their caller.",
                                [](const pool_stats& s) { return s.cancelled; });
    detail::write_simple_family(
        out, pools, "connpool_exhausted_total", "counter",
        "Acquires refused at once because max_waiters acquires were waiting already.",
        [](const pool_stats& s) { return s.exhausted; });
    detail::write_simple_family(out, pools, "connpool_created_total", "counter",
                                "Successful connects.",
                                [](const pool_stats& s) { return s.created; });
    detail::write_simple_family(out, pools, "connpool_connect_failures_total", "counter",
                                "Failed connects, connect timeouts included.",
                                [](const pool_stats& s) { return s.connect_failures; });
    detail::write_labelled_family<stats_value>(
        out, pools, "connpool_destroyed_total", "counter",
        "Connections destroyed, by cause: idle (idle_timeout), lifetime (max_lifetime), broken "
        "(invalidated, a failed ping or reset, unhealthy), cleared (clear()), closed (close()), "
        "surplus (above a max lowered by resize() or a connection_limit, or freeing a shared "
        "unit).",
        "cause",
        {{"idle", [](const pool_stats& s) { return s.destroyed_idle; }},
         {"lifetime", [](const pool_stats& s) { return s.destroyed_lifetime; }},
         {"broken", [](const pool_stats& s) { return s.destroyed_broken; }},
         {"cleared", [](const pool_stats& s) { return s.destroyed_cleared; }},
         {"closed", [](const pool_stats& s) { return s.destroyed_closed; }},
         {"surplus", [](const pool_stats& s) { return s.destroyed_surplus; }},
         {"vetoed", [](const pool_stats& s) { return s.destroyed_vetoed; }}});
    detail::write_simple_family(out, pools, "connpool_leaks_suspected_total", "counter",
                                "Leases held longer than leak_threshold (each counted once).",
                                [](const pool_stats& s) { return s.leaks_suspected; });
    detail::write_simple_family(
        out, pools, "connpool_leases_overdue", "gauge",
        "Leases held longer than leak_threshold now (0 without leak_threshold).",
        [](const pool_stats& s) { return s.leases_overdue; });
    detail::write_family(out, "connpool_oldest_lease_seconds", "gauge",
                         "How long the oldest lease held now has been held (with "
                         "leak_threshold; 0 when none is lent). stats().oldest_lease_where "
                         "names its acquire's call site.");
    for (const pool_metrics& p : pools) {
        detail::write_series(out, "connpool_oldest_lease_seconds", p.pool, p.key);
        detail::write_seconds(out, static_cast<std::uint64_t>(std::max<std::int64_t>(
                                       0, p.stats.oldest_lease_held.count())));
        out << '\n';
    }

    // The last connect error, as an info metric: only pools where a connect has failed.
    auto failed = [](const pool_metrics& p) {
        return static_cast<bool>(p.stats.last_connect_error);
    };
    if (std::any_of(pools.begin(), pools.end(), failed)) {
        detail::write_family(out, "connpool_last_connect_error_info", "gauge",
                             "The error of the most recent failed connect (1 while there is one; "
                             "it is kept after later successes: compare "
                             "connpool_connect_failures_total over time).");
        for (const pool_metrics& p : pools) {
            if (!failed(p))
                continue;
            const boost::system::error_code& ec = p.stats.last_connect_error;
            const std::string code = std::to_string(ec.value());
            const std::string message = ec.message();
            detail::write_series(
                out, "connpool_last_connect_error_info", p.pool, p.key,
                {{"category", ec.category().name()}, {"code", code}, {"message", message}});
            out << "1\n";
        }
    }
}

/// Writes the exposition of one pool, from its stats() and histograms().
inline void write(std::ostream& out, std::string_view pool, const pool_stats& stats,
                  const pool_histograms& histograms)
{
    const pool_metrics one{std::string(pool), {}, stats, histograms};
    write(out, std::span<const pool_metrics>(&one, 1));
}

/// The pools of a service, named, for one exposition. Holds them by reference: each must
/// outlive the collector or be removed first. Thread safety: add() and remove() are not
/// synchronised (set the collector up before serving); collect(), write() and text() may run on
/// any thread, concurrently with each other and with the pools' use.
class collector {
public:
    /// Adds `pool` under the label pool="`name`". Throws std::invalid_argument when `name` is
    /// taken already (Prometheus would reject a scrape with two series of one name).
    template <metrics_source Pool>
    collector& add(std::string name, const Pool& pool)
    {
        check_free(name);
        sources_.push_back({name, [&pool](const std::string& n, std::vector<pool_metrics>& into) {
                                into.push_back(snapshot(n, pool));
                            }});
        return *this;
    }

    /// Adds a keyed_pool under the label pool="`name`": one entry per key held at each
    /// collection, labelled key="`key_label(key)`" (a function of the Key returning something
    /// convertible to std::string). Keys forgotten drop out of the exposition. Throws
    /// std::invalid_argument when `name` is taken already.
    template <class Keyed, class KeyLabel>
    collector& add_keyed(std::string name, const Keyed& keyed, KeyLabel key_label)
    {
        check_free(name);
        sources_.push_back(
            {name, [&keyed, key_label](const std::string& n, std::vector<pool_metrics>& into) {
                 keyed.for_each_key(
                     [&](const auto& key, const pool_stats& st, const pool_histograms& h) {
                         into.push_back(pool_metrics{n, std::string(key_label(key)), st, h});
                     });
             }});
        return *this;
    }

    /// As above, for keys that convert to std::string or print with operator<<.
    template <class Keyed>
    collector& add_keyed(std::string name, const Keyed& keyed)
    {
        return add_keyed(std::move(name), keyed, [](const auto& key) {
            if constexpr (std::is_constructible_v<std::string, decltype(key)>) {
                return std::string(key);
            } else {
                std::ostringstream os;
                os << key;
                return std::move(os).str();
            }
        });
    }

    /// Removes the pool added as `name`; false if there is none.
    bool remove(std::string_view name)
    {
        const auto it = std::find_if(sources_.begin(), sources_.end(),
                                     [&](const source& s) { return s.name == name; });
        if (it == sources_.end())
            return false;
        sources_.erase(it);
        return true;
    }

    /// A snapshot of every pool, in the order they were added.
    std::vector<pool_metrics> collect() const
    {
        std::vector<pool_metrics> all;
        all.reserve(sources_.size());
        for (const source& s : sources_)
            s.read(s.name, all);
        return all;
    }

    /// Writes the exposition of every pool (prometheus::write of collect()).
    void write(std::ostream& out) const
    {
        const std::vector<pool_metrics> all = collect();
        prometheus::write(out, all);
    }

    /// The exposition as a string: the body of a /metrics response.
    std::string text() const
    {
        std::ostringstream out;
        write(out);
        return std::move(out).str();
    }

private:
    void check_free(const std::string& name) const
    {
        if (std::any_of(sources_.begin(), sources_.end(),
                        [&](const source& s) { return s.name == name; }))
            throw std::invalid_argument("connpool::prometheus::collector: a pool named '" + name +
                                        "' was added already");
    }

    struct source {
        std::string name;
        // Appends the pool's metrics: one entry, or one per key of a keyed pool.
        std::function<void(const std::string&, std::vector<pool_metrics>&)> read;
    };
    std::vector<source> sources_;
};

}  // namespace connpool::prometheus

#endif
