// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_LIFETIME_HPP
#define CONNPOOL_DETAIL_CORE_LIFETIME_HPP

// Decision: when a connection retires (max_lifetime with jitter, retirements spread out).

#include <connpool/pool_options.hpp>

#include <chrono>

namespace connpool::detail {

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

}  // namespace connpool::detail

#endif
