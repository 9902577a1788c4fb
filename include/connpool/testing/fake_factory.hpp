// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTING_FAKE_FACTORY_HPP
#define CONNPOOL_TESTING_FAKE_FACTORY_HPP

/// \file fake_factory.hpp
/// A scripted fake backend, to test code that uses a pool without a server.
///
/// - `fake_backend`: the shared state of the "server" (hold it in a `std::shared_ptr`). It counts
///   connects, pings, resets, health checks and live connections, and scripts what each operation
///   does. An `outcome` is: succeed, fail with an error code, or stay pending until the test
///   completes it (`complete_next_connect(ec)`, ...); a success or a failure may come after a
///   delay on the `manual_clock` (`outcome::ok().after(2s)`). The outcome of a call is, in this
///   order: the next one-shot outcome queued with `push_*`, else the script function's answer
///   (`script_*`), else the default (`set_*`, success unless changed). Completions are posted to
///   the handler's associated executor, never invoked inside the initiating call. Pending and
///   delayed operations honour per-operation cancellation (any type) and then complete with
///   `operation_aborted`: a connect always, a ping or reset when it was delayed.
/// - `fake_connection`: a movable connection with an id (1, 2, 3... in connect order); its
///   destructor tells the backend, so `live()` counts the connections that exist: compare it
///   with the pool's `stats()` (see invariants.hpp) to show that nothing leaked.
/// - `fake_factory<Ping, Reset, Health, Permanent>`: the factory the pool sees. The optional
///   members (`async_ping`, `async_reset`, `is_healthy`, `is_permanent_error`) exist only when
///   their parameter is true, as they would on a real factory.
///
/// What the fake does not model: real I/O and its latency (a success completes as soon as the
/// io_context runs, unless delayed), partial failures inside a connection's own operations (your
/// queries are yours to fake), a factory that calls its handler from a thread of its own, and a
/// connect that ignores cancellation. Delays follow the manual clock only.
///
/// Thread safety: every member of `fake_backend` may be called from any thread.

#include <connpool/detail/io/executors.hpp>
#include <connpool/testing/manual_clock.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace connpool::testing {

namespace asio = boost::asio;
using boost::system::error_code;

class fake_backend;

namespace fake_detail {
// Keeps `ex` from running out of work while an operation is pending.
template <class Executor>
using tracked_work =
    std::optional<decltype(connpool::detail::track_work(std::declval<const Executor&>()))>;
}  // namespace fake_detail

/// A connection of the fake backend. Movable, not copyable; a moved-from connection has id 0.
class fake_connection {
public:
    fake_connection() noexcept = default;
    fake_connection(int conn_id, std::shared_ptr<fake_backend> backend) noexcept
        : id(conn_id), backend_(std::move(backend))
    {
    }
    fake_connection(fake_connection&& other) noexcept
        : id(std::exchange(other.id, 0)),
          dirty(std::exchange(other.dirty, false)),
          uses(std::exchange(other.uses, 0)),
          backend_(std::move(other.backend_))
    {
    }
    fake_connection& operator=(fake_connection&& other) noexcept
    {
        if (this != &other) {
            destroy();
            id = std::exchange(other.id, 0);
            dirty = std::exchange(other.dirty, false);
            uses = std::exchange(other.uses, 0);
            backend_ = std::move(other.backend_);
        }
        return *this;
    }
    fake_connection(const fake_connection&) = delete;
    fake_connection& operator=(const fake_connection&) = delete;
    ~fake_connection() { destroy(); }

    int id = 0;          ///< 1, 2, 3... in connect order; 0 when empty.
    bool dirty = false;  ///< Set by tests ("session state"); a successful reset clears it.
    int uses = 0;        ///< Free for tests to count leases.

private:
    inline void destroy() noexcept;
    std::shared_ptr<fake_backend> backend_;
};

/// What one scripted operation does.
struct outcome {
    enum class kind { succeed, fail, pend };
    kind what = kind::succeed;
    error_code ec;
    /// Manual-clock time between the call and its completion (zero: as soon as it runs). Not
    /// used by `pending()`.
    manual_clock::duration delay{0};

    /// Succeeds (a connect gives a new connection).
    static outcome ok() { return {}; }
    /// Fails with `e`.
    static outcome fail(error_code e) { return {kind::fail, e, {}}; }
    /// Stays pending until the test calls `complete_next_*` (a connect also ends when its caller
    /// cancels it; a ping or reset does not, like a server that does not answer).
    static outcome pending() { return {kind::pend, {}, {}}; }

    /// The same outcome, `d` of manual-clock time after the call (`advance(ioc, d)` fires it).
    /// Until then the operation counts as pending and may be cancelled.
    template <class Rep, class Period>
    outcome after(std::chrono::duration<Rep, Period> d) const
    {
        outcome o = *this;
        o.delay = std::chrono::duration_cast<manual_clock::duration>(d);
        return o;
    }
};

/// What a script function is told about the call it decides.
struct call_info {
    long number = 0;        ///< 1 for the first call of this operation, 2 for the second...
    int connection_id = 0;  ///< The connection pinged or reset; 0 for a connect.
};

/// Decides the outcome of one call (`fake_backend::script_connect`, ...).
using outcome_script = std::function<outcome(const call_info&)>;

/// The error tests use for a refused connect.
inline error_code refused()
{
    return asio::error::connection_refused;
}

/// The fake "server": scripts what each factory call does and counts what happened. Create it
/// with `std::make_shared` and pass it to every `fake_factory` (and nothing else) that should
/// reach it; its connections keep it alive.
///
///     auto backend = std::make_shared<fake_backend>();
///     backend->push_connect(outcome::fail(refused()));   // the first connect is refused
///     backend->set_connect(outcome::ok().after(50ms));   // the others take 50 ms (manual clock)
///     pool<fake_connection, connect_only_factory, manual_clock> p(
///         ioc.get_executor(), connect_only_factory(ioc.get_executor(), backend));
///
/// Before the io_context is destroyed with operations still pending, call `drop_pending()`.
/// Thread safety: every member may be called from any thread.
class fake_backend : public std::enable_shared_from_this<fake_backend> {
public:
    /// Ids are tracked for double lending in a fixed table of this many entries.
    static constexpr std::size_t max_ids = std::size_t(1) << 18;

    fake_backend() : lent_(new std::atomic<std::uint8_t>[max_ids]) {}
    fake_backend(const fake_backend&) = delete;
    fake_backend& operator=(const fake_backend&) = delete;

    // ---------------------------------------------------------------------------------- script

    /// The outcome of every connect that has no queued one-shot outcome and no script.
    void set_connect(outcome o) { locked_assign(connect_default_, o); }
    /// One-shot outcomes, used in FIFO order before the script and the default.
    void push_connect(outcome o) { locked_push(connect_queue_, o); }
    void set_ping(outcome o) { locked_assign(ping_default_, o); }
    void push_ping(outcome o) { locked_push(ping_queue_, o); }
    void set_reset(outcome o) { locked_assign(reset_default_, o); }
    void push_reset(outcome o) { locked_push(reset_queue_, o); }
    /// The outcome of each connect without a queued one-shot outcome: `fn(call)`; an empty
    /// function removes the script (the default applies again). `fn` runs on the calling thread,
    /// without the backend's lock held.
    void script_connect(outcome_script fn) { locked_assign(connect_script_, std::move(fn)); }
    void script_ping(outcome_script fn) { locked_assign(ping_script_, std::move(fn)); }
    void script_reset(outcome_script fn) { locked_assign(reset_script_, std::move(fn)); }
    /// is_healthy(c) returns `fn(c)` when set (and c's id is not marked unhealthy).
    void script_health(std::function<bool(const fake_connection&)> fn)
    {
        locked_assign(health_script_, std::move(fn));
    }
    /// is_permanent_error(ec) (fake_factory<..., true>) returns `fn(ec)`; by default false for
    /// every error, i.e. every failure is retried.
    void script_permanent_error(std::function<bool(const error_code&)> fn)
    {
        locked_assign(permanent_script_, std::move(fn));
    }
    /// Every ping of connection `id` fails with `ec` (an empty ec removes the rule).
    void fail_pings_of(int id, error_code ec = asio::error::connection_reset)
    {
        std::lock_guard lk(mtx_);
        if (ec)
            ping_fail_ids_.insert(id);
        else
            ping_fail_ids_.erase(id);
        ping_fail_ec_ = ec ? ec : ping_fail_ec_;
    }
    /// is_healthy(connection `id`) returns !unhealthy.
    void set_unhealthy(int id, bool unhealthy = true)
    {
        std::lock_guard lk(mtx_);
        if (unhealthy)
            unhealthy_ids_.insert(id);
        else
            unhealthy_ids_.erase(id);
    }
    /// Stress mode: each operation without a scripted outcome fails with this probability.
    void set_random_failures(double connect_p, double ping_p, double reset_p, unsigned seed)
    {
        std::lock_guard lk(mtx_);
        connect_fail_p_ = connect_p;
        ping_fail_p_ = ping_p;
        reset_fail_p_ = reset_p;
        rng_.seed(seed);
    }

    // ------------------------------------------------------------------------ pending operations

    std::size_t pending_connects() const
    {
        std::lock_guard lk(mtx_);
        return pending_connects_.size();
    }
    std::size_t pending_pings() const
    {
        std::lock_guard lk(mtx_);
        return pending_pings_.size();
    }
    std::size_t pending_resets() const
    {
        std::lock_guard lk(mtx_);
        return pending_resets_.size();
    }
    /// Completes the oldest pending connect: with a new connection when `ec` is empty, else with
    /// `ec`. The completion is posted to the handler's executor. False if none was pending.
    bool complete_next_connect(error_code ec = {}) { return complete_next(pending_connects_, ec); }
    bool complete_next_ping(error_code ec = {}) { return complete_next(pending_pings_, ec); }
    bool complete_next_reset(error_code ec = {}) { return complete_next(pending_resets_, ec); }

    /// Destroys every stored handler without invoking it (end of a test, before the io_context).
    void drop_pending()
    {
        std::deque<pending_op> a, b, c;
        {
            std::lock_guard lk(mtx_);
            a.swap(pending_connects_);
            b.swap(pending_pings_);
            c.swap(pending_resets_);
        }
        connects_in_flight_.fetch_sub(static_cast<long>(a.size()));
    }

    // ------------------------------------------------------------------------------ observation

    long connects_started() const { return connects_started_.load(); }
    long connects_succeeded() const { return connects_succeeded_.load(); }
    long connects_failed() const { return connects_failed_.load(); }
    long connects_cancelled() const { return connects_cancelled_.load(); }
    /// Started and not yet completed (the completion handler has not run yet).
    long connects_in_flight() const { return connects_in_flight_.load(); }
    long max_connects_in_flight() const { return max_connects_in_flight_.load(); }
    long pings() const { return pings_.load(); }
    long pings_failed() const { return pings_failed_.load(); }
    long resets() const { return resets_.load(); }
    long resets_failed() const { return resets_failed_.load(); }
    long health_checks() const { return health_checks_.load(); }
    long permanent_error_checks() const { return permanent_checks_.load(); }
    /// Connections that exist now (created by a successful connect, not yet destroyed).
    long live() const { return live_.load(); }
    long destroyed() const { return destroyed_.load(); }

    bool is_live(int id) const
    {
        std::lock_guard lk(mtx_);
        return live_ids_.count(id) != 0;
    }
    std::vector<int> destroyed_ids() const
    {
        std::lock_guard lk(mtx_);
        return destroyed_ids_;
    }
    std::vector<int> pinged_ids() const
    {
        std::lock_guard lk(mtx_);
        return pinged_ids_;
    }
    std::vector<int> reset_ids() const
    {
        std::lock_guard lk(mtx_);
        return reset_ids_;
    }

    // ---------------------------------------------------------------------------------- lending
    // Tests mark a connection lent when they receive it and returned just before they release
    // it. Relaxed atomics on purpose: this bookkeeping must not add synchronisation that could
    // hide a data race of the pool from ThreadSanitizer.

    /// False (and counts a violation) if `id` is already lent.
    bool mark_lent(int id) noexcept
    {
        if (id <= 0 || static_cast<std::size_t>(id) >= max_ids) {
            bad_ids_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        if (lent_[static_cast<std::size_t>(id)].exchange(1, std::memory_order_relaxed) != 0) {
            double_lends_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        lent_now_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    void mark_returned(int id) noexcept
    {
        if (id <= 0 || static_cast<std::size_t>(id) >= max_ids)
            return;
        if (lent_[static_cast<std::size_t>(id)].exchange(0, std::memory_order_relaxed) == 0)
            bad_returns_.fetch_add(1, std::memory_order_relaxed);
        else
            lent_now_.fetch_sub(1, std::memory_order_relaxed);
    }
    bool is_lent(int id) const noexcept
    {
        return id > 0 && static_cast<std::size_t>(id) < max_ids &&
               lent_[static_cast<std::size_t>(id)].load(std::memory_order_relaxed) != 0;
    }
    long double_lends() const noexcept { return double_lends_.load(std::memory_order_relaxed); }
    long bad_returns() const noexcept { return bad_returns_.load(std::memory_order_relaxed); }
    long bad_ids() const noexcept { return bad_ids_.load(std::memory_order_relaxed); }
    long lent_now() const noexcept { return lent_now_.load(std::memory_order_relaxed); }

    // ---------------------------------------------------------------- operations (the factory's)

    template <class Token>
    auto async_connect(asio::any_io_executor fallback, Token&& token)
    {
        return asio::async_initiate<Token, void(error_code, fake_connection)>(
            [self = shared_from_this(), fallback](auto handler) {
                self->start_connect(std::move(handler), fallback);
            },
            token);
    }

    template <class Token>
    auto async_ping(fake_connection& c, asio::any_io_executor fallback, Token&& token)
    {
        return asio::async_initiate<Token, void(error_code)>(
            [self = shared_from_this(), fallback, conn = &c](auto handler) {
                self->start_ping(std::move(handler), *conn, fallback);
            },
            token);
    }

    template <class Token>
    auto async_reset(fake_connection& c, asio::any_io_executor fallback, Token&& token)
    {
        return asio::async_initiate<Token, void(error_code)>(
            [self = shared_from_this(), fallback, conn = &c](auto handler) {
                self->start_reset(std::move(handler), *conn, fallback);
            },
            token);
    }

    bool is_healthy(const fake_connection& c) const
    {
        health_checks_.fetch_add(1);
        std::function<bool(const fake_connection&)> fn;
        {
            std::lock_guard lk(mtx_);
            if (unhealthy_ids_.count(c.id) != 0)
                return false;
            fn = health_script_;
        }
        return !fn || fn(c);
    }

    bool is_permanent_error(const error_code& ec) const
    {
        permanent_checks_.fetch_add(1);
        std::function<bool(const error_code&)> fn;
        {
            std::lock_guard lk(mtx_);
            fn = permanent_script_;
        }
        return fn && fn(ec);
    }

private:
    friend class fake_connection;

    template <class T, class V>
    void locked_assign(T& member, V&& value)
    {
        std::lock_guard lk(mtx_);
        member = std::forward<V>(value);
    }
    template <class T>
    T locked_read(const T& member) const
    {
        std::lock_guard lk(mtx_);
        return member;
    }
    void locked_push(std::deque<outcome>& queue, const outcome& o)
    {
        std::lock_guard lk(mtx_);
        queue.push_back(o);
    }

    struct pending_op {
        std::uint64_t op_id = 0;
        // Completes the operation (posts the handler); clear_slot: detach the cancellation
        // handler first (not when called from inside that handler).
        std::function<void(error_code, bool clear_slot)> complete;
        // The timer of a delayed outcome: destroying it (when the op leaves the queue in any
        // way) cancels its wait.
        std::shared_ptr<asio::basic_waitable_timer<manual_clock>> timer;
    };

    outcome next_outcome(std::deque<outcome>& queue, const outcome_script& script,
                         const call_info& call, const outcome& dflt, double fail_p,
                         error_code random_ec)
    {
        outcome_script fn;
        {
            std::lock_guard lk(mtx_);
            if (!queue.empty()) {
                outcome o = queue.front();
                queue.pop_front();
                return o;
            }
            fn = script;
        }
        if (fn)
            return fn(call);
        std::lock_guard lk(mtx_);
        if (fail_p > 0.0 && dflt.what == outcome::kind::succeed) {
            std::uniform_real_distribution<double> d(0.0, 1.0);
            if (d(rng_) < fail_p)
                return outcome::fail(random_ec);
        }
        return dflt;
    }

    void on_connect_done(error_code ec)
    {
        connects_in_flight_.fetch_sub(1);
        if (ec == asio::error::operation_aborted)
            connects_cancelled_.fetch_add(1);
        if (ec)
            connects_failed_.fetch_add(1);
        else
            connects_succeeded_.fetch_add(1);
    }

    fake_connection make_connection()
    {
        const int id = next_id_.fetch_add(1) + 1;
        live_.fetch_add(1);
        {
            std::lock_guard lk(mtx_);
            live_ids_.insert(id);
        }
        return fake_connection(id, shared_from_this());
    }

    void on_destroyed(int id) noexcept
    {
        live_.fetch_sub(1);
        destroyed_.fetch_add(1);
        std::lock_guard lk(mtx_);
        live_ids_.erase(id);
        destroyed_ids_.push_back(id);
    }

    template <class Handler>
    void start_connect(Handler handler, const asio::any_io_executor& fallback)
    {
        auto ex = asio::get_associated_executor(handler, fallback);
        const long call = connects_started_.fetch_add(1) + 1;
        const long now = connects_in_flight_.fetch_add(1) + 1;
        long prev = max_connects_in_flight_.load();
        while (prev < now && !max_connects_in_flight_.compare_exchange_weak(prev, now)) {
        }
        const outcome got =
            next_outcome(connect_queue_, connect_script_, call_info{call, 0}, connect_default(),
                         connect_fail_p(), asio::error::connection_refused);
        const error_code ec = got.what == outcome::kind::fail ? got.ec : error_code{};
        if (got.what == outcome::kind::pend || got.delay.count() > 0) {
            const std::uint64_t op_id = store_pending_connect(std::move(handler), ex);
            if (got.what != outcome::kind::pend)
                complete_after(pending_connects_, op_id, ex, got.delay, ec);
            return;
        }
        post_connect_completion(std::move(handler), ex, ec);
    }

    // `detach`: the cancellation slot to clear before the handler runs (see store_pending_connect).
    template <class Handler, class Executor>
    void post_connect_completion(Handler handler, const Executor& ex, error_code ec,
                                 asio::cancellation_slot detach = {})
    {
        fake_connection conn;
        if (!ec)
            conn = make_connection();
        asio::post(ex, [self = shared_from_this(), h = std::move(handler), ec, c = std::move(conn),
                        detach]() mutable {
            if (detach.is_connected())
                detach.clear();
            self->on_connect_done(ec);
            std::move(h)(ec, std::move(c));
        });
    }

    // A pending connect. The operation's cancellation slot is touched only on the handler's
    // executor (where the initiation runs and where cancellation is emitted), never by a thread
    // that completes the operation (complete_next_connect may be called from any thread): its
    // handler is installed before the operation is published in the queue, and cleared by the
    // posted completion. Both used to be done on the calling thread, racing the executor.
    template <class Handler, class Executor>
    std::uint64_t store_pending_connect(Handler handler, const Executor& ex)
    {
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto hp = std::make_shared<Handler>(std::move(handler));
        auto work =
            std::make_shared<fake_detail::tracked_work<Executor>>(connpool::detail::track_work(ex));
        std::uint64_t op_id = 0;
        {
            std::lock_guard lk(mtx_);
            op_id = ++next_op_id_;
        }
        if (slot.is_connected()) {
            std::weak_ptr<fake_backend> weak = weak_from_this();
            slot.assign([weak, op_id](asio::cancellation_type) {
                if (auto self = weak.lock())
                    self->cancel_pending(self->pending_connects_, op_id);
            });
        }
        std::lock_guard lk(mtx_);
        pending_connects_.push_back(pending_op{
            op_id,
            [self = shared_from_this(), hp, work, ex, slot](error_code ec,
                                                            bool clear_slot) mutable {
                self->post_connect_completion(std::move(*hp), ex, ec,
                                              clear_slot ? slot : asio::cancellation_slot{});
                work->reset();
            },
            {}});
        return op_id;
    }

    // A delayed outcome: completes op `op_id` of `q` with `ec` once the manual clock has moved
    // `delay` on, unless it left the queue before (cancelled, completed or dropped by the test).
    template <class Executor>
    void complete_after(std::deque<pending_op>& q, std::uint64_t op_id, const Executor& ex,
                        manual_clock::duration delay, error_code ec)
    {
        using timer_type = asio::basic_waitable_timer<manual_clock>;
        auto timer = std::make_shared<timer_type>(asio::any_io_executor(ex));
        timer->expires_after(delay);
        {
            std::lock_guard lk(mtx_);
            auto it = find_pending(q, op_id);
            if (it == q.end())
                return;  // cancelled already
            it->timer = timer;
        }
        std::weak_ptr<fake_backend> weak = weak_from_this();
        timer->async_wait([weak, &q, op_id, ec](const error_code& e) {
            if (e)
                return;  // the op left the queue and its timer was destroyed
            if (auto self = weak.lock())
                self->complete_pending(q, op_id, ec, true);
        });
    }

    template <class Handler>
    void start_ping(Handler handler, fake_connection& c, const asio::any_io_executor& fallback)
    {
        auto ex = asio::get_associated_executor(handler, fallback);
        const long call = pings_.fetch_add(1) + 1;
        bool fail_this_id = false;
        error_code id_ec;
        {
            std::lock_guard lk(mtx_);
            pinged_ids_.push_back(c.id);
            if (ping_fail_ids_.count(c.id)) {
                fail_this_id = true;
                id_ec = ping_fail_ec_;
            }
        }
        const outcome got =
            fail_this_id
                ? outcome::fail(id_ec)
                : next_outcome(ping_queue_, ping_script_, call_info{call, c.id}, ping_default(),
                               ping_fail_p(), asio::error::connection_reset);
        const error_code ec = got.what == outcome::kind::fail ? got.ec : error_code{};
        if (got.what == outcome::kind::pend || got.delay.count() > 0) {
            const bool delayed = got.what != outcome::kind::pend;
            const std::uint64_t op_id = store_pending_simple(pending_pings_, std::move(handler), ex,
                                                             nullptr, pings_failed_, delayed);
            if (delayed)
                complete_after(pending_pings_, op_id, ex, got.delay, ec);
            return;
        }
        if (ec)
            pings_failed_.fetch_add(1);
        asio::post(ex, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
    }

    template <class Handler>
    void start_reset(Handler handler, fake_connection& c, const asio::any_io_executor& fallback)
    {
        auto ex = asio::get_associated_executor(handler, fallback);
        const long call = resets_.fetch_add(1) + 1;
        {
            std::lock_guard lk(mtx_);
            reset_ids_.push_back(c.id);
        }
        const outcome got =
            next_outcome(reset_queue_, reset_script_, call_info{call, c.id}, reset_default(),
                         reset_fail_p(), asio::error::connection_reset);
        const error_code ec = got.what == outcome::kind::fail ? got.ec : error_code{};
        if (got.what == outcome::kind::pend || got.delay.count() > 0) {
            const bool delayed = got.what != outcome::kind::pend;
            const std::uint64_t op_id = store_pending_simple(pending_resets_, std::move(handler),
                                                             ex, &c, resets_failed_, delayed);
            if (delayed)
                complete_after(pending_resets_, op_id, ex, got.delay, ec);
            return;
        }
        if (ec)
            resets_failed_.fetch_add(1);
        else
            c.dirty = false;
        asio::post(ex, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
    }

    // A pending ping or reset. Only a delayed one honours cancellation (a pending one stays
    // until the test completes it, as a server that does not answer).
    template <class Handler, class Executor>
    std::uint64_t store_pending_simple(std::deque<pending_op>& q, Handler handler,
                                       const Executor& ex, fake_connection* reset_target,
                                       std::atomic<long>& failures, bool cancellable)
    {
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto hp = std::make_shared<Handler>(std::move(handler));
        auto work =
            std::make_shared<fake_detail::tracked_work<Executor>>(connpool::detail::track_work(ex));
        std::uint64_t op_id = 0;
        {
            std::lock_guard lk(mtx_);
            op_id = ++next_op_id_;
        }
        // The cancellation slot is touched on the handler's executor only: see
        // store_pending_connect.
        if (cancellable && slot.is_connected()) {
            std::weak_ptr<fake_backend> weak = weak_from_this();
            slot.assign([weak, &q, op_id](asio::cancellation_type) {
                if (auto self = weak.lock())
                    self->cancel_pending(q, op_id);
            });
        }
        std::lock_guard lk(mtx_);
        q.push_back(pending_op{op_id,
                               [hp, work, ex, reset_target, &failures, slot,
                                cancellable](error_code ec, bool clear_slot) mutable {
                                   if (ec)
                                       failures.fetch_add(1);
                                   else if (reset_target)
                                       reset_target->dirty = false;
                                   asio::cancellation_slot detach =
                                       cancellable && clear_slot ? slot : asio::cancellation_slot{};
                                   asio::post(ex, [h = std::move(*hp), ec, detach]() mutable {
                                       if (detach.is_connected())
                                           detach.clear();
                                       std::move(h)(ec);
                                   });
                                   work->reset();
                               },
                               {}});
        return op_id;
    }

    bool complete_next(std::deque<pending_op>& q, error_code ec)
    {
        pending_op op;
        {
            std::lock_guard lk(mtx_);
            if (q.empty())
                return false;
            op = std::move(q.front());
            q.pop_front();
        }
        op.complete(ec, true);
        return true;
    }

    static typename std::deque<pending_op>::iterator find_pending(std::deque<pending_op>& q,
                                                                  std::uint64_t op_id)
    {
        auto it = q.begin();
        for (; it != q.end(); ++it)
            if (it->op_id == op_id)
                break;
        return it;
    }

    // Completes op `op_id` of `q` with `ec` if it is still there.
    void complete_pending(std::deque<pending_op>& q, std::uint64_t op_id, error_code ec,
                          bool clear_slot)
    {
        pending_op op;
        {
            std::lock_guard lk(mtx_);
            auto it = find_pending(q, op_id);
            if (it == q.end())
                return;
            op = std::move(*it);
            q.erase(it);
        }
        op.complete(ec, clear_slot);
    }

    void cancel_pending(std::deque<pending_op>& q, std::uint64_t op_id)
    {
        // Called from inside the cancellation handler: do not clear the slot (that would destroy
        // the running handler); the stale handler only holds a weak_ptr and an id.
        complete_pending(q, op_id, asio::error::operation_aborted, false);
    }

    outcome connect_default() const { return locked_read(connect_default_); }
    outcome ping_default() const { return locked_read(ping_default_); }
    outcome reset_default() const { return locked_read(reset_default_); }
    double connect_fail_p() const { return locked_read(connect_fail_p_); }
    double ping_fail_p() const { return locked_read(ping_fail_p_); }
    double reset_fail_p() const { return locked_read(reset_fail_p_); }

    mutable std::mutex mtx_;
    outcome connect_default_, ping_default_, reset_default_;
    std::deque<outcome> connect_queue_, ping_queue_, reset_queue_;
    outcome_script connect_script_, ping_script_, reset_script_;
    std::function<bool(const fake_connection&)> health_script_;
    std::function<bool(const error_code&)> permanent_script_;
    std::set<int> ping_fail_ids_, unhealthy_ids_, live_ids_;
    error_code ping_fail_ec_ = asio::error::connection_reset;
    double connect_fail_p_ = 0, ping_fail_p_ = 0, reset_fail_p_ = 0;
    std::mt19937 rng_{12345};
    std::deque<pending_op> pending_connects_, pending_pings_, pending_resets_;
    std::uint64_t next_op_id_ = 0;
    std::vector<int> destroyed_ids_, pinged_ids_, reset_ids_;

    std::atomic<int> next_id_{0};
    std::atomic<long> connects_started_{0}, connects_succeeded_{0}, connects_failed_{0},
        connects_cancelled_{0}, connects_in_flight_{0}, max_connects_in_flight_{0};
    std::atomic<long> pings_{0}, pings_failed_{0}, resets_{0}, resets_failed_{0};
    mutable std::atomic<long> health_checks_{0}, permanent_checks_{0};
    std::atomic<long> live_{0}, destroyed_{0};

    std::unique_ptr<std::atomic<std::uint8_t>[]> lent_;
    std::atomic<long> double_lends_{0}, bad_returns_{0}, bad_ids_{0}, lent_now_{0};
};

inline void fake_connection::destroy() noexcept
{
    if (id != 0 && backend_)
        backend_->on_destroyed(id);
    id = 0;
    backend_.reset();
}

namespace fake_detail {

template <class Derived, bool Enabled>
struct ping_part {};

template <class Derived>
struct ping_part<Derived, true> {
    template <class Token>
    auto async_ping(fake_connection& c, Token&& token)
    {
        auto& self = static_cast<Derived&>(*this);
        return self.backend()->async_ping(c, self.executor(), std::forward<Token>(token));
    }
};

template <class Derived, bool Enabled>
struct reset_part {};

template <class Derived>
struct reset_part<Derived, true> {
    template <class Token>
    auto async_reset(fake_connection& c, Token&& token)
    {
        auto& self = static_cast<Derived&>(*this);
        return self.backend()->async_reset(c, self.executor(), std::forward<Token>(token));
    }
};

template <class Derived, bool Enabled>
struct health_part {};

template <class Derived>
struct health_part<Derived, true> {
    bool is_healthy(const fake_connection& c) const
    {
        return static_cast<const Derived&>(*this).backend()->is_healthy(c);
    }
};

template <class Derived, bool Enabled>
struct permanent_part {};

template <class Derived>
struct permanent_part<Derived, true> {
    bool is_permanent_error(const error_code& ec) const
    {
        return static_cast<const Derived&>(*this).backend()->is_permanent_error(ec);
    }
};

}  // namespace fake_detail

/// The factory the pool sees: `pool<fake_connection, fake_factory<...>, manual_clock>`.
///
/// `async_connect` is always there; `async_ping`, `async_reset`, `is_healthy` and
/// `is_permanent_error` exist only when `Ping`, `Reset`, `Health` and `Permanent` are true
/// (the pool detects them at compile time, as it would on your factory). Every call goes to the
/// shared `fake_backend`, which scripts and counts it. Copyable; copies share the backend.
template <bool Ping = false, bool Reset = false, bool Health = false, bool Permanent = false>
class fake_factory
    : public fake_detail::ping_part<fake_factory<Ping, Reset, Health, Permanent>, Ping>,
      public fake_detail::reset_part<fake_factory<Ping, Reset, Health, Permanent>, Reset>,
      public fake_detail::health_part<fake_factory<Ping, Reset, Health, Permanent>, Health>,
      public fake_detail::permanent_part<fake_factory<Ping, Reset, Health, Permanent>, Permanent> {
public:
    /// `ex` is used for handlers without an associated executor (the pool's have one).
    fake_factory(asio::any_io_executor ex, std::shared_ptr<fake_backend> backend)
        : ex_(std::move(ex)), backend_(std::move(backend))
    {
    }

    /// Completion signature `void(error_code, fake_connection)`; see fake_backend for what the
    /// outcome is and how it may be cancelled.
    template <class Token>
    auto async_connect(Token&& token)
    {
        return backend_->async_connect(ex_, std::forward<Token>(token));
    }

    const std::shared_ptr<fake_backend>& backend() const noexcept { return backend_; }
    const asio::any_io_executor& executor() const noexcept { return ex_; }

private:
    asio::any_io_executor ex_;
    std::shared_ptr<fake_backend> backend_;
};

using connect_only_factory = fake_factory<false, false, false>;
using ping_factory = fake_factory<true, false, false>;
using reset_factory = fake_factory<false, true, false>;
using health_factory = fake_factory<false, false, true>;
using full_factory = fake_factory<true, true, true>;
/// Every optional member, `is_permanent_error` included.
using complete_factory = fake_factory<true, true, true, true>;

}  // namespace connpool::testing

#endif
