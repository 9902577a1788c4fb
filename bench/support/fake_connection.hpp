// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_FAKE_CONNECTION_HPP
#define CONNPOOL_BENCH_SUPPORT_FAKE_CONNECTION_HPP

#include <cstdint>

namespace connpool_bench {

// What every pool of the comparison lends: a connection that is just an id. Nothing is sent
// anywhere: the benchmarks measure the pools, not a backend.
struct fake_connection {
    std::uint64_t id = 0;
};

}  // namespace connpool_bench

#endif
