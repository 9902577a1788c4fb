// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_HOUSEKEEPING_HPP
#define CONNPOOL_DETAIL_CORE_HOUSEKEEPING_HPP

// Decisions of the background work: how often it runs, and which leases are suspected leaks.

#include <connpool/pool_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace connpool::detail {

// How often the housekeeping timer runs: at least once a second, and often enough that a
// connection idle past idle_timeout is closed within 2 * idle_timeout of its last use, that
// keepalive pings and retirements keep their pace, and that leaks are noticed; at most once a ms.
inline std::chrono::milliseconds housekeeping_period(const pool_options& o) noexcept
{
    using ms = std::chrono::milliseconds;
    ms p{1000};
    // An option that is set asks for `share` of it; a share below a millisecond gets one.
    auto consider = [&p](ms option, ms share) {
        if (option.count() > 0)
            p = std::min(p, std::max(share, ms{1}));
    };
    consider(o.idle_timeout, o.idle_timeout);
    consider(o.keepalive_interval, o.keepalive_interval / 2);
    consider(o.max_lifetime, o.max_lifetime / static_cast<ms::rep>(o.max_size));
    consider(o.leak_threshold, o.leak_threshold / 2);
    return p;
}

// A lease that began at `lent_at` is reported as a suspected leak once it is held past
// leak_threshold (0 = off), and once only: `reported_for` is the lent_at last reported.
template <class Clock>
bool leak_to_report(const pool_options& o, typename Clock::time_point now,
                    typename Clock::time_point lent_at,
                    typename Clock::time_point reported_for) noexcept
{
    return o.leak_threshold.count() != 0 && now - lent_at >= o.leak_threshold &&
           lent_at != reported_for;
}

}  // namespace connpool::detail

#endif
