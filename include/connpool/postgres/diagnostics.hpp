// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DIAGNOSTICS_HPP
#define CONNPOOL_POSTGRES_DIAGNOSTICS_HPP

/// \file postgres/diagnostics.hpp
/// `postgres::diagnostics`: what the server (or libpq) said about the last failure, in parts
/// (severity, SQLSTATE, message, detail, hint) and as libpq's whole text. Needs no libpq.

#include <string>
#include <string_view>

namespace connpool::postgres {

/// What the server (or libpq) said about the last failure.
struct diagnostics {
    std::string severity;  ///< "ERROR", "FATAL", ... (empty for libpq's own errors)
    std::string sqlstate;  ///< "28P01", ... (empty for libpq's own errors)
    std::string message;   ///< The primary message, e.g. `password authentication failed ...`
    std::string detail;    ///< DETAIL, when the server sent one
    std::string hint;      ///< HINT, when the server sent one
    std::string text;      ///< libpq's whole error text (PQerrorMessage / PQresultErrorMessage)

    bool empty() const noexcept { return message.empty() && text.empty(); }
    void clear() noexcept { *this = diagnostics{}; }
};

namespace detail {

// libpq's texts end with a line break; diagnostics keep them without trailing blanks.
inline std::string trim(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return std::string(s);
}

}  // namespace detail

}  // namespace connpool::postgres

#endif
