// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_STRESS_SCALE_HPP
#define CONNPOOL_TESTS_SUPPORT_STRESS_SCALE_HPP

/// \file stress_scale.hpp
/// How much longer the stress tests run: CONNPOOL_STRESS_SCALE (environment), a positive factor
/// on their iteration counts; 1 when unset or not a positive number.

#include <cstdlib>

namespace connpool::test {

inline int stress_scale()
{
    static const int scale = [] {
        const char* v = std::getenv("CONNPOOL_STRESS_SCALE");
        const int n = v ? std::atoi(v) : 1;
        return n > 0 ? n : 1;
    }();
    return scale;
}

}  // namespace connpool::test

#endif
