// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_IO_MAINTENANCE_HPP
#define CONNPOOL_DETAIL_IO_MAINTENANCE_HPP

// Maintenance: a connection taken out of circulation for a ping (validation before lending, or
// keepalive) or a reset (on return), run on the strand through bounded_calls. Success offers it
// again, judged as a returned connection is (core/idle_policy.hpp's judge_return); failure
// destroys it.

#include <connpool/detail/core/idle_policy.hpp>
#include <connpool/detail/idle/slot.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/error.hpp>

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <utility>

namespace connpool::detail {

enum class maintenance_kind : std::uint8_t { ping, reset };

template <class Connection, class Factory, class Clock>
class maintenance : public pool_part<maintenance, Connection, Factory, Clock> {
    using base = pool_part<maintenance, Connection, Factory, Clock>;
    using base::pool;
    using typename base::pool_type;
    using slot_type = slot<Connection>;
    using times = slot_times<Clock>;
    using stamps = stamp_clock<Clock>;

public:
    // Takes `s` (owned by the caller, state idle or lent) out of circulation; it comes back
    // through offer(), or is destroyed if the call fails. Any thread.
    void start_maintenance(slot_type& s, maintenance_kind kind) noexcept
    {
        auto& p = pool();
        auto self = p.weak_from_this().lock();
        if (!self)  // orphaned: the pool is closed and nobody will run the strand for it
            return p.discard(s, destroy_cause::closed);
        s.set(slot_state::maintenance);
        {
            std::lock_guard lk(p.mtx_);
            ++p.state_.maintenance;
        }
        boost::asio::post(p.strand_, [self, &s, kind] { self->run_maintenance(s, kind); });
    }

private:
    // On the strand.
    void run_maintenance(slot_type& s, maintenance_kind kind)
    {
        auto& p = pool();
        if (kind == maintenance_kind::ping) {
            if constexpr (pool_type::has_ping)
                run_call(s, kind,
                         [&p, &s](auto h) { p.factory_.async_ping(*s.conn, std::move(h)); });
        } else {
            if constexpr (pool_type::has_reset)
                run_call(s, kind,
                         [&p, &s](auto h) { p.factory_.async_reset(*s.conn, std::move(h)); });
        }
    }

    template <class Start>
    void run_call(slot_type& s, maintenance_kind kind, Start start)
    {
        auto& p = pool();
        auto done = [&p, &s, kind](error_code ec) { p.end_maintenance(s, kind, ec); };
        p.calls_.call(
            p.shared_from_this(),
            std::chrono::duration_cast<typename Clock::duration>(p.opts_.connect_timeout),
            std::move(start), done, [] {}, done);
    }

    // On the strand.
    void end_maintenance(slot_type& s, maintenance_kind kind, error_code ec) noexcept
    {
        auto& p = pool();
        {
            std::lock_guard lk(p.mtx_);
            --p.state_.maintenance;
        }
        if (ec) {  // a call cut short by close() failed for that reason, not a broken connection
            if (p.closed_.load(std::memory_order_acquire))
                return p.discard(s, destroy_cause::closed);
            p.observe([&](auto& o) {
                o.on_check_failed(
                    kind == maintenance_kind::ping ? check_kind::ping : check_kind::reset, ec);
            });
            return p.discard(s, destroy_cause::broken);
        }
        const return_verdict v =
            judge_return(false, [&] { return p.why_not_kept(s, Clock::now()); }, false);
        if (v.action == return_action::discard)
            return p.discard(s, v.cause);
        if (p.surplus_on_arrival())  // a max was lowered while it was pinged or reset
            return p.discard(s, destroy_cause::surplus);
        // Known good now; last_used stays, so a pinged surplus connection still ages out.
        // A successful reset is a round trip to the server too: it counts as a validation.
        s.last_checked.store(times::ticks(stamps::now()), std::memory_order_relaxed);
        p.offer(s, offer_check::validated);
        p.replan();
    }
};

}  // namespace connpool::detail

#endif
