// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_IDLE_POLICY_HPP
#define CONNPOOL_DETAIL_CORE_IDLE_POLICY_HPP

// Decisions on one connection: may it be lent now (or must it be validated first, or destroyed),
// what becomes of it when its lease returns it, and what the idle sweep does with it. One judge
// per question, whoever asks it: the fast path and a handoff to a waiter ask judge_lend, a return
// and the end of a reset ask judge_return, the sweep and the test whether a sweep is due ask
// judge_idle. What costs a call into the factory (is_healthy) or the mutex (a retirement's turn)
// is passed as a callable, asked only when the verdict depends on it.

#include <connpool/observer.hpp>
#include <connpool/pool_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace connpool::detail {

// Why a connection was destroyed: connpool::destroy_cause (observer.hpp, public: the observer
// is told). destroy_cause_count is how many there are (pool_counters has a counter for each).
using connpool::destroy_cause;
inline constexpr std::size_t destroy_cause_count =
    static_cast<std::size_t>(destroy_cause::vetoed) + 1;

// Before lending: a connection idle longer than validation_interval is pinged first.
template <class Clock>
bool needs_validation(const pool_options& o, typename Clock::time_point now,
                      typename Clock::time_point last_checked) noexcept
{
    // 0 = always, whatever the clocks say (stamps may come from a coarse clock).
    return o.validation_interval.count() == 0 || now - last_checked >= o.validation_interval;
}

// Background keepalive: ping a connection idle for keepalive_interval (0 = off).
template <class Clock>
bool needs_keepalive(const pool_options& o, typename Clock::time_point now,
                     typename Clock::time_point last_checked) noexcept
{
    return o.keepalive_interval.count() != 0 && now - last_checked >= o.keepalive_interval;
}

// Reaper: idle past idle_timeout (0 = never). The caller keeps min_size (see surplus_of).
template <class Clock>
bool idle_expired(const pool_options& o, typename Clock::time_point now,
                  typename Clock::time_point last_used) noexcept
{
    return o.idle_timeout.count() != 0 && now - last_used >= o.idle_timeout;
}

// Why a connection may not be lent, if it may not: the pool is closed, clear() was called since
// it was opened, or the factory's is_healthy says no (asked last: a call into the driver).
template <class Healthy>
std::optional<destroy_cause> why_unusable(bool pool_closed, bool current_generation,
                                          Healthy&& healthy)
{
    if (pool_closed)
        return destroy_cause::closed;
    if (!current_generation)
        return destroy_cause::cleared;
    if (!healthy())
        return destroy_cause::broken;
    return std::nullopt;
}

// What is already known of a connection being offered, so that no question is asked twice.
enum class offer_check : std::uint8_t {
    none,       // nothing: judge whether it is usable and whether it is due for validation
    usable,     // why_unusable() has just said it is usable: validate it when due
    validated,  // a connect, ping or reset has just succeeded on it, or judge_lend has passed it
};

enum class lend_action : std::uint8_t { lend, validate, discard };

struct lend_verdict {
    lend_action action;
    destroy_cause cause = destroy_cause::broken;  // with discard
};

// An idle connection about to be lent (popped by an acquirer, or handed straight to a waiter):
// lend it, ping it first (validation due), or destroy it. Every lease is judged so.
template <class Unusable, class Due>
lend_verdict judge_lend(offer_check known, Unusable&& unusable, Due&& due_for_validation)
{
    if (known == offer_check::none) {
        if (std::optional<destroy_cause> cause = unusable())
            return {lend_action::discard, *cause};
    }
    if (known != offer_check::validated && due_for_validation())
        return {lend_action::validate};
    return {lend_action::lend};
}

enum class return_action : std::uint8_t { offer, reset, discard };

struct return_verdict {
    return_action action;
    destroy_cause cause = destroy_cause::broken;  // with discard
};

// A connection coming back from a lease, or from a reset or a ping (then `invalidated` and
// `can_reset` are false): destroy it when it was invalidated, or when `why_not_kept` names a
// cause (past its lifetime and its turn to retire has come, or unusable); else reset it if the
// factory can, or offer it.
template <class WhyNotKept>
return_verdict judge_return(bool invalidated, WhyNotKept&& why_not_kept, bool can_reset)
{
    if (invalidated)
        return {return_action::discard, destroy_cause::broken};
    if (std::optional<destroy_cause> cause = why_not_kept())
        return {return_action::discard, *cause};
    return {can_reset ? return_action::reset : return_action::offer};
}

// How many of the idle connections, oldest first, are the surplus above min_size.
inline std::size_t surplus_of(std::size_t size, std::size_t min_size) noexcept
{
    return size > min_size ? size - min_size : 0;
}

enum class idle_action : std::uint8_t { keep, keepalive, discard };

struct idle_verdict {
    idle_action action;
    destroy_cause cause = destroy_cause::idle;  // with discard
};

// What one idle connection needs, as the sweep judges it (oldest first). `unusable` is the cause
// judge_return would find (lifetime included); the surplus is closed once idle past
// idle_timeout and never keepalive-pinged (a ping puts a connection back on top of the stack,
// where it would be reused and never age out; validation before lending covers it); the
// connections the pool keeps are pinged past keepalive_interval (when the factory can ping).
template <class Clock>
idle_verdict judge_idle(const pool_options& o, typename Clock::time_point now,
                        std::optional<destroy_cause> unusable, bool surplus, bool can_ping,
                        typename Clock::time_point last_used,
                        typename Clock::time_point last_checked) noexcept
{
    if (unusable)
        return {idle_action::discard, *unusable};
    if (surplus && idle_expired<Clock>(o, now, last_used))
        return {idle_action::discard, destroy_cause::idle};
    if (!surplus && can_ping && needs_keepalive<Clock>(o, now, last_checked))
        return {idle_action::keepalive};
    return {idle_action::keep};
}

}  // namespace connpool::detail

#endif
