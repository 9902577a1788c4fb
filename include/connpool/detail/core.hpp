// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_HPP
#define CONNPOOL_DETAIL_CORE_HPP

// The pool's decisions, free of I/O: how many connects to start, when to retry after a failure,
// what to do with an idle connection, when a connection retires. Every function takes the time
// and the random draws it needs as arguments, so unit tests drive it step by step with plain
// calls (tests/unit/core_*.cpp). The Asio layer (pool_impl) only carries the decisions out.

#include <connpool/pool_options.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace connpool::detail {

// ---------------------------------------------------------------------------------------- sizing

// What the sizing decision looks at; all counts are taken under the pool's mutex.
struct sizing_state {
    std::size_t size = 0;        // slots in use: connecting + idle + lent + maintenance
    std::size_t connecting = 0;  // connects in flight
    std::size_t in_transit =
        0;                    // being reset or validated: will become available without a connect
    std::size_t waiters = 0;  // acquirers waiting
    bool closed = false;
    bool backing_off = false;  // a failed connect's backoff has not elapsed
};

// How many connects to start now. Connects serve two kinds of demand: waiters that no connection
// on its way (connecting or in transit) will serve, and the deficit below min_size. Never more
// than max_size in all, nor more than max_concurrent_connects at once, nor during a backoff.
inline std::size_t connects_to_start(const pool_options& o, const sizing_state& s) noexcept
{
    if (s.closed || s.backing_off || s.size >= o.max_size ||
        s.connecting >= o.max_concurrent_connects)
        return 0;
    const std::size_t on_the_way = s.connecting + s.in_transit;
    const std::size_t for_waiters = s.waiters > on_the_way ? s.waiters - on_the_way : 0;
    const std::size_t for_min = o.min_size > s.size ? o.min_size - s.size : 0;
    const std::size_t wanted = std::max(for_waiters, for_min);
    return std::min({wanted, o.max_size - s.size, o.max_concurrent_connects - s.connecting});
}

// --------------------------------------------------------------------------------------- backoff

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

    // The most recent attempt failed with a permanent error.
    bool failed_permanently() const noexcept { return last_failed_ && permanent_; }

    bool backing_off(time_point now) const noexcept { return failures_ > 0 && now < retry_at_; }
    time_point retry_at() const noexcept { return retry_at_; }
    unsigned failures() const noexcept { return failures_; }

    // The error an acquire that reaches its deadline reports: the most recent connect error if
    // the most recent attempt failed, else none (the caller reports errc::acquire_timeout).
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

// -------------------------------------------------------------------------------------- lifetime

// The expiry of a connection opened at `created`: max_lifetime shortened by up to
// lifetime_jitter (draw in [0, 1)). max_lifetime == 0: never.
template <class Clock>
typename Clock::time_point expiry_of(const pool_options& o, typename Clock::time_point created,
                                     double draw) noexcept
{
    using duration = typename Clock::duration;
    if (o.max_lifetime.count() == 0)
        return Clock::time_point::max();
    const auto life = std::chrono::duration_cast<duration>(o.max_lifetime);
    const auto cut = static_cast<typename duration::rep>(static_cast<double>(life.count()) *
                                                         o.lifetime_jitter * draw);
    return created + life - duration(cut);
}

// Spreads retirements to about one per max_lifetime / max_size, so that connections opened at
// once (pre-warming) are not all replaced at once. A connection past its jittered expiry retires
// when its turn comes; one past the full max_lifetime retires regardless (the user's hard bound).
template <class Clock>
class retire_limiter {
public:
    using time_point = typename Clock::time_point;
    using duration = typename Clock::duration;

    explicit retire_limiter(const pool_options& o) noexcept
        : life_(std::chrono::duration_cast<duration>(o.max_lifetime)),
          spacing_(o.max_lifetime.count() == 0
                       ? duration::zero()
                       : std::chrono::duration_cast<duration>(o.max_lifetime) /
                             static_cast<typename duration::rep>(o.max_size))
    {
    }

    // Decides for a connection due at `expiry` and created at `created`; claims the turn when it
    // says yes.
    bool may_retire(time_point now, time_point created, time_point expiry) noexcept
    {
        if (!would_retire(now, created, expiry))
            return false;
        next_ = now + spacing_;
        return true;
    }

    // The same decision, without claiming the turn.
    bool would_retire(time_point now, time_point created, time_point expiry) const noexcept
    {
        return now >= expiry && (now - created >= life_ || now >= next_);
    }

private:
    duration life_;
    duration spacing_;
    time_point next_{};
};

// ------------------------------------------------------------------------------ idle connections

enum class idle_verdict : std::uint8_t {
    keep,      // stays idle
    validate,  // ping before lending (acquire path) / keepalive ping (background)
    reap,      // idle too long above min_size
    retire,    // past its lifetime
};

// Before lending: a connection idle longer than validation_interval is pinged first.
template <class Clock>
bool needs_validation(const pool_options& o, typename Clock::time_point now,
                      typename Clock::time_point last_used) noexcept
{
    // 0 = always, whatever the clocks say (stamps may come from a coarse clock).
    return o.validation_interval.count() == 0 || now - last_used >= o.validation_interval;
}

// Background keepalive: ping a connection idle for keepalive_interval (0 = off).
template <class Clock>
bool needs_keepalive(const pool_options& o, typename Clock::time_point now,
                     typename Clock::time_point last_used) noexcept
{
    return o.keepalive_interval.count() != 0 && now - last_used >= o.keepalive_interval;
}

// Reaper: idle past idle_timeout (0 = never). The caller keeps min_size.
template <class Clock>
bool idle_expired(const pool_options& o, typename Clock::time_point now,
                  typename Clock::time_point last_used) noexcept
{
    return o.idle_timeout.count() != 0 && now - last_used >= o.idle_timeout;
}

// How often the housekeeping timer runs: at least once a second, and often enough that a
// connection idle past idle_timeout is closed within 2 * idle_timeout of its last use, that
// keepalive pings and retirements keep their pace, and that leaks are noticed; at most once a ms.
inline std::chrono::milliseconds housekeeping_period(const pool_options& o) noexcept
{
    using ms = std::chrono::milliseconds;
    ms p{1000};
    auto consider = [&p](ms d) {
        if (d.count() > 0)
            p = std::min(p, d);
    };
    consider(o.idle_timeout);
    consider(o.keepalive_interval / 2);
    if (o.max_lifetime.count() > 0)
        consider(o.max_lifetime / static_cast<ms::rep>(o.max_size));
    consider(o.leak_threshold / 2);
    return std::max(p, ms{1});
}

// ------------------------------------------------------------------------------------ randomness

// Jitter draws in [0, 1); each pool has its own generator, used under its mutex.
class jitter_source {
public:
    jitter_source() : gen_(std::random_device{}()) {}
    double operator()() noexcept { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }

private:
    std::minstd_rand gen_;
};

}  // namespace connpool::detail

#endif
