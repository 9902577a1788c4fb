// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_CORO_FACTORY_HPP
#define CONNPOOL_CORO_FACTORY_HPP

/// \file coro_factory.hpp
/// coro_factory and make_coro_factory: C++20 coroutine lambdas as a connection factory.

#include <connpool/detail/adapters/coro_lambdas.hpp>
#include <connpool/detail/adapters/to_error_code.hpp>
#include <connpool/error.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>

#include <concepts>
#include <exception>
#include <type_traits>
#include <utility>

namespace connpool {

/// Adapts C++20 coroutine lambdas to the connection_factory concept. The lambdas run on the
/// executor associated with the pool's handler (the pool's internal strand); `co_await
/// boost::asio::this_coro::executor` gives it. Cancellation (connect_timeout, close()) reaches the
/// coroutine through Asio's per-operation cancellation. A thrown exception fails the operation: a
/// boost::system::system_error or std::system_error keeps its code, anything else is reported as
/// errc::factory_error (carrying what() in its message). Build one with make_coro_factory().
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
