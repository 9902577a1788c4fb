// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_OPTIONS_HPP
#define CONNPOOL_DETAIL_CORE_OPTIONS_HPP

// The pool's options as the pool takes them: validate() throws std::invalid_argument naming the
// first inconsistent field; saturated() clamps every duration to `never`, and clamp_timeout() does
// the same for a per-call timeout. No I/O: plain values in, plain values (or an exception) out.

#include <connpool/pool_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace connpool::detail {

[[noreturn]] inline void throw_bad_option(const char* field, const char* why)
{
    throw std::invalid_argument(std::string("connpool::pool_options::") + field + ": " + why);
}

// The sizes, checked by the constructor and by pool::resize.
inline void validate_sizes(std::size_t min_size, std::size_t max_size)
{
    if (max_size == 0)
        throw_bad_option("max_size", "must be at least 1");
    if (max_size > std::numeric_limits<std::uint32_t>::max() - 1)
        throw_bad_option("max_size", "must be below 2^32 - 1");
    if (min_size > max_size)
        throw_bad_option("min_size", "must not exceed max_size");
}

// Throws std::invalid_argument naming the first inconsistent field (the pool's constructor).
inline void validate(const pool_options& o)
{
    using ms = std::chrono::milliseconds;
    validate_sizes(o.min_size, o.max_size);
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

// The options as the pool keeps them: every duration at most `never`.
inline pool_options saturated(pool_options o) noexcept
{
    for (auto* d : {&o.acquire_timeout, &o.connect_timeout, &o.idle_timeout, &o.max_lifetime,
                    &o.validation_interval, &o.keepalive_interval, &o.backoff_initial,
                    &o.backoff_max, &o.leak_threshold})
        *d = std::min(*d, never);
    return o;
}

}  // namespace connpool::detail

#endif
