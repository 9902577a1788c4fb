// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_ADAPTERS_TO_ERROR_CODE_HPP
#define CONNPOOL_DETAIL_ADAPTERS_TO_ERROR_CODE_HPP

// An exception thrown by user code (a blocking driver's call, a coroutine lambda, a factory's
// initiating function) as the error_code a completion reports. Shared by both adapters and by the
// pool, which reports a throwing async_connect the same way.

#include <connpool/detail/described_error.hpp>
#include <connpool/error.hpp>

#include <boost/system/error_category.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <string>
#include <system_error>
#include <utility>

namespace connpool::detail {

inline std::string factory_error_headline(const boost::system::error_category&, int)
{
    return "the connection factory threw";
}

// The error an adapter reports for an exception thrown by user code: a system_error keeps its
// code, anything else is errc::factory_error.
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

// Runs `fn`; what it throws comes back as an error_code (none when it returns).
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

}  // namespace connpool::detail

#endif
