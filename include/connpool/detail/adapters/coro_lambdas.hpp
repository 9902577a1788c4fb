// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ADAPTERS_CORO_LAMBDAS_HPP
#define CONNPOOL_DETAIL_ADAPTERS_CORO_LAMBDAS_HPP

// What coro_factory derives from its lambdas: the connection type of the connect lambda's
// awaitable, and its optional members (async_ping, async_reset), each in a base that is empty
// unless its lambda was given: the pool detects a factory's optional members by name, so a member
// that exists must also work. The bases reach the factory through CRTP; coro_factory befriends
// them.

#include <boost/asio/awaitable.hpp>

#include <type_traits>
#include <utility>

namespace connpool::detail {

template <class T>
struct awaitable_value {};
template <class T, class Executor>
struct awaitable_value<boost::asio::awaitable<T, Executor>> {
    using type = T;
};

// The connection type of a connect lambda `() -> awaitable<Conn>`.
template <class ConnectFn>
using coro_connection_t = typename awaitable_value<std::invoke_result_t<ConnectFn&>>::type;

// The type of a lambda not given.
struct no_coro_fn {};

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

}  // namespace connpool::detail

#endif
