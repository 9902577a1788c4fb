// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_UNIT_CORE_FAKE_CLOCK_HPP
#define CONNPOOL_TESTS_UNIT_CORE_FAKE_CLOCK_HPP

// A clock for the sans-io core's tests: nobody reads it, the tests make its time points by hand
// (`at(1500ms)`) and pass them to the decisions, which take the time as an argument.

#include <chrono>

namespace connpool::test::core {

struct fake_clock {
    using duration = std::chrono::milliseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<fake_clock>;
    static constexpr bool is_steady = true;
    static time_point now() noexcept { return time_point{}; }
};

// The time point `t` after the fake clock's epoch.
inline fake_clock::time_point at(std::chrono::milliseconds t)
{
    return fake_clock::time_point(t);
}

}  // namespace connpool::test::core

#endif
