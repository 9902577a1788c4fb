// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_FACTORY_HPP
#define CONNPOOL_FACTORY_HPP

/// \file factory.hpp
/// How a backend plugs in: the connection_factory concept, the optional members the pool detects,
/// and two adapters — blocking_factory (a blocking driver such as libpq's PQconnectdb, run on
/// threads of its own) and coro_factory (C++20 coroutine lambdas).

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
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/system_error.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <memory>
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

template <class Driver>
concept blocking_driver = requires(Driver& d) {
    { d.connect() };
} && std::default_initializable<std::decay_t<decltype(std::declval<Driver&>().connect())>>;

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
class blocking_factory {
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

    /// Completion signature: void(error_code). Present when Driver has ping(Conn&).
    template <class CompletionToken>
        requires requires(Driver& d, connection_type& c) { d.ping(c); }
    auto async_ping(connection_type& conn, CompletionToken&& token)
    {
        return async_status_call(
            conn, [](Driver& d, connection_type& c) { d.ping(c); },
            std::forward<CompletionToken>(token));
    }

    /// Completion signature: void(error_code). Present when Driver has reset(Conn&).
    template <class CompletionToken>
        requires requires(Driver& d, connection_type& c) { d.reset(c); }
    auto async_reset(connection_type& conn, CompletionToken&& token)
    {
        return async_status_call(
            conn, [](Driver& d, connection_type& c) { d.reset(c); },
            std::forward<CompletionToken>(token));
    }

    /// Present when Driver has is_healthy(const Conn&).
    bool is_healthy(const connection_type& conn) const
        requires requires(const Driver& d, const connection_type& c) {
            { d.is_healthy(c) } -> std::convertible_to<bool>;
        }
    {
        return state_->driver.is_healthy(conn);
    }

    /// Present when Driver has is_permanent_error(const error_code&).
    bool is_permanent_error(const error_code& ec) const
        requires requires(const Driver& d) {
            { d.is_permanent_error(ec) } -> std::convertible_to<bool>;
        }
    {
        return state_->driver.is_permanent_error(ec);
    }

private:
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
            workers->stop();
            try {
                std::thread([w = std::move(workers)]() mutable { w.reset(); }).detach();
            } catch (...) {
                (void)workers.release();  // no thread to join them: leak rather than crash
            }
        }
        Driver driver;
        std::unique_ptr<boost::asio::thread_pool> workers;
    };

    // Runs `work` (returning the completion arguments) on a worker thread, then completes
    // `handler` on its associated executor, keeping that executor busy meanwhile.
    template <class Handler, class Work>
    static void run(state& st, Handler handler, Work work)
    {
        // The handler's executor counts this call as outstanding work until it completes.
        auto ex = boost::asio::prefer(
            boost::asio::get_associated_executor(handler, st.workers->get_executor()),
            boost::asio::execution::outstanding_work.tracked);
        boost::asio::post(*st.workers, [handler = std::move(handler), ex = std::move(ex),
                                        work = std::move(work)]() mutable {
            std::apply(
                [&](auto&&... args) {
                    boost::asio::post(ex,
                                      boost::asio::append(std::move(handler), std::move(args)...));
                },
                work());
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

}  // namespace detail

/// Adapts C++20 coroutine lambdas to the connection_factory concept. The lambdas run on the
/// executor associated with the pool's handler (the pool's internal strand); `co_await
/// boost::asio::this_coro::executor` gives it. Cancellation (connect_timeout, close()) reaches the
/// coroutine through Asio's per-operation cancellation. A thrown exception fails the operation (see
/// blocking_factory for the error mapping). Build one with make_coro_factory().
template <class ConnectFn, class PingFn = detail::no_coro_fn, class ResetFn = detail::no_coro_fn>
class coro_factory {
public:
    using connection_type =
        typename detail::awaitable_value<std::invoke_result_t<ConnectFn&>>::type;
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

    /// Completion signature: void(error_code). Present when a ping lambda was given.
    template <class CompletionToken>
        requires(!std::is_same_v<PingFn, detail::no_coro_fn>)
    auto async_ping(connection_type& conn, CompletionToken&& token)
    {
        return async_status_call(ping_, conn, std::forward<CompletionToken>(token));
    }

    /// Completion signature: void(error_code). Present when a reset lambda was given.
    template <class CompletionToken>
        requires(!std::is_same_v<ResetFn, detail::no_coro_fn>)
    auto async_reset(connection_type& conn, CompletionToken&& token)
    {
        return async_status_call(reset_, conn, std::forward<CompletionToken>(token));
    }

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
