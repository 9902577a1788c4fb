// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_REGISTER_HPP
#define CONNPOOL_BENCH_REGISTER_HPP

// Each file of the suite registers its benchmarks; main() calls these in the order they run.

#include "support/blocking_harness.hpp"

namespace connpool_bench {

void register_fast_path();  // fast_path.cpp
void register_blocking();   // blocking.cpp
void register_async();      // async.cpp
void register_handoff();    // handoff.cpp
void register_keyed();      // keyed.cpp

// The peers that are built (bench/CMakeLists.txt finds them): register one blocking scenario.
#if CONNPOOL_BENCH_HAVE_SOCI
void register_soci_blocking(const blocking_scenario& sc);  // peers/soci_pool.cpp
#endif
#if CONNPOOL_BENCH_HAVE_POCO
void register_poco_blocking(const blocking_scenario& sc);  // peers/poco_pool.cpp
#endif

}  // namespace connpool_bench

#endif
