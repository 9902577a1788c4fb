// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_CORE_RANDOM_HPP
#define CONNPOOL_DETAIL_CORE_RANDOM_HPP

// The random draws the decisions take as arguments (backoff and lifetime jitter).

#include <cstdint>
#include <random>

namespace connpool::detail {

// A seed for a new generator: from a generator of the calling thread, itself seeded once per
// thread by std::random_device. A random_device per generator cost ~40 us on the development
// machine (a VM whose rdrand is slow), paid by every pool created: a keyed_pool creates one per
// new key, under its map's exclusive lock.
inline std::uint32_t next_jitter_seed()
{
    thread_local std::minstd_rand seeds(std::random_device{}());
    return static_cast<std::uint32_t>(seeds());
}

// Draws in [0, 1); each pool has its own generator, used under its mutex.
class jitter_source {
public:
    jitter_source() : gen_(next_jitter_seed()) {}
    double operator()() noexcept { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }

private:
    std::minstd_rand gen_;
};

}  // namespace connpool::detail

#endif
