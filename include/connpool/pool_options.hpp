// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POOL_OPTIONS_HPP
#define CONNPOOL_POOL_OPTIONS_HPP

/// \file pool_options.hpp
/// The pool's configuration: a plain aggregate, validated by the pool's constructor.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace connpool {

class connection_limit;

/// Configuration of a pool. An aggregate: designated initialisers work,
/// e.g. `pool_options{.min_size = 2, .max_size = 8}`.
///
/// A duration of 0 means "off" where noted; durations above a century are taken as a century
/// (that is, never). The pool's constructor throws std::invalid_argument
/// naming the offending field when the options are inconsistent.
struct pool_options {
    /// Connections kept open at all times: opened when the pool starts, re-created when lost.
    std::size_t min_size = 0;

    /// Hard cap on connections that exist (connecting, idle, lent, being reset or destroyed).
    std::size_t max_size = 16;

    /// Acquirers allowed to wait at once; one more fails at once with errc::pool_exhausted.
    std::size_t max_waiters = SIZE_MAX;

    /// Deadline of an acquire that does not pass its own timeout.
    std::chrono::milliseconds acquire_timeout{30'000};

    /// Deadline of one connect attempt; a slower attempt fails with errc::connect_timeout.
    std::chrono::milliseconds connect_timeout{10'000};

    /// A connection above min_size idle this long is closed (within 2 * idle_timeout + 1 s of
    /// its last use). 0 = never.
    std::chrono::milliseconds idle_timeout{600'000};

    /// A connection older than this is retired (when idle, or when it comes back). 0 = unlimited.
    std::chrono::milliseconds max_lifetime{1'800'000};

    /// Each connection's lifetime is shortened by a random fraction in [0, lifetime_jitter), so
    /// connections opened together do not reconnect together. Must be in [0, 1).
    double lifetime_jitter = 0.10;

    /// A connection idle longer than this is validated (factory's async_ping) before it is lent.
    /// Only used when the factory has async_ping. 0 = validate before every lease.
    std::chrono::milliseconds validation_interval{500};

    /// The idle connections the pool keeps (up to min_size) are pinged in the background this
    /// often, so that servers and firewalls do not drop them; surplus connections are validated
    /// when lent and closed after idle_timeout instead. Only used when the factory has
    /// async_ping. 0 = no background pings.
    std::chrono::milliseconds keepalive_interval{60'000};

    /// Connect attempts in flight at once.
    std::size_t max_concurrent_connects = 2;

    /// Delay before the first retry after a failed connect; doubles with each further failure
    /// (with random jitter of up to -50 %), capped at backoff_max.
    std::chrono::milliseconds backoff_initial{100};

    /// Cap of the retry backoff.
    std::chrono::milliseconds backoff_max{2'000};

    /// A lease held longer than this is counted in pool_stats::leaks_suspected. 0 = off.
    std::chrono::milliseconds leak_threshold{0};

    /// A cap on connections this pool shares with other pools (and, through its parents, with
    /// more): every connection of the pool, from the start of its connect until its destructor
    /// has returned, counts against it. Null = no shared cap. See connection_limit.
    std::shared_ptr<connection_limit> limit{};

    /// Outages: while no connection is open and the most recent connect attempt failed, an
    /// acquire that finds no connection fails at once with that attempt's error instead of
    /// waiting out its deadline, and the acquires already waiting fail too. Acquires wait again
    /// once a connect succeeds. Connects are retried with the backoff in the background either
    /// way. try_acquire() is not affected (it never waits).
    bool fail_fast = false;

    /// Record each lease's use time, from the acquire that hands it out to its return, in
    /// pool::histograms().use_time (db.client.connection.use_time). Off by default: it reads
    /// the clock when a connection is lent and when it comes back, which costs the try_acquire +
    /// release fast path about two clock reads (see docs/benchmarks.md for the figures).
    bool measure_use_time = false;
};

}  // namespace connpool

#endif
