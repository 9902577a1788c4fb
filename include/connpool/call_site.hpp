// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_CALL_SITE_HPP
#define CONNPOOL_CALL_SITE_HPP

/// \file call_site.hpp
/// call_site: where an acquire was called, as leak reports name it.

#include <cstdint>
#include <ostream>

namespace connpool {

/// A place in the source: the call site of an acquire. Every acquire function takes one as its
/// last parameter, defaulted to call_site::current(), so the caller's file, line and function
/// are recorded without writing anything. The strings are literals of the program (static
/// storage): a call_site may be kept, copied and printed at any time.
///
/// Why not std::source_location: libstdc++'s needs a compiler builtin that clang has only
/// since version 15, and connpool supports clang 14; the builtins used here (__builtin_FILE,
/// __builtin_LINE, __builtin_FUNCTION) are in GCC, clang and MSVC alike, and, as default
/// arguments, name the caller as std::source_location::current() does.
class call_site {
public:
    /// An unknown site: file_name() and function_name() are "", line() is 0.
    constexpr call_site() noexcept = default;

    /// The caller's site, when used as a default argument (as std::source_location::current()).
    static constexpr call_site current(const char* file = __builtin_FILE(),
                                       const char* function = __builtin_FUNCTION(),
                                       std::uint_least32_t line = __builtin_LINE()) noexcept
    {
        return call_site(file, function, line);
    }

    constexpr call_site(const char* file, const char* function, std::uint_least32_t line) noexcept
        : file_(file ? file : ""), function_(function ? function : ""), line_(line)
    {
    }

    constexpr const char* file_name() const noexcept { return file_; }
    constexpr const char* function_name() const noexcept { return function_; }
    constexpr std::uint_least32_t line() const noexcept { return line_; }

    /// Whether a site is known (not default-constructed).
    constexpr bool known() const noexcept { return line_ != 0; }

    friend constexpr bool operator==(const call_site& a, const call_site& b) noexcept
    {
        return a.line_ == b.line_ && equal(a.file_, b.file_) && equal(a.function_, b.function_);
    }

    /// "file:line (function)", or "unknown call site".
    friend std::ostream& operator<<(std::ostream& os, const call_site& s)
    {
        if (!s.known())
            return os << "unknown call site";
        return os << s.file_ << ':' << s.line_ << " (" << s.function_ << ')';
    }

private:
    static constexpr bool equal(const char* a, const char* b) noexcept
    {
        if (a == b)
            return true;
        for (; *a != '\0' && *a == *b; ++a, ++b) {
        }
        return *a == *b;
    }

    const char* file_ = "";
    const char* function_ = "";
    std::uint_least32_t line_ = 0;
};

}  // namespace connpool

#endif
