// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_KEYED_POOL_HPP
#define CONNPOOL_KEYED_POOL_HPP

/// \file keyed_pool.hpp
/// keyed_pool: one pool per key (a database and user, an exchange account), all under one cap.

#include <connpool/call_site.hpp>
#include <connpool/connection_limit.hpp>
#include <connpool/detail/core/options.hpp>
#include <connpool/detail/keyed/keyed_pool_impl.hpp>
#include <connpool/error.hpp>
#include <connpool/factory.hpp>
#include <connpool/histogram.hpp>
#include <connpool/observer.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace connpool {

/// Configuration of a keyed_pool. An aggregate, e.g.
/// `keyed_pool_options{.per_key = {.max_size = 4}, .max_total = 20}`.
struct keyed_pool_options {
    /// Each key's pool: its own min_size, max_size, timeouts and health checks, as a pool's.
    /// `per_key.limit` is ignored: the keys' shared cap is `max_total` under `limit`.
    /// A key with no connection, no waiter and no use for `per_key.idle_timeout` is forgotten
    /// (with idle_timeout 0, never).
    pool_options per_key{};

    /// Live connections over all keys (connecting or open, until their destructor returns).
    std::size_t max_total = SIZE_MAX;

    /// Optional: a cap the keys share with other pools, e.g. a database's max_connections. Every
    /// connection of every key counts against it (and its parents) too.
    std::shared_ptr<connection_limit> limit{};
};

/// The required member of a keyed pool's factory: `f.async_connect(key, token)`, an Asio async
/// operation completing with `void(error_code, Connection)`, called with a `const Key&`.
template <class Factory, class Key, class Connection>
concept keyed_factory_has_async_connect = requires(Factory& f, const Key& key) {
    f.async_connect(key, detail::connect_handler_archetype<Connection>{});
};

/// A backend a keyed_pool can open connections of, per key. Its optional members are those of a
/// pool's factory (factory.hpp: async_ping, async_reset, is_healthy, is_permanent_error); they
/// act on a Connection, whichever key it belongs to.
template <class Factory, class Key, class Connection>
concept keyed_connection_factory =
    std::move_constructible<Connection> && std::move_constructible<Factory> &&
    std::copy_constructible<Key> && keyed_factory_has_async_connect<Factory, Key, Connection>;

/// One pool per key, all under one cap: each key behaves as a pool with `per_key` options
/// (LIFO idle connections, FIFO waiters, its own min_size and max_size), and `max_total` (under
/// `limit`) caps the connections of all keys together, as a connection_limit does for pools:
/// a connect needs a unit, units go to the keys in the order they asked, the idle connections of
/// one key (above its min_size, least recently used first) are closed to serve another, and a
/// busy key cannot starve another.
///
/// A key's pool is created by its first acquire (try_acquire never creates one) and forgotten
/// once it has had no connection, no waiter and no use for `per_key.idle_timeout`, so memory stays
/// bounded by the keys in use. stats(key) of a key not held is all zeros.
///
/// `Key`: copyable, hashed by `Hash`, compared by `KeyEqual` (neither may throw). The factory is
/// moved into the pool and shared by the keys: its members are called on one strand of the pool's
/// executor, one call at a time (is_healthy excepted, which may be called from any thread), as a
/// pool's factory's are.
///
/// Thread safety: every member may be called from any thread at once. Completion handlers run on
/// their associated executor (the pool's executor by default), never inside the initiating call.
template <class Key, class Connection, class Factory, class Clock = std::chrono::steady_clock,
          class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
    requires keyed_connection_factory<Factory, Key, Connection>
class keyed_pool {
    using impl_type = detail::keyed_pool_impl<Key, Connection, Factory, Clock, Hash, KeyEqual>;
    static_assert(detail::check_optional_members<Factory, Connection>::value);

public:
    using key_type = Key;
    using connection_type = Connection;
    using factory_type = Factory;
    using clock_type = Clock;
    using handle_type = pooled<Connection>;
    using executor_type = boost::asio::any_io_executor;
    using acquire_signature = void(error_code, handle_type);
    using close_signature = void(error_code);

    /// Starts the keyed pool (no key yet). Throws std::invalid_argument naming the field if
    /// `opts` is inconsistent (per_key as a pool's options; max_total 0).
    keyed_pool(executor_type ex, Factory factory, keyed_pool_options opts = {})
        : impl_(make_impl(std::move(ex), std::move(factory), std::move(opts), nullptr))
    {
    }

    /// As above, with an observer shared by every key's pool (see pool_observer; its events do
    /// not name the key: stats(key) and histograms(key) do). Null: none.
    keyed_pool(executor_type ex, Factory factory, keyed_pool_options opts,
               std::shared_ptr<pool_observer<Connection>> observer)
        : impl_(make_impl(std::move(ex), std::move(factory), std::move(opts), std::move(observer)))
    {
    }

    keyed_pool(const keyed_pool&) = delete;
    keyed_pool& operator=(const keyed_pool&) = delete;

    /// Move-only; the moved-from keyed pool may only be destroyed or assigned to.
    keyed_pool(keyed_pool&& other) noexcept = default;

    /// Closes this keyed pool (as the destructor does), then takes `other`'s.
    keyed_pool& operator=(keyed_pool&& other) noexcept
    {
        if (this != &other) {
            if (impl_)
                impl_->close();
            impl_ = std::move(other.impl_);
        }
        return *this;
    }

    /// Closes every key's pool (see close()). Leases still out stay valid.
    ~keyed_pool()
    {
        if (impl_)
            impl_->close();
    }

    /// Acquires a connection of `key`, waiting at most `per_key.acquire_timeout`; creates the
    /// key's pool if it has none. Completion signature: void(error_code, handle_type).
    /// Errors, cancellation: as pool::async_acquire (errc::pool_closed once the keyed pool is
    /// closed, never because the key was forgotten meanwhile). Thread safety: any thread.
    /// `where` (every acquire has it): the call site, as pool::async_acquire.
    template <class CompletionToken>
    auto async_acquire(const Key& key, CompletionToken&& token,
                       call_site where = call_site::current())
    {
        return async_acquire(key, impl_->per_key_options().acquire_timeout,
                             std::forward<CompletionToken>(token), where);
    }

    /// As above, with its own deadline.
    template <class CompletionToken>
    auto async_acquire(const Key& key, std::chrono::milliseconds timeout, CompletionToken&& token,
                       call_site where = call_site::current())
    {
        return boost::asio::async_initiate<CompletionToken, acquire_signature>(
            initiate_acquire{impl_}, token, key, timeout, where);
    }

    /// An idle connection of `key` now, or nullopt: as pool::try_acquire. Never waits, never
    /// creates the key's pool (nullopt for a key not held). Thread safety: any thread.
    std::optional<handle_type> try_acquire(const Key& key,
                                           call_site where = call_site::current()) noexcept
    {
        return impl_->try_acquire(key, where);
    }

    /// Blocks until a connection of `key` is available or `timeout` passes: as pool::acquire
    /// (throws boost::system::system_error; errc::would_deadlock on the pool's own threads).
    handle_type acquire(const Key& key, std::chrono::milliseconds timeout,
                        call_site where = call_site::current())
    {
        error_code ec;
        handle_type h = acquire(key, timeout, ec, where);
        if (ec)
            throw boost::system::system_error(error_code(ec.value(), ec.category()),
                                              "connpool::keyed_pool::acquire");
        return h;
    }

    /// As above, reporting errors through `ec`.
    handle_type acquire(const Key& key, std::chrono::milliseconds timeout, error_code& ec,
                        call_site where = call_site::current())
    {
        return impl_->acquire(key, timeout, ec, where);
    }

    /// `key`'s gauges and counters (see pool_stats); all zeros for a key not held (never used,
    /// or forgotten).
    pool_stats stats(const Key& key) const { return impl_->stats(key); }

    /// Every key held summed (min_size and max_size too), plus the counters of the keys
    /// forgotten, so that counters only grow. last_connect_error: that of one key whose most
    /// recent connect failed (stats(key) tells them apart).
    pool_stats stats() const { return impl_->stats(); }

    /// `key`'s distributions of wait, use and connect times (see pool::histograms()); empty for a
    /// key not held.
    pool_histograms histograms(const Key& key) const { return impl_->histograms(key); }

    /// Every key held summed, plus the keys forgotten (as stats()).
    pool_histograms histograms() const { return impl_->histograms(); }

    /// Calls `f(const Key&, const pool_stats&, const pool_histograms&)` for each key held now,
    /// with its stats and histograms (read under the keyed pool's lock, f called after it is
    /// released: f may call this keyed pool). Keys forgotten are not visited (their counters
    /// stay in stats()). What prometheus::collector::add_keyed exports, one series per key.
    template <class F>
    void for_each_key(F&& f) const
    {
        impl_->for_each_key(std::forward<F>(f));
    }

    /// The number of keys held now (their pools exist).
    std::size_t keys() const { return impl_->keys(); }

    /// pool::clear() of `key`'s pool (nothing for a key not held).
    void clear(const Key& key) { impl_->clear(key); }

    /// pool::clear() of every key's pool.
    void clear() noexcept { impl_->clear(); }

    /// Closes every key's pool (pool::close()): waiters fail with errc::pool_closed, idle
    /// connections are destroyed, lent ones when they come back; later acquires of any key fail
    /// with errc::pool_closed. Keys are no longer created nor forgotten. Idempotent.
    void close() noexcept { impl_->close(); }

    /// Closes and completes once every key's connections are gone (lent ones included, after
    /// they are returned). Completion signature: void(error_code). Not cancellable.
    template <class CompletionToken>
    auto async_close(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, close_signature>(
            [impl = impl_](auto handler) { impl->start_async_close(std::move(handler)); }, token);
    }

    /// The options each key's pool was created with (`limit`: the cap the keys share, or null).
    const pool_options& per_key_options() const noexcept { return impl_->per_key_options(); }

    executor_type get_executor() const noexcept { return impl_->get_executor(); }

    /// The factory the keys share (see pool::factory()).
    const Factory& factory() const noexcept { return impl_->factory(); }

private:
    struct initiate_acquire {
        std::shared_ptr<impl_type> impl;
        template <class Handler>
        void operator()(Handler&& handler, const Key& key, std::chrono::milliseconds timeout,
                        call_site where) const
        {
            impl->start_async_acquire(key, std::forward<Handler>(handler), timeout, where);
        }
    };

    static std::shared_ptr<impl_type> make_impl(executor_type ex, Factory factory,
                                                keyed_pool_options opts,
                                                std::shared_ptr<pool_observer<Connection>> observer)
    {
        if (opts.max_total == 0)
            throw std::invalid_argument("connpool::keyed_pool_options::max_total: must be at "
                                        "least 1");
        try {
            detail::validate(opts.per_key);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string("connpool::keyed_pool_options::per_key: ") +
                                        e.what());
        }
        // One limit over the keys, under the user's; none (no cost) when nothing caps them.
        pool_options per_key = detail::saturated(std::move(opts.per_key));
        per_key.limit =
            opts.max_total == SIZE_MAX
                ? std::move(opts.limit)
                : std::make_shared<connection_limit>(opts.max_total, std::move(opts.limit));
        return impl_type::create(std::move(ex), std::move(factory), per_key, std::move(observer));
    }

    std::shared_ptr<impl_type> impl_;
};

}  // namespace connpool

#endif
