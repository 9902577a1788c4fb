// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_BACKOFF_HPP
#define CONNPOOL_DETAIL_CORE_BACKOFF_HPP

// Decision: when to try connecting again after failures, and which error the failures leave for
// the waiters to report. Time and random draws are arguments.

#include <connpool/pool_options.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace connpool::detail {

// Tracks consecutive connect failures and the retry backoff they impose.
template <class Clock>
class connect_tracker {
public:
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;

    // Delay after the n-th consecutive failure (n >= 1): backoff_initial * 2^(n-1), capped at
    // backoff_max, then shortened by up to half by `draw` in [0, 1) so that many pools that lost
    // their server together do not retry in lockstep.
    static duration delay(const pool_options& o, unsigned failures, double draw) noexcept
    {
        using ms = std::chrono::milliseconds;
        std::int64_t raw = o.backoff_initial.count();
        for (unsigned i = 1; i < failures && raw > 0 && raw < o.backoff_max.count(); ++i)
            raw *= 2;  // stops at the cap: no overflow
        raw = std::min<std::int64_t>(raw, o.backoff_max.count());
        const auto jittered =
            static_cast<std::int64_t>(std::llround(static_cast<double>(raw) * (1.0 - 0.5 * draw)));
        return std::chrono::duration_cast<duration>(ms(jittered));
    }

    void on_success() noexcept
    {
        failures_ = 0;
        last_failed_ = false;
        permanent_ = false;
        last_error_ = {};
    }

    // A permanent failure (the factory says waiting will not help, e.g. bad credentials) backs
    // off at once by the full backoff_max: later attempts still run, so a fixed configuration
    // is noticed, but slowly.
    void on_failure(const pool_options& o, boost::system::error_code ec, time_point now,
                    double draw, bool permanent = false) noexcept
    {
        ++failures_;
        last_failed_ = true;
        permanent_ = permanent;
        last_error_ = ec;
        retry_at_ = now + delay(o, permanent ? max_doublings : failures_, draw);
    }

    // The most recent attempt failed (none has succeeded since the last failure).
    bool last_failed() const noexcept { return last_failed_; }

    // The most recent attempt failed with a permanent error.
    bool failed_permanently() const noexcept { return last_failed_ && permanent_; }

    bool backing_off(time_point now) const noexcept { return failures_ > 0 && now < retry_at_; }
    time_point retry_at() const noexcept { return retry_at_; }
    unsigned failures() const noexcept { return failures_; }

    // The most recent connect error if the most recent attempt failed, else none.
    boost::system::error_code last_failure() const noexcept
    {
        return last_failed_ ? last_error_ : boost::system::error_code{};
    }

private:
    static constexpr unsigned max_doublings = 64;  // enough to reach any backoff_max

    unsigned failures_ = 0;
    bool last_failed_ = false;
    bool permanent_ = false;
    boost::system::error_code last_error_;
    time_point retry_at_{};
};

}  // namespace connpool::detail

#endif
