// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_FACTORY_HPP
#define CONNPOOL_FACTORY_HPP

/// \file factory.hpp
/// How a backend plugs in: the connection_factory concept and the optional members the pool
/// detects (with a compile error, not a silent fallback, for one whose signature is wrong).
/// Two adapters build factories for the common cases, each in its own header:
/// <connpool/blocking_factory.hpp> (a blocking driver such as libpq's PQconnectdb, run on threads
/// of its own) and <connpool/coro_factory.hpp> (C++20 coroutine lambdas).

#include <connpool/error.hpp>

#include <concepts>
#include <type_traits>

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

}  // namespace connpool

#endif
