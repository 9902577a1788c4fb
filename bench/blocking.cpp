// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Blocking acquire/release, T threads x P connections, hold W (support/blocking_harness.hpp), for
// every pool of the comparison. For each scenario the peers run first, then connpool, whose
// benchmark reports vs_<peer> ratios. In a few scenarios connpool runs once more with
// pool_options::measure_use_time (connpool_use_time, ratio vs_connpool): the use-time
// histogram's cost.

#include "peers/mutex_cv_pool.hpp"
#include "register.hpp"
#include "support/blocking_harness.hpp"
#include "support/connpool_adapter.hpp"

#include <string>
#include <vector>

namespace connpool_bench {

void register_blocking()
{
    std::vector<std::string> peers{mutex_cv_pool::name};
#if CONNPOOL_BENCH_HAVE_SOCI
    peers.emplace_back("soci");
#endif
#if CONNPOOL_BENCH_HAVE_POCO
    peers.emplace_back("poco");
#endif
    for (const blocking_scenario& sc : blocking_scenarios()) {
        register_blocking<mutex_cv_pool>(sc);
#if CONNPOOL_BENCH_HAVE_SOCI
        register_soci_blocking(sc);
#endif
#if CONNPOOL_BENCH_HAVE_POCO
        register_poco_blocking(sc);
#endif
        register_blocking<connpool_blocking>(sc, peers);
        if (sc.work.count() == 0 && (sc.threads == 1 || sc.threads == 2 || sc.threads == 16))
            register_blocking<connpool_use_time_blocking>(sc, {connpool_blocking::name});
    }
}

}  // namespace connpool_bench
