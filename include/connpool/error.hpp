// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_ERROR_HPP
#define CONNPOOL_ERROR_HPP

/// \file error.hpp
/// Errors raised by the pool itself. Errors of the factory and of connections pass through
/// unchanged (a connect that fails with `connection_refused` reports `connection_refused`).

#include <boost/system/error_code.hpp>

#include <string>
#include <system_error>
#include <type_traits>

namespace connpool {

using boost::system::error_code;

/// Error codes of the pool, in the `connpool` category.
enum class errc {
    pool_closed = 1,  ///< close() was called, or the pool was destroyed.
    acquire_timeout,  ///< The acquire deadline passed and no connect attempt had failed.
    pool_exhausted,   ///< More than pool_options::max_waiters acquirers were already waiting.
    connect_timeout,  ///< A connect attempt took longer than pool_options::connect_timeout.
    would_deadlock,  ///< A blocking acquire() was called from a thread running the pool's executor.
    factory_error,   ///< An adapted factory (blocking or coroutine) threw a non-system_error;
                     ///< message() ends with the exception's what().
    observer_error,  ///< A pool_observer's after_connect hook threw: the new connection is
                     ///< refused (the connect counts as failed).
};

namespace detail {

// A fixed 64-bit id makes categories from different shared objects compare equal (and a
// described_category, carrying an exception's text, equal to this one).
inline constexpr unsigned long long connpool_category_id = 0x8c3a'51f2'c0d9'7e11ULL;

class connpool_category final : public boost::system::error_category {
public:
    constexpr connpool_category() noexcept : error_category(connpool_category_id) {}

    const char* name() const noexcept override { return "connpool"; }

    std::string message(int ev) const override { return message(ev, nullptr, 0); }

    const char* message(int ev, char*, std::size_t) const noexcept override
    {
        switch (static_cast<errc>(ev)) {
        case errc::pool_closed:
            return "the pool is closed; create a new pool to acquire connections again";
        case errc::acquire_timeout:
            return "no connection became available before the acquire deadline; raise "
                   "max_size or the acquire timeout, or return connections sooner (if no "
                   "connection was ever opened: is the pool's executor running?)";
        case errc::pool_exhausted:
            return "too many acquirers are already waiting (max_waiters); shed load or raise "
                   "max_waiters";
        case errc::connect_timeout:
            return "connecting took longer than connect_timeout; check that the server is "
                   "reachable, or raise connect_timeout";
        case errc::would_deadlock:
            return "blocking acquire() called from a thread that runs the pool's executor; use "
                   "async_acquire() there, or call acquire() from another thread";
        case errc::factory_error:
            return "the connection factory threw an exception that is not a "
                   "boost::system::system_error (its what() text, when it has one, follows this "
                   "message)";
        case errc::observer_error:
            return "the pool observer's after_connect hook threw an exception, so the new "
                   "connection was refused; make the hook return an error_code instead of "
                   "throwing";
        }
        return "unknown connpool error";
    }

    boost::system::error_condition default_error_condition(int ev) const noexcept override
    {
        switch (static_cast<errc>(ev)) {
        case errc::acquire_timeout:
        case errc::connect_timeout:
            return boost::system::errc::make_error_condition(boost::system::errc::timed_out);
        default:
            return {ev, *this};
        }
    }
};

inline constexpr connpool_category category_instance{};

}  // namespace detail

/// The `connpool` error category.
inline const boost::system::error_category& pool_category() noexcept
{
    return detail::category_instance;
}

inline error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), pool_category()};
}

}  // namespace connpool

namespace boost::system {
template <>
struct is_error_code_enum<::connpool::errc> : std::true_type {};
}  // namespace boost::system

#endif
