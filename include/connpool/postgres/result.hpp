// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_RESULT_HPP
#define CONNPOOL_POSTGRES_RESULT_HPP

/// \file postgres/result.hpp
/// What goes into a query and what comes out: `postgres::params` (the bound values, in text
/// format) and `postgres::result` (owns one PGresult: rows, columns, values, affected rows).

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connpool::postgres {

/// Owns one PGresult (PQclear on destruction). Move-only. Values are in text format.
class result {
public:
    result() noexcept = default;
    /// Takes ownership of `r` (may be null).
    explicit result(PGresult* r) noexcept : r_(r) {}
    result(result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    result& operator=(result&& o) noexcept
    {
        if (this != &o) {
            reset();
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    result(const result&) = delete;
    result& operator=(const result&) = delete;
    ~result() { reset(); }

    explicit operator bool() const noexcept { return r_ != nullptr; }

    /// Number of rows (0 for commands and for an empty result).
    int rows() const noexcept { return r_ ? PQntuples(r_) : 0; }
    /// Number of columns.
    int columns() const noexcept { return r_ ? PQnfields(r_) : 0; }
    /// The value at (row, column) as text; empty for NULL. Precondition: in range.
    std::string_view value(int row, int column) const noexcept
    {
        return {PQgetvalue(r_, row, column),
                static_cast<std::size_t>(PQgetlength(r_, row, column))};
    }
    /// True when the value at (row, column) is NULL. Precondition: in range.
    bool is_null(int row, int column) const noexcept { return PQgetisnull(r_, row, column) != 0; }
    /// The value, or nullopt for NULL. Precondition: in range.
    std::optional<std::string_view> get(int row, int column) const noexcept
    {
        if (is_null(row, column))
            return std::nullopt;
        return value(row, column);
    }
    /// The column's name. Precondition: in range.
    std::string_view column_name(int column) const noexcept { return PQfname(r_, column); }
    /// The index of the column named `name`, or -1.
    int column(const char* name) const noexcept { return r_ ? PQfnumber(r_, name) : -1; }
    /// Rows affected by an INSERT/UPDATE/DELETE/... (PQcmdTuples), 0 otherwise.
    std::uint64_t affected_rows() const noexcept
    {
        if (!r_)
            return 0;
        const char* s = PQcmdTuples(r_);
        return s && *s ? std::strtoull(s, nullptr, 10) : 0;
    }
    /// PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, ...
    ExecStatusType status() const noexcept { return r_ ? PQresultStatus(r_) : PGRES_EMPTY_QUERY; }

    PGresult* native_handle() const noexcept { return r_; }
    /// Gives up ownership.
    PGresult* release() noexcept { return std::exchange(r_, nullptr); }

private:
    void reset() noexcept
    {
        if (r_)
            PQclear(std::exchange(r_, nullptr));
    }
    PGresult* r_ = nullptr;
};

/// Query parameters, in text format: `{"42", std::nullopt /* NULL */, "abc"}`.
using params = std::vector<std::optional<std::string>>;

}  // namespace connpool::postgres

#endif
