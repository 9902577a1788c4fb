// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// SOCI's connection pool (soci::connection_pool, SOCI 4.0.3 in Debian 12) in the blocking
// scenarios. Its sessions are created with the pool and never opened: only the pool is measured.
// lease() waits without a deadline; the timed try_lease(pos, ms) would read gettimeofday() on
// every call, a cost SOCI's plain lease() does not pay, so the peer gets the cheaper call.

#include "../register.hpp"
#include "../support/blocking_harness.hpp"

#include <soci/connection-pool.h>

#include <cstddef>

namespace connpool_bench {
namespace {

class soci_pool {
public:
    struct lease {
        std::size_t pos = 0;
        bool valid = false;
    };
    static constexpr const char* name = "soci";

    explicit soci_pool(std::size_t connections) : pool_(connections) {}

    lease acquire() { return {pool_.lease(), true}; }
    void release(lease& l)
    {
        pool_.give_back(l.pos);
        l.valid = false;
    }
    static bool ok(const lease& l) noexcept { return l.valid; }

private:
    soci::connection_pool pool_;
};

}  // namespace

void register_soci_blocking(const blocking_scenario& sc)
{
    register_blocking<soci_pool>(sc);
}

}  // namespace connpool_bench
