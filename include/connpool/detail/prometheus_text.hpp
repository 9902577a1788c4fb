// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_PROMETHEUS_TEXT_HPP
#define CONNPOOL_DETAIL_PROMETHEUS_TEXT_HPP

// The pieces of Prometheus' text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): escaping, numbers, and one
// sample line. Numbers are written with std::to_chars, never through the stream's locale (a
// locale with digit grouping would write "1,024"). Durations, kept in integer nanoseconds, are
// written as exact decimal seconds: no rounding, the same text on every platform.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string_view>

namespace connpool::detail::prometheus_text {

// A label value: backslash, double quote and line feed are escaped.
inline void write_label_value(std::ostream& out, std::string_view v)
{
    std::size_t from = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char* escaped = v[i] == '\\'   ? "\\\\"
                              : v[i] == '"'  ? "\\\""
                              : v[i] == '\n' ? "\\n"
                                             : nullptr;
        if (escaped) {
            out << v.substr(from, i - from) << escaped;
            from = i + 1;
        }
    }
    out << v.substr(from);
}

// A # HELP text: backslash and line feed are escaped (a double quote is not).
inline void write_help_text(std::ostream& out, std::string_view v)
{
    std::size_t from = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char* escaped = v[i] == '\\' ? "\\\\" : v[i] == '\n' ? "\\n" : nullptr;
        if (escaped) {
            out << v.substr(from, i - from) << escaped;
            from = i + 1;
        }
    }
    out << v.substr(from);
}

inline void write_integer(std::ostream& out, std::uint64_t v)
{
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out << std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Room for one duration written as decimal seconds, exactly: "0", "0.000001024",
// "68.719476736", "1.5". format() returns a view into the buffer.
class seconds_buffer {
public:
    std::string_view format(std::uint64_t ns) noexcept
    {
        const auto whole = std::to_chars(buf_, buf_ + 21, ns / 1'000'000'000);
        char* end = whole.ptr;
        std::uint64_t frac = ns % 1'000'000'000;
        if (frac != 0) {
            *end = '.';
            for (std::size_t i = 9; i >= 1; --i) {
                end[i] = static_cast<char>('0' + frac % 10);
                frac /= 10;
            }
            end += 10;
            while (end[-1] == '0')  // stops at a non-zero digit: the fraction was not 0
                --end;
        }
        return std::string_view(buf_, static_cast<std::size_t>(end - buf_));
    }

private:
    char buf_[32];  // 20 digits, '.', 9 digits
};

inline void write_seconds(std::ostream& out, std::uint64_t ns)
{
    seconds_buffer b;
    out << b.format(ns);
}

// The family header: # HELP and # TYPE.
inline void write_family(std::ostream& out, std::string_view name, std::string_view type,
                         std::string_view help)
{
    out << "# HELP " << name << ' ';
    write_help_text(out, help);
    out << "\n# TYPE " << name << ' ' << type << '\n';
}

// A label and its value, as written inside the braces.
struct label {
    std::string_view name;
    std::string_view value;
};

// `name{pool="...",key="...",<extra...>} ` (key only when not empty); the caller writes the
// value and the line feed.
inline void write_series(std::ostream& out, std::string_view name, std::string_view pool,
                         std::string_view key, std::initializer_list<label> extra = {})
{
    out << name << "{pool=\"";
    write_label_value(out, pool);
    out << '"';
    if (!key.empty()) {
        out << ",key=\"";
        write_label_value(out, key);
        out << '"';
    }
    for (const label& l : extra) {
        out << ',' << l.name << "=\"";
        write_label_value(out, l.value);
        out << '"';
    }
    out << "} ";
}

}  // namespace connpool::detail::prometheus_text

#endif
