// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_KEYED_KEYED_POOL_IMPL_HPP
#define CONNPOOL_DETAIL_KEYED_KEYED_POOL_IMPL_HPP

// The keyed pool's engine: a map from each key to a pool_impl whose factory binds the key
// (bound_factory.hpp). Every key's pool joins one connection_limit (max_total under the user's
// limit), so the limit's rules act across keys: a connect needs a unit, units go to the keys in
// the order they asked, a key's idle surplus is closed to serve another key (make_room), and a
// connection coming back to a hot key is closed while a cold key has waited longer (the return
// rule). The keys share one strand, so the one factory is called one call at a time.
//
// The map. Lookups of an existing key are the hot path; the map changes only when a key is
// created (an acquire of a key not held) or forgotten (the sweep). Readers hold the map's shared
// lock from the lookup until the key's pool has the acquire in hand; a change takes the lock
// exclusively. The lock is a read_mostly_lock, whose readers write no line another core reads:
// try_acquire of a key keeps the pool's scaling across cores (read_mostly_lock.hpp says why and
// how; bench/keyed.cpp measures it).
//
// Forgetting a key races with an acquirer that has just found it: the acquirer must never be
// handed errc::pool_closed by a pool forgotten (and closed) under it. So:
//  * try_acquire and async_acquire hold the shared lock until the pool has taken the acquire
//    (lent a connection, queued a waiter, or failed it for a reason of its own); a blocking
//    acquire, which may not hold a lock while it sleeps, pins the key (key_entry::pinned) under
//    the shared lock instead, and unpins it once its acquire has returned; so do the other
//    two with an observer, whose members may call the keyed pool (see observed_pin);
//  * the sweep decides removal under the exclusive lock, from the pool's own counts (no
//    connection, no waiter: pool_impl::holds_nothing), the pins and the last use
//    (core/key_retention.hpp). Under the exclusive lock no acquirer is between its lookup and
//    its pool; one that came before left a trace the sweep sees (a connection, a waiter, a pin,
//    a recent last use), and one that comes after finds the key gone and creates it anew.

#include <connpool/call_site.hpp>
#include <connpool/connection_limit.hpp>
#include <connpool/detail/core/key_retention.hpp>
#include <connpool/detail/idle/stamp_clock.hpp>
#include <connpool/detail/io/executors.hpp>
#include <connpool/detail/keyed/bound_factory.hpp>
#include <connpool/detail/keyed/keyed_stats.hpp>
#include <connpool/detail/keyed/read_mostly_lock.hpp>
#include <connpool/detail/pool_fwd.hpp>
#include <connpool/detail/pool_impl.hpp>
#include <connpool/error.hpp>
#include <connpool/histogram.hpp>
#include <connpool/observer.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/stats.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace connpool::detail {

template <class Key, class Connection, class Factory, class Clock, class Hash, class KeyEqual>
class keyed_pool_impl : public std::enable_shared_from_this<
                            keyed_pool_impl<Key, Connection, Factory, Clock, Hash, KeyEqual>> {
public:
    using key_factory = bound_factory<Key, Connection, Factory>;
    using key_pool = pool_impl<Connection, key_factory, Clock>;
    using handle_type = pooled<Connection>;
    using time_point = typename Clock::time_point;
    using stamps = stamp_clock<Clock>;
    using times = slot_times<Clock>;

    // `per_key`: validated and saturated, its limit already the one every key joins.
    keyed_pool_impl(pool_executor ex, Factory factory, const pool_options& per_key,
                    std::shared_ptr<pool_observer<Connection>> observer)
        : ex_(std::move(ex)),
          observer_(std::move(observer)),
          strand_(boost::asio::make_strand(ex_)),
          factory_(std::make_shared<Factory>(std::move(factory))),
          per_key_(per_key),
          use_stamp_step_(times::ticks(time_point(
              std::chrono::duration_cast<typename Clock::duration>(per_key.idle_timeout / 16)))),
          sweep_timer_(strand_)
    {
    }

    static std::shared_ptr<keyed_pool_impl>
    create(pool_executor ex, Factory factory, const pool_options& per_key,
           std::shared_ptr<pool_observer<Connection>> observer)
    {
        auto p = std::make_shared<keyed_pool_impl>(std::move(ex), std::move(factory), per_key,
                                                   std::move(observer));
        if (keys_are_forgotten(per_key))
            boost::asio::post(p->strand_, [self = p] { self->arm_sweep(); });
        return p;
    }

    pool_executor get_executor() const noexcept { return ex_; }
    const Factory& factory() const noexcept { return *factory_; }
    const pool_options& per_key_options() const noexcept { return per_key_; }

    // ------------------------------------------------------------------------------ acquiring

    // The hot path: one shared lock, one lookup, the key's own fast path. Never creates a key.
    // With an observer, the key is pinned and the lock released first (see observed_pin).
    std::optional<handle_type> try_acquire(const Key& key, call_site where) noexcept
    {
        std::optional<pinned_key> pinned;
        {
            std::shared_lock lk(map_lock_);
            const auto it = map_.find(key);
            if (it == map_.end())
                return std::nullopt;
            if (!observer_) [[likely]]
                return it->second.pool->try_acquire(where);
            pinned.emplace(it->second);
        }
        return pinned->entry.pool->try_acquire(where);
    }

    template <class Handler>
    void start_async_acquire(const Key& key, Handler&& handler, std::chrono::milliseconds timeout,
                             call_site where)
    {
        for (;;) {
            std::optional<pinned_key> pinned;
            {
                std::shared_lock lk(map_lock_);
                if (closed_)
                    break;
                if (const auto it = map_.find(key); it != map_.end()) {
                    // Under the shared lock until the pool has the acquire (see the file comment).
                    mark_used(it->second, stamps::now());
                    if (!observer_) [[likely]]
                        return it->second.pool->start_async_acquire(std::forward<Handler>(handler),
                                                                    timeout, where);
                    pinned.emplace(it->second);  // see observed_pin
                }
            }
            if (pinned)
                return pinned->entry.pool->start_async_acquire(std::forward<Handler>(handler),
                                                               timeout, where);
            if (!add_key(key))
                break;
        }
        auto ex = boost::asio::get_associated_executor(handler, ex_);
        if (observer_) [[unlikely]] {  // reported just before the handler runs, on its executor
            auto alloc = boost::asio::get_associated_allocator(handler);
            return post_unwrapped(
                ex, boost::asio::bind_allocator(
                        alloc, [self = this->shared_from_this(),
                                h = std::decay_t<Handler>(std::forward<Handler>(handler)),
                                where]() mutable {
                            std::exchange(self, nullptr)->observe_closed(where);
                            std::move(h)(error_code(errc::pool_closed), handle_type{});
                        }));
        }
        post_unwrapped(ex, boost::asio::append(std::forward<Handler>(handler),
                                               error_code(errc::pool_closed), handle_type{}));
    }

    handle_type acquire(const Key& key, std::chrono::milliseconds timeout, error_code& ec,
                        call_site where)
    {
        for (;;) {
            std::optional<pinned_key> pinned;
            {
                std::shared_lock lk(map_lock_);
                if (closed_)
                    break;
                if (const auto it = map_.find(key); it != map_.end()) {
                    // With an observer, not under the lock: the pool's acquire tries it first.
                    if (!observer_) [[likely]]
                        if (auto h = it->second.pool->try_acquire(where)) {
                            ec = {};
                            return std::move(*h);
                        }
                    mark_used(it->second, stamps::now());
                    pinned.emplace(it->second);
                }
            }
            // The pin keeps the key (and so its pool) while this thread may sleep in it.
            if (pinned)
                return pinned->entry.pool->acquire(timeout, ec, where);
            if (!add_key(key))
                break;
        }
        ec = errc::pool_closed;
        observe_closed(where);
        return {};
    }

    // ------------------------------------------------------------------------------ the keys

    pool_stats stats(const Key& key) const
    {
        std::shared_lock lk(map_lock_);
        const auto it = map_.find(key);
        return it == map_.end() ? pool_stats{} : it->second.pool->stats();
    }

    pool_stats stats() const
    {
        std::shared_lock lk(map_lock_);
        pool_stats total = forgotten_;
        for (const auto& [key, entry] : map_)
            add_stats(total, entry.pool->stats());
        return total;
    }

    pool_histograms histograms(const Key& key) const
    {
        std::shared_lock lk(map_lock_);
        const auto it = map_.find(key);
        if (it != map_.end())
            return it->second.pool->histograms();
        pool_histograms none;
        none.use_time_measured = per_key_.measure_use_time;
        return none;
    }

    pool_histograms histograms() const
    {
        std::shared_lock lk(map_lock_);
        pool_histograms total = forgotten_histograms_;
        total.use_time_measured = per_key_.measure_use_time;
        for (const auto& [key, entry] : map_)
            total += entry.pool->histograms();
        return total;
    }

    // Calls f(key, stats, histograms) for each key held now: the snapshots are taken under the
    // shared lock, f is called after it is released (f may call this keyed pool).
    template <class F>
    void for_each_key(F&& f) const
    {
        std::vector<std::tuple<Key, pool_stats, pool_histograms>> reports;
        {
            std::shared_lock lk(map_lock_);
            reports.reserve(map_.size());
            for (const auto& [key, entry] : map_)
                reports.emplace_back(key, entry.pool->stats(), entry.pool->histograms());
        }
        for (const auto& [key, st, h] : reports)
            f(key, st, h);
    }

    std::size_t keys() const
    {
        std::shared_lock lk(map_lock_);
        return map_.size();
    }

    // The pools are cleared (and closed, below) after the lock is released: their observer is
    // told of each destruction, and may call this keyed pool. A pool forgotten meanwhile held
    // no connection; clearing or closing it does nothing.
    void clear(const Key& key)
    {
        std::shared_ptr<key_pool> pool;
        {
            std::shared_lock lk(map_lock_);
            if (const auto it = map_.find(key); it != map_.end())
                pool = it->second.pool;
        }
        if (pool)
            pool->clear();
    }

    void clear() noexcept
    {
        for (const auto& pool : pools_now())
            pool->clear();
    }

    // ------------------------------------------------------------------------------ lifecycle

    // Once closed_ is set (under the exclusive lock) the map never changes again: keys are
    // neither added nor forgotten, so the pools taken after that are every pool there will be.
    void close() noexcept
    {
        {
            std::unique_lock lk(map_lock_);
            closed_ = true;
        }
        for (const auto& pool : pools_now())
            pool->close();
        boost::asio::post(strand_,
                          [self = this->shared_from_this()] { self->sweep_timer_.cancel(); });
    }

    // Completes `handler` once every key's pool has closed and lost its last connection.
    template <class Handler>
    void start_async_close(Handler&& handler)
    {
        close();
        using handler_executor =
            boost::asio::associated_executor_t<std::decay_t<Handler>, pool_executor>;
        boost::asio::any_completion_executor work;
        if constexpr (boost::asio::execution::is_executor<handler_executor>::value)
            work = track_work(boost::asio::get_associated_executor(handler, ex_));
        auto join =
            std::make_shared<close_join>(std::forward<Handler>(handler), std::move(work), ex_);
        const auto pools = pools_now();
        join->remaining.store(pools.size() + 1, std::memory_order_relaxed);
        for (const auto& pool : pools)
            pool->start_async_close([join](error_code) { join->one_done(); });
        join->one_done();  // the +1: every pool has been asked
    }

private:
    // Every key's pool now, to be called once the lock is released.
    std::vector<std::shared_ptr<key_pool>> pools_now() const
    {
        std::vector<std::shared_ptr<key_pool>> pools;
        std::shared_lock lk(map_lock_);
        pools.reserve(map_.size());
        for (const auto& [key, entry] : map_)
            pools.push_back(entry.pool);
        return pools;
    }

    // observed_pin. With an observer, an acquire calls into its key's pool with the key pinned
    // (pinned_key) instead of the map's shared lock held: the pool may call the observer (a hook
    // before the lease, the acquire event, a destruction), whose members may call this keyed
    // pool, e.g. create a key, which takes the lock exclusively and would wait for this thread
    // (observer.hpp: no member is called with a lock of the pool held). A pinned key is not
    // forgotten, as the lock ensured. Only with an observer: the pin is a read-modify-write of
    // the key's line, which the lock's readers do not write.

    // An acquire refused because the keyed pool is closed reaches no key's pool, which would
    // have reported it: reported here, as a closed pool reports one (no wait, no lock held).
    void observe_closed(call_site where) const noexcept
    {
        if (observer_) [[unlikely]] {
            try {
                observer_->on_acquire({error_code(errc::pool_closed), {}, where});
            } catch (...) {  // an observer's failure is not the pool's: ignored
            }
        }
    }

    struct key_entry {
        key_entry(std::shared_ptr<key_pool> p, time_point now)
            : pool(std::move(p)), last_use(times::ticks(now))
        {
        }

        std::shared_ptr<key_pool> pool;
        // The sweep's memory of the key (see forget_key); the sweep's strand only.
        std::optional<time_point> quiet_since;
        // Written by the slow paths only, on a line of their own: the hot path reads `pool`.
        // Blocking acquires in this key's pool now (see the file comment). Incremented under
        // the shared lock, read by the sweep under the exclusive one: the lock orders the two,
        // so relaxed suffices for the increment; the decrement is a release (see pinned_key).
        alignas(64) std::atomic<std::uint32_t> pinned{0};
        // Stamp of the last acquire that took the slow path (core/key_retention.hpp). Stored
        // under the shared lock, read by the sweep under the exclusive lock (or under the
        // shared lock by the sweep's first pass, where a stale value only delays a verdict that
        // the second pass takes again): relaxed.
        std::atomic<std::int64_t> last_use;
    };

    struct close_join {
        close_join(boost::asio::any_completion_handler<void(error_code)> h,
                   boost::asio::any_completion_executor w, pool_executor ex)
            : handler(std::move(h)), work(std::move(w)), fallback(std::move(ex))
        {
        }
        void one_done() noexcept
        {
            // acq_rel: the last one to finish completes, after every other pool's completion.
            if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1)
                boost::asio::post(fallback, boost::asio::append(std::move(handler), error_code{}));
        }
        std::atomic<std::size_t> remaining{0};
        boost::asio::any_completion_handler<void(error_code)> handler;
        boost::asio::any_completion_executor work;  // tracked until the join is gone
        pool_executor fallback;
    };

    // Relaxed (see key_entry::last_use), and only when the stamp moves by more than a sixteenth
    // of idle_timeout: the slow paths of a hot key do not write the line on every acquire.
    void mark_used(key_entry& e, time_point now) noexcept
    {
        const std::int64_t t = times::ticks(now);
        if (t - e.last_use.load(std::memory_order_relaxed) > use_stamp_step_)
            e.last_use.store(t, std::memory_order_relaxed);
    }

    // A blocking acquire's hold on its key (see the file comment): made under the shared lock,
    // undone once the acquire has returned.
    struct pinned_key {
        explicit pinned_key(key_entry& e) noexcept : entry(e)
        {
            // Relaxed: ordered by the lock (see key_entry::pinned).
            entry.pinned.fetch_add(1, std::memory_order_relaxed);
        }
        pinned_key(const pinned_key&) = delete;
        pinned_key& operator=(const pinned_key&) = delete;
        // Release: a sweep that loads 0 (acquire) sees what the acquire did in the pool before
        // (its waiter was queued and has left, or it holds a lease).
        ~pinned_key() { entry.pinned.fetch_sub(1, std::memory_order_release); }

        key_entry& entry;
    };

    // Creates the key's pool unless it exists. False if the keyed pool is closed.
    bool add_key(const Key& key)
    {
        std::unique_lock lk(map_lock_);
        if (closed_)
            return false;
        if (map_.find(key) == map_.end()) {
            auto pool =
                key_pool::create(ex_, strand_, key_factory(factory_, key), per_key_, observer_);
            map_.try_emplace(key, std::move(pool), stamps::now());
        }
        return true;
    }

    // ------------------------------------------------------------------------------ the sweep
    // On the strand, every key_sweep_period.

    void arm_sweep()
    {
        if (closed_seen())
            return;
        sweep_timer_.expires_after(
            std::chrono::duration_cast<typename Clock::duration>(key_sweep_period(per_key_)));
        sweep_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
            if (ec || self->closed_seen())
                return;
            self->sweep();
            self->arm_sweep();
        });
    }

    bool closed_seen() const
    {
        std::shared_lock lk(map_lock_);
        return closed_;
    }

    key_activity<time_point> activity_of(const key_entry& e) const noexcept
    {
        // Acquire: pairs with pinned_key's release.
        const bool busy = e.pinned.load(std::memory_order_acquire) != 0 || !e.pool->holds_nothing();
        return {busy, times::at(e.last_use.load(std::memory_order_relaxed))};
    }

    // Two passes: the verdicts under the shared lock (acquirers go on meanwhile), then, under the
    // exclusive lock, each candidate judged again and removed. The pools are released after
    // unlocking (their last owner closes them).
    void sweep()
    {
        const time_point now = stamps::now();
        std::vector<const Key*> candidates;  // the map's nodes stay put until erased
        {
            std::shared_lock lk(map_lock_);
            for (auto& [key, entry] : map_)
                if (forget_key(activity_of(entry), entry.quiet_since, now, per_key_))
                    candidates.push_back(&key);
        }
        if (candidates.empty())
            return;
        std::vector<std::shared_ptr<key_pool>> forgotten;
        forgotten.reserve(candidates.size());
        {
            std::unique_lock lk(map_lock_);
            if (closed_)
                return;
            for (const Key* key : candidates) {
                const auto it = map_.find(*key);
                key_entry& entry = it->second;
                if (!forget_key(activity_of(entry), entry.quiet_since, now, per_key_))
                    continue;
                add_counters(forgotten_, entry.pool->stats());
                forgotten_histograms_ += entry.pool->histograms();
                forgotten.push_back(std::move(entry.pool));
                map_.erase(it);
            }
        }
        // Outside the lock: each pool is closed (it has no connection to destroy; its timers
        // stop, and hold it no longer), then released: it leaves the limit and is freed once its
        // internal operations let go of it. Its timers' handlers own it: without close() it would
        // live on, housekeeping forever.
        for (const auto& pool : forgotten)
            pool->close();
    }

    const pool_executor ex_;
    const std::shared_ptr<pool_observer<Connection>> observer_;  // every key's, or null
    const pool_strand strand_;  // every key's factory calls and timers, and the sweep
    const std::shared_ptr<Factory> factory_;
    const pool_options per_key_;
    const std::int64_t use_stamp_step_;  // see mark_used
    pool_timer<Clock> sweep_timer_;      // strand only

    mutable read_mostly_lock map_lock_;  // see read_mostly_lock.hpp for why not shared_mutex
    std::unordered_map<Key, key_entry, Hash, KeyEqual> map_;  // guarded by map_lock_
    pool_stats forgotten_;  // the counters of the keys forgotten; guarded by map_lock_
    pool_histograms forgotten_histograms_;  // theirs too; guarded by map_lock_
    bool closed_ = false;  // guarded by map_lock_; once true, map_ never changes again
};

}  // namespace connpool::detail

#endif
