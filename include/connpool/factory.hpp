// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_FACTORY_HPP
#define CONNPOOL_FACTORY_HPP

/// \file factory.hpp
/// How a backend plugs in: the connection_factory concept, the optional members the pool detects,
/// and two adapters — blocking_factory (a blocking driver such as libpq's PQconnectdb, run on
/// threads of its own) and coro_factory (C++20 coroutine lambdas).

#include <connpool/detail/described_error.hpp>
#include <connpool/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/system_error.hpp>

#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace connpool {

namespace detail {

// Stand-ins for the pool's completion handlers, used only to check the factory's members.
template <class Connection>
struct connect_handler_archetype {
    void operator()(error_code, Connection) {}
};
struct status_handler_archetype {
    void operator()(error_code) {}
};

}  // namespace detail

/// The required member: `f.async_connect(token)`, an Asio async operation completing with
/// `void(error_code, Connection)`. On failure the Connection argument is ignored.
template <class Factory, class Connection>
concept factory_has_async_connect =
    requires(Factory& f) { f.async_connect(detail::connect_handler_archetype<Connection>{}); };

/// A backend the pool can open connections of. Connections must be movable; a factory is moved
/// into the pool, and the pool calls its members from one strand of the pool's executor at a time
/// (so a factory need not be thread-safe), except is_healthy, which may be called from any thread.
template <class Factory, class Connection>
concept connection_factory =
    std::move_constructible<Connection> && std::move_constructible<Factory> &&
    factory_has_async_connect<Factory, Connection>;

/// Optional: `f.async_ping(conn, token)` completing with `void(error_code)`: validation of
/// long-idle connections before they are lent, and background keepalive.
template <class Factory, class Connection>
concept factory_has_async_ping =
    requires(Factory& f, Connection& c) { f.async_ping(c, detail::status_handler_archetype{}); };

/// Optional: `f.async_reset(conn, token)` completing with `void(error_code)`: run on every return
/// (e.g. `DISCARD ALL`); a connection whose reset fails is destroyed.
template <class Factory, class Connection>
concept factory_has_async_reset =
    requires(Factory& f, Connection& c) { f.async_reset(c, detail::status_handler_archetype{}); };

/// Optional: `f.is_healthy(conn)`, a cheap synchronous check (e.g. PQstatus) made when a connection
/// is returned and before it is lent; false destroys it. Must be safe to call from any thread.
template <class Factory, class Connection>
concept factory_has_is_healthy = requires(Factory& f, const Connection& c) {
    { f.is_healthy(c) } -> std::convertible_to<bool>;
};

/// Optional: `f.is_permanent_error(ec)`, true when a connect failed in a way that waiting will not
/// mend (bad credentials, unknown database, malformed address). Then waiters that no existing
/// connection could serve fail at once with that error instead of at their deadlines, the pool
/// backs off by the full `backoff_max`, and until that retry, acquires that would need a new
/// connection fail at once too. Retries go on, so a fixed configuration is picked up.
template <class Factory>
concept factory_has_is_permanent_error = requires(const Factory& f, const error_code& ec) {
    { f.is_permanent_error(ec) } -> std::convertible_to<bool>;
};

namespace detail {

// Whether a class declares a member with one of the optional names, whatever its signature: a
// class deriving from it and from a class that has a member of that name cannot name the member
// unambiguously exactly when it declares one too (templates and overloads included).
#define CONNPOOL_DETAIL_DECLARES(name)                                                             \
    struct declares_##name##_probe {                                                               \
        void name();                                                                               \
    };                                                                                             \
    template <class T>                                                                             \
    struct declares_##name##_mix : T, declares_##name##_probe {};                                  \
    template <class T>                                                                             \
    concept declares_##name = std::is_class_v<T> && !std::is_final_v<T> &&                         \
                              !requires { &declares_##name##_mix<T>::name; };
CONNPOOL_DETAIL_DECLARES(async_ping)
CONNPOOL_DETAIL_DECLARES(async_reset)
CONNPOOL_DETAIL_DECLARES(is_healthy)
CONNPOOL_DETAIL_DECLARES(is_permanent_error)
#undef CONNPOOL_DETAIL_DECLARES

// A factory member with one of the optional names that does not fit its concept would silently
// switch the feature off (validation, reset, health checks): it is a compile error instead.
template <class Factory, class Connection>
struct check_optional_members {
    static_assert(!declares_async_ping<Factory> || factory_has_async_ping<Factory, Connection>,
                  "connpool: the factory has a member named async_ping, but f.async_ping(conn, "
                  "token) does not compile: the pool expects `template <class CompletionToken> "
                  "auto async_ping(Connection&, CompletionToken&&)` completing with "
                  "void(error_code)");
    static_assert(!declares_async_reset<Factory> || factory_has_async_reset<Factory, Connection>,
                  "connpool: the factory has a member named async_reset, but f.async_reset(conn, "
                  "token) does not compile: the pool expects `template <class CompletionToken> "
                  "auto async_reset(Connection&, CompletionToken&&)` completing with "
                  "void(error_code)");
    static_assert(!declares_is_healthy<Factory> || factory_has_is_healthy<Factory, Connection>,
                  "connpool: the factory has a member named is_healthy, but it cannot be called "
                  "as f.is_healthy(conn) with a const Connection&: the pool expects "
                  "`bool is_healthy(const Connection&)`");
    static_assert(!declares_is_permanent_error<Factory> || factory_has_is_permanent_error<Factory>,
                  "connpool: the factory has a member named is_permanent_error, but it cannot be "
                  "called as f.is_permanent_error(ec) on a const factory: the pool expects "
                  "`bool is_permanent_error(const error_code&) const`");
    static constexpr bool value = true;
};

}  // namespace detail

namespace detail {

inline std::string factory_error_headline(const boost::system::error_category&, int)
{
    return "the connection factory threw";
}

// The error an adapter reports for an exception thrown by user code.
inline error_code to_error_code(const std::exception_ptr& ep) noexcept
{
    if (!ep)
        return {};
    try {
        std::rethrow_exception(ep);
    } catch (const boost::system::system_error& e) {
        return e.code();
    } catch (const std::system_error& e) {
        return error_code(e.code());
    } catch (const std::exception& e) {
        // The exception's text goes where a user reads errors: the code's message() (see
        // detail/described_error.hpp), so the waiter, stats().last_connect_error and what() of a
        // failed acquire() all say what the factory said.
        return with_text(make_error_code(errc::factory_error), pool_category(),
                         connpool_category_id, e.what(), &factory_error_headline);
    } catch (...) {
        return make_error_code(errc::factory_error);
    }
}

template <class Fn>
error_code call_capturing(Fn&& fn) noexcept
{
    try {
        std::forward<Fn>(fn)();
        return {};
    } catch (...) {
        return to_error_code(std::current_exception());
    }
}

// The blocking calls whose completions go to one execution context (an io_context). A service of
// that context: its shutdown() (when the io_context is destroyed) waits for the calls in flight
// to return, as Asio's resolver joins its own thread, and a call that returns after that
// destroys its handler on its worker instead of posting to a context that is going away.
class blocking_call_tracker final : public boost::asio::execution_context::service {
public:
    using key_type = blocking_call_tracker;
    static inline boost::asio::execution_context::id id;

    explicit blocking_call_tracker(boost::asio::execution_context& ctx) : service(ctx) {}

    // Counts a call about to start; false once the context is shutting down.
    bool begin() noexcept
    {
        std::lock_guard lk(mtx_);
        if (shut_down_)
            return false;
        ++calls_;
        return true;
    }

    // The call has returned: runs `deliver` (which posts the completion) unless the context is
    // shutting down. Returns whether it ran.
    template <class Deliver>
    bool deliver(Deliver&& fn) noexcept
    {
        std::lock_guard lk(mtx_);
        if (shut_down_)
            return false;
        std::forward<Deliver>(fn)();
        return true;
    }

    // The call and everything it held (its handler, the tracked executor) are gone. The last
    // use of the tracker by that call.
    void end() noexcept
    {
        std::lock_guard lk(mtx_);
        --calls_;
        done_.notify_all();  // under the lock: shutdown() cannot return and free us before
    }

private:
    void shutdown() override
    {
        std::unique_lock lk(mtx_);
        shut_down_ = true;
        done_.wait(lk, [this] { return calls_ == 0; });
    }

    std::mutex mtx_;
    std::condition_variable done_;
    std::size_t calls_ = 0;
    bool shut_down_ = false;
};

// The tracker of the context that runs `ex`, or nullptr for an executor that names none.
template <class Executor>
blocking_call_tracker* tracker_for(const Executor& ex)
{
    if constexpr (requires { boost::asio::query(ex, boost::asio::execution::context); }) {
        boost::asio::execution_context& ctx =
            boost::asio::query(ex, boost::asio::execution::context);
        return &boost::asio::use_service<blocking_call_tracker>(ctx);
    } else if constexpr (requires { ex.context(); }) {
        return &boost::asio::use_service<blocking_call_tracker>(ex.context());
    } else {
        return nullptr;
    }
}

template <class Driver>
concept blocking_driver = requires(Driver& d) {
    { d.connect() };
} && std::default_initializable<std::decay_t<decltype(std::declval<Driver&>().connect())>>;

template <class Driver>
using driver_connection_t = std::decay_t<decltype(std::declval<Driver&>().connect())>;

// blocking_factory's optional members, each in a base that is empty unless Driver can back it.
template <class Driver>
concept driver_pings = requires(Driver& d, driver_connection_t<Driver>& c) { d.ping(c); };
template <class Driver>
concept driver_resets = requires(Driver& d, driver_connection_t<Driver>& c) { d.reset(c); };
template <class Driver>
concept driver_checks_health = requires(const Driver& d, const driver_connection_t<Driver>& c) {
    { d.is_healthy(c) } -> std::convertible_to<bool>;
};
template <class Driver>
concept driver_classifies_errors = requires(const Driver& d, const error_code& ec) {
    { d.is_permanent_error(ec) } -> std::convertible_to<bool>;
};

template <class Factory, class Driver, bool = driver_pings<Driver>>
struct blocking_ping {};
template <class Factory, class Driver>
struct blocking_ping<Factory, Driver, true> {
    /// Completion signature: void(error_code). Present when Driver has ping(Conn&).
    template <class CompletionToken>
    auto async_ping(driver_connection_t<Driver>& conn, CompletionToken&& token)
    {
        return static_cast<Factory&>(*this).async_status_call(
            conn, [](Driver& d, driver_connection_t<Driver>& c) { d.ping(c); },
            std::forward<CompletionToken>(token));
    }
};

template <class Factory, class Driver, bool = driver_resets<Driver>>
struct blocking_reset {};
template <class Factory, class Driver>
struct blocking_reset<Factory, Driver, true> {
    /// Completion signature: void(error_code). Present when Driver has reset(Conn&).
    template <class CompletionToken>
    auto async_reset(driver_connection_t<Driver>& conn, CompletionToken&& token)
    {
        return static_cast<Factory&>(*this).async_status_call(
            conn, [](Driver& d, driver_connection_t<Driver>& c) { d.reset(c); },
            std::forward<CompletionToken>(token));
    }
};

template <class Factory, class Driver, bool = driver_checks_health<Driver>>
struct blocking_health {};
template <class Factory, class Driver>
struct blocking_health<Factory, Driver, true> {
    /// Present when Driver has `bool is_healthy(const Conn&) const`.
    bool is_healthy(const driver_connection_t<Driver>& conn) const
    {
        return static_cast<const Factory&>(*this).state_->driver.is_healthy(conn);
    }
};

template <class Factory, class Driver, bool = driver_classifies_errors<Driver>>
struct blocking_permanence {};
template <class Factory, class Driver>
struct blocking_permanence<Factory, Driver, true> {
    /// Present when Driver has `bool is_permanent_error(const error_code&) const`.
    bool is_permanent_error(const error_code& ec) const
    {
        return static_cast<const Factory&>(*this).state_->driver.is_permanent_error(ec);
    }
};

}  // namespace detail

/// Adapts a blocking driver to the connection_factory concept. Each driver call runs on one of the
/// adapter's own threads (an asio::thread_pool, shared by copies of the adapter) and completes on
/// the executor associated with the pool's handler, so the pool's executor never blocks.
///
/// Driver requirements (the connection type must be default-constructible: a failed connect
/// completes with a default-constructed one):
///   Conn connect();                      required; throws on failure
///   void ping(Conn&);                    optional; throws on failure -> async_ping
///   void reset(Conn&);                   optional; throws on failure -> async_reset
///   bool is_healthy(const Conn&) const;  optional                    -> is_healthy
///   bool is_permanent_error(const error_code&) const;  optional     -> is_permanent_error
/// A thrown boost::system::system_error or std::system_error keeps its code; anything else is
/// reported as errc::factory_error. connect() may run on several threads at once.
template <class Driver>
class blocking_factory : public detail::blocking_ping<blocking_factory<Driver>, Driver>,
                         public detail::blocking_reset<blocking_factory<Driver>, Driver>,
                         public detail::blocking_health<blocking_factory<Driver>, Driver>,
                         public detail::blocking_permanence<blocking_factory<Driver>, Driver> {
    static_assert(detail::blocking_driver<Driver>,
                  "connpool::blocking_factory: Driver needs `Conn connect()` returning a "
                  "default-constructible connection type");

public:
    using connection_type = std::decay_t<decltype(std::declval<Driver&>().connect())>;

    /// `threads`: how many blocking calls may run at once (at least 1).
    explicit blocking_factory(Driver driver, std::size_t threads = 2)
        : state_(std::make_shared<state>(std::move(driver), threads == 0 ? 1 : threads))
    {
    }

    Driver& driver() noexcept { return state_->driver; }
    const Driver& driver() const noexcept { return state_->driver; }

    /// Completion signature: void(error_code, connection_type).
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, connection_type)>(
            [st = state_](auto handler) {
                run(*st, std::move(handler), [st] {
                    connection_type c{};
                    error_code ec = detail::call_capturing([&] { c = st->driver.connect(); });
                    return std::make_pair(ec, std::move(c));
                });
            },
            token);
    }

    // async_ping, async_reset, is_healthy and is_permanent_error come from the bases below,
    // each present only when Driver has the matching member (the pool detects the factory's
    // optional members by name, so a member that exists must also work).

private:
    template <class, class, bool>
    friend struct detail::blocking_ping;
    template <class, class, bool>
    friend struct detail::blocking_reset;
    template <class, class, bool>
    friend struct detail::blocking_health;
    template <class, class, bool>
    friend struct detail::blocking_permanence;

    struct state {
        state(Driver d, std::size_t threads)
            : driver(std::move(d)), workers(std::make_unique<boost::asio::thread_pool>(threads))
        {
        }
        // Waits for the calls in flight. The last reference may go away on a worker itself (a
        // call whose completion outlived the factory), and a thread cannot join itself: then a
        // detached thread joins and destroys the workers once this one has returned.
        ~state()
        {
            if (!workers->get_executor().running_in_this_thread()) {
                workers->join();
                return;
            }
            // Not stop(): work already posted to the workers (a completion whose handler has no
            // executor of its own runs there) must still run. join() lets it finish first.
            try {
                std::thread([w = std::move(workers)]() mutable {
                    w->join();
                    w.reset();
                }).detach();
            } catch (...) {
                (void)workers.release();  // no thread to join them: leak rather than crash
            }
        }
        Driver driver;
        std::unique_ptr<boost::asio::thread_pool> workers;
    };

    // Runs `work` (returning the completion arguments) on a worker thread, then completes
    // `handler` on its associated executor, keeping that executor busy meanwhile. The call is
    // tied to the shutdown of that executor's context (see blocking_call_tracker): destroying
    // the io_context waits for the call to return, and the completion is then dropped.
    template <class Handler, class Work>
    static void run(state& st, Handler handler, Work work)
    {
        auto plain = boost::asio::get_associated_executor(handler, st.workers->get_executor());
        detail::blocking_call_tracker* tracker = detail::tracker_for(plain);
        if (tracker && !tracker->begin())
            return;  // the context is shutting down: the handler is destroyed, never invoked
        // The handler's executor counts this call as outstanding work until it completes.
        auto ex = boost::asio::prefer(plain, boost::asio::execution::outstanding_work.tracked);
        boost::asio::post(*st.workers, [handler = std::move(handler), ex = std::move(ex),
                                        work = std::move(work), tracker]() mutable {
            {
                auto h = std::move(handler);
                auto e = std::move(ex);
                auto result = work();
                auto post_completion = [&] {
                    std::apply(
                        [&](auto&&... args) {
                            boost::asio::post(
                                e, boost::asio::append(std::move(h), std::move(args)...));
                        },
                        std::move(result));
                };
                if (!tracker)
                    post_completion();
                else
                    tracker->deliver(post_completion);
            }  // h, e and the result are destroyed here, before the tracker lets shutdown go on
            if (tracker)
                tracker->end();
        });
    }

    template <class Call, class CompletionToken>
    auto async_status_call(connection_type& conn, Call call, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [st = state_, &conn, call](auto handler) {
                run(*st, std::move(handler), [st, &conn, call] {
                    return std::make_tuple(detail::call_capturing([&] { call(st->driver, conn); }));
                });
            },
            token);
    }

    std::shared_ptr<state> state_;
};

namespace detail {

template <class T>
struct awaitable_value {};
template <class T, class Executor>
struct awaitable_value<boost::asio::awaitable<T, Executor>> {
    using type = T;
};

struct no_coro_fn {};

// coro_factory's optional members, each in a base that is empty unless its lambda was given.
template <class Factory, class Conn, bool Present>
struct coro_ping {};
template <class Factory, class Conn>
struct coro_ping<Factory, Conn, true> {
    /// Completion signature: void(error_code). Present when a ping lambda was given.
    template <class CompletionToken>
    auto async_ping(Conn& conn, CompletionToken&& token)
    {
        auto& self = static_cast<Factory&>(*this);
        return self.async_status_call(self.ping_, conn, std::forward<CompletionToken>(token));
    }
};

template <class Factory, class Conn, bool Present>
struct coro_reset {};
template <class Factory, class Conn>
struct coro_reset<Factory, Conn, true> {
    /// Completion signature: void(error_code). Present when a reset lambda was given.
    template <class CompletionToken>
    auto async_reset(Conn& conn, CompletionToken&& token)
    {
        auto& self = static_cast<Factory&>(*this);
        return self.async_status_call(self.reset_, conn, std::forward<CompletionToken>(token));
    }
};

template <class ConnectFn>
using coro_connection_t = typename awaitable_value<std::invoke_result_t<ConnectFn&>>::type;

}  // namespace detail

/// Adapts C++20 coroutine lambdas to the connection_factory concept. The lambdas run on the
/// executor associated with the pool's handler (the pool's internal strand); `co_await
/// boost::asio::this_coro::executor` gives it. Cancellation (connect_timeout, close()) reaches the
/// coroutine through Asio's per-operation cancellation. A thrown exception fails the operation (see
/// blocking_factory for the error mapping). Build one with make_coro_factory().
template <class ConnectFn, class PingFn = detail::no_coro_fn, class ResetFn = detail::no_coro_fn>
class coro_factory : public detail::coro_ping<coro_factory<ConnectFn, PingFn, ResetFn>,
                                              detail::coro_connection_t<ConnectFn>,
                                              !std::is_same_v<PingFn, detail::no_coro_fn>>,
                     public detail::coro_reset<coro_factory<ConnectFn, PingFn, ResetFn>,
                                               detail::coro_connection_t<ConnectFn>,
                                               !std::is_same_v<ResetFn, detail::no_coro_fn>> {
    template <class, class, bool>
    friend struct detail::coro_ping;
    template <class, class, bool>
    friend struct detail::coro_reset;

public:
    using connection_type = detail::coro_connection_t<ConnectFn>;
    static_assert(std::default_initializable<connection_type>,
                  "connpool::coro_factory: the connection type must be default-constructible "
                  "(a failed coroutine completes with a default-constructed one)");

    coro_factory(ConnectFn connect, PingFn ping = {}, ResetFn reset = {})
        : connect_(std::move(connect)), ping_(std::move(ping)), reset_(std::move(reset))
    {
    }

    /// Completion signature: void(error_code, connection_type).
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, connection_type)>(
            [this](auto handler) {
                spawn(std::move(handler), connect_(),
                      [](auto& h, std::exception_ptr ep, connection_type c) {
                          std::move(h)(detail::to_error_code(ep), std::move(c));
                      });
            },
            token);
    }

    // async_ping and async_reset come from the bases, present when a lambda was given.

private:
    template <class Fn, class CompletionToken>
    auto async_status_call(Fn& fn, connection_type& conn, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [&fn, &conn](auto handler) {
                spawn(std::move(handler), fn(conn), [](auto& h, std::exception_ptr ep) {
                    std::move(h)(detail::to_error_code(ep));
                });
            },
            token);
    }

    // co_spawns `aw` on the handler's executor; `finish(handler, exception_ptr[, value])`
    // completes. The handler's cancellation slot is forwarded to the coroutine.
    template <class Handler, class Awaitable, class Finish>
    static void spawn(Handler handler, Awaitable aw, Finish finish)
    {
        auto ex = boost::asio::get_associated_executor(handler);
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        boost::asio::co_spawn(
            ex, std::move(aw),
            boost::asio::bind_cancellation_slot(
                slot,
                boost::asio::bind_executor(ex, [handler = std::move(handler), finish](
                                                   std::exception_ptr ep, auto&&... value) mutable {
                    finish(handler, ep, std::forward<decltype(value)>(value)...);
                })));
    }

    ConnectFn connect_;
    [[no_unique_address]] PingFn ping_;
    [[no_unique_address]] ResetFn reset_;
};

/// Builds a coro_factory from a connect lambda (`() -> awaitable<Conn>`) and, optionally, a ping
/// and a reset lambda (`(Conn&) -> awaitable<void>`).
template <class ConnectFn, class PingFn = detail::no_coro_fn, class ResetFn = detail::no_coro_fn>
coro_factory<ConnectFn, PingFn, ResetFn> make_coro_factory(ConnectFn connect, PingFn ping = {},
                                                           ResetFn reset = {})
{
    return {std::move(connect), std::move(ping), std::move(reset)};
}

}  // namespace connpool

#endif
