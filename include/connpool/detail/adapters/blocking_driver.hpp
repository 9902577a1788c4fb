// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ADAPTERS_BLOCKING_DRIVER_HPP
#define CONNPOOL_DETAIL_ADAPTERS_BLOCKING_DRIVER_HPP

// What blocking_factory asks of its Driver, and its optional members (async_ping, async_reset,
// is_healthy, is_permanent_error), each in a base that is empty unless the Driver can back it:
// the pool detects a factory's optional members by name, so a member that exists must also work.
// The bases reach the factory's state through CRTP; blocking_factory befriends them.

#include <connpool/error.hpp>

#include <concepts>
#include <type_traits>
#include <utility>

namespace connpool::detail {

template <class Driver>
concept blocking_driver = requires(Driver& d) {
    { d.connect() };
} && std::default_initializable<std::decay_t<decltype(std::declval<Driver&>().connect())>>;

template <class Driver>
using driver_connection_t = std::decay_t<decltype(std::declval<Driver&>().connect())>;

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

}  // namespace connpool::detail

#endif
