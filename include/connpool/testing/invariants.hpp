// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTING_INVARIANTS_HPP
#define CONNPOOL_TESTING_INVARIANTS_HPP

/// \file invariants.hpp
/// What must hold of a pool's `stats()` (and of the fake backend behind it) whenever the pool is
/// quiescent, checked in one call, with a message that names each violated invariant and its
/// values. No test framework needed: wrap the result in your framework's assertion,
///
///     auto report = connpool::testing::check_invariants(pool, *backend);
///     REQUIRE(report.ok());               // Catch2; INFO(report.message()) says what broke
///     connpool::testing::require_invariants(pool, *backend);   // or: throws std::logic_error
///
/// **Quiescent** means: no handler of the pool's io_context is ready to run (after
/// `testing::run_due(ioc)` or a `poll()` that ran nothing), and no thread is inside a pool call.
/// While the pool runs on other threads, `stats()`'s gauges are read one after another, and the
/// backend's counts move before the pool hears of the change (a connect completes, then its
/// handler runs): only `size <= max_size` is meant to hold at every instant then.
///
/// Checked on `pool_stats` alone:
/// - `size == idle + in_use + pending + maintenance` (every connection is in exactly one state);
/// - `size <= max_size`;
/// - `waiters == 0 || idle == 0` (no waiter sleeps while a connection sits idle);
/// - `destroyed_* (all causes) <= created` (nothing is destroyed twice).
///
/// With the fake backend as well:
/// - `live == idle + in_use + maintenance`: every connection that exists is counted by the pool
///   (a connect in flight, `pending`, has made none yet), so none leaked and none is counted
///   twice. This needs every lease of the pool to be a lease of this pool (not a moved-out
///   `fake_connection`), and the backend to serve this pool only;
/// - `created == connects_succeeded`, and `created - destroyed == live`.

#include <connpool/stats.hpp>
#include <connpool/testing/fake_factory.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace connpool::testing {

/// One violated invariant: its name (e.g. `"size <= max_size"`) and the values that broke it.
struct invariant_violation {
    std::string invariant;
    std::string values;
};

/// The result of a check: empty when every invariant holds.
class invariant_report {
public:
    /// True when no invariant is violated.
    bool ok() const noexcept { return violations_.empty(); }
    explicit operator bool() const noexcept { return ok(); }

    const std::vector<invariant_violation>& violations() const noexcept { return violations_; }

    /// True if the invariant named `invariant` (as in the file comment) is violated.
    bool violates(const std::string& invariant) const
    {
        for (const auto& v : violations_)
            if (v.invariant == invariant)
                return true;
        return false;
    }

    /// "pool invariants hold", or one line per violation: "violated: <invariant> (<values>)".
    std::string message() const
    {
        if (ok())
            return "pool invariants hold";
        std::string m;
        for (const auto& v : violations_) {
            if (!m.empty())
                m += '\n';
            m += "violated: " + v.invariant + " (" + v.values + ")";
        }
        return m;
    }

    /// Records a violation (used by the checks; may be used by a test's own checks too).
    void add(std::string invariant, std::string values)
    {
        violations_.push_back({std::move(invariant), std::move(values)});
    }

private:
    std::vector<invariant_violation> violations_;
};

namespace invariant_detail {

inline std::string field(const char* name, std::uint64_t value)
{
    return std::string(name) + " " + std::to_string(value);
}

inline std::uint64_t destroyed_total(const pool_stats& s) noexcept
{
    return s.destroyed_idle + s.destroyed_lifetime + s.destroyed_broken + s.destroyed_cleared +
           s.destroyed_closed + s.destroyed_surplus + s.destroyed_vetoed;
}

}  // namespace invariant_detail

/// Checks the invariants of `s` alone, for a pool whose max_size is `max_size`. After a `resize`
/// that lowered max_size, size may stay above it until the lent surplus comes back: check once
/// it has.
inline invariant_report check_invariants(const pool_stats& s, std::size_t max_size)
{
    using invariant_detail::field;
    invariant_report r;
    const std::size_t parts = s.idle + s.in_use + s.pending + s.maintenance;
    if (s.size != parts)
        r.add("size == idle + in_use + pending + maintenance",
              field("size", s.size) + ", " + field("idle", s.idle) + ", " +
                  field("in_use", s.in_use) + ", " + field("pending", s.pending) + ", " +
                  field("maintenance", s.maintenance) + ": the sum is " + std::to_string(parts));
    if (s.size > max_size)
        r.add("size <= max_size", field("size", s.size) + ", " + field("max_size", max_size));
    if (s.waiters != 0 && s.idle != 0)
        r.add("waiters == 0 || idle == 0", field("waiters", s.waiters) + ", " +
                                               field("idle", s.idle) +
                                               ": a waiter sleeps while a connection is idle");
    const std::uint64_t destroyed = invariant_detail::destroyed_total(s);
    if (destroyed > s.created)
        r.add("destroyed <= created",
              field("destroyed (all causes)", destroyed) + ", " + field("created", s.created));
    return r;
}

/// Checks the invariants of `s`, and those that tie it to the fake `backend` behind the pool.
inline invariant_report check_invariants(const pool_stats& s, std::size_t max_size,
                                         const fake_backend& backend)
{
    using invariant_detail::field;
    invariant_report r = check_invariants(s, max_size);
    const auto live = static_cast<std::uint64_t>(backend.live());
    const std::uint64_t open = s.idle + s.in_use + s.maintenance;
    if (live != open)
        r.add("live == idle + in_use + maintenance",
              field("live fake connections", live) + ", " + field("idle", s.idle) + ", " +
                  field("in_use", s.in_use) + ", " + field("maintenance", s.maintenance) +
                  (live > open ? ": a connection exists that the pool does not count (leak)"
                               : ": the pool counts connections that no longer exist"));
    const auto succeeded = static_cast<std::uint64_t>(backend.connects_succeeded());
    if (s.created != succeeded)
        r.add("created == connects_succeeded",
              field("created", s.created) + ", " + field("connects_succeeded", succeeded));
    const std::uint64_t destroyed = invariant_detail::destroyed_total(s);
    if (destroyed <= s.created && s.created - destroyed != live)
        r.add("created - destroyed == live", field("created", s.created) + ", " +
                                                 field("destroyed (all causes)", destroyed) + ", " +
                                                 field("live fake connections", live));
    return r;
}

/// Checks `pool.stats()` against the max_size in force (`stats().max_size`: the options', or
/// the last `resize`'s). `Pool` is a `connpool::pool`.
template <class Pool>
invariant_report check_invariants(const Pool& pool)
{
    const pool_stats s = pool.stats();
    return check_invariants(s, s.max_size);
}

/// Checks `pool.stats()` and the fake `backend` behind the pool.
template <class Pool>
invariant_report check_invariants(const Pool& pool, const fake_backend& backend)
{
    const pool_stats s = pool.stats();
    return check_invariants(s, s.max_size, backend);
}

/// Throws `std::logic_error` whose `what()` is `report.message()` when `report` is not ok.
inline void require_invariants(const invariant_report& report)
{
    if (!report.ok())
        throw std::logic_error(report.message());
}

/// `check_invariants(pool)`, throwing `std::logic_error` naming what is violated.
template <class Pool>
void require_invariants(const Pool& pool)
{
    require_invariants(check_invariants(pool));
}

/// `check_invariants(pool, backend)`, throwing `std::logic_error` naming what is violated.
template <class Pool>
void require_invariants(const Pool& pool, const fake_backend& backend)
{
    require_invariants(check_invariants(pool, backend));
}

}  // namespace connpool::testing

#endif
