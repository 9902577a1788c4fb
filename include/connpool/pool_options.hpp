// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POOL_OPTIONS_HPP
#define CONNPOOL_POOL_OPTIONS_HPP

/// \file pool_options.hpp
/// The pool's configuration: a plain aggregate, validated by the pool's constructor.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace connpool {

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
};

namespace detail {

[[noreturn]] inline void throw_bad_option(const char* field, const char* why)
{
    throw std::invalid_argument(std::string("connpool::pool_options::") + field + ": " + why);
}

/// Throws std::invalid_argument naming the first inconsistent field.
inline void validate(const pool_options& o)
{
    using ms = std::chrono::milliseconds;
    if (o.max_size == 0)
        throw_bad_option("max_size", "must be at least 1");
    if (o.max_size > std::numeric_limits<std::uint32_t>::max() - 1)
        throw_bad_option("max_size", "must be below 2^32 - 1");
    if (o.min_size > o.max_size)
        throw_bad_option("min_size", "must not exceed max_size");
    if (o.max_concurrent_connects == 0)
        throw_bad_option("max_concurrent_connects", "must be at least 1");
    struct named {
        const char* name;
        ms value;
    };
    const named durations[] = {
        {"acquire_timeout", o.acquire_timeout},
        {"connect_timeout", o.connect_timeout},
        {"idle_timeout", o.idle_timeout},
        {"max_lifetime", o.max_lifetime},
        {"validation_interval", o.validation_interval},
        {"keepalive_interval", o.keepalive_interval},
        {"backoff_initial", o.backoff_initial},
        {"backoff_max", o.backoff_max},
        {"leak_threshold", o.leak_threshold},
    };
    for (const auto& d : durations)
        if (d.value < ms::zero())
            throw_bad_option(d.name, "must not be negative");
    if (o.connect_timeout == ms::zero())
        throw_bad_option("connect_timeout", "must be positive");
    if (o.backoff_initial > o.backoff_max)
        throw_bad_option("backoff_initial", "must not exceed backoff_max");
    if (!(o.lifetime_jitter >= 0.0 && o.lifetime_jitter < 1.0))
        throw_bad_option("lifetime_jitter", "must be in [0, 1)");
}

// "Never", in one place: a duration of a century or more. Longer ones would overflow once
// converted to a clock's nanoseconds and added to a time point, so they are clamped to this, and
// an acquire given at least this long waits without a deadline.
inline constexpr std::chrono::milliseconds never = std::chrono::hours(24 * 365 * 100);

// A per-call timeout as the pool uses it: negative is 0 (fail at once), at most `never`.
constexpr std::chrono::milliseconds clamp_timeout(std::chrono::milliseconds t) noexcept
{
    return std::clamp(t, std::chrono::milliseconds::zero(), never);
}

inline pool_options saturated(pool_options o) noexcept
{
    for (auto* d : {&o.acquire_timeout, &o.connect_timeout, &o.idle_timeout, &o.max_lifetime,
                    &o.validation_interval, &o.keepalive_interval, &o.backoff_initial,
                    &o.backoff_max, &o.leak_threshold})
        *d = std::min(*d, never);
    return o;
}

}  // namespace detail
}  // namespace connpool

#endif
