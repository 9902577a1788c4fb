// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_RANDOM_HPP
#define CONNPOOL_DETAIL_CORE_RANDOM_HPP

// The random draws the decisions take as arguments (backoff and lifetime jitter).

#include <random>

namespace connpool::detail {

// Draws in [0, 1); each pool has its own generator, used under its mutex.
class jitter_source {
public:
    jitter_source() : gen_(std::random_device{}()) {}
    double operator()() noexcept { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }

private:
    std::minstd_rand gen_;
};

}  // namespace connpool::detail

#endif
