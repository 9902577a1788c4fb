// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// Poco's object pool (Poco::ObjectPool, Poco 1.11 in Debian 12) in the blocking scenarios:
// borrowObject(timeout ms) / returnObject(), capacity = peak capacity = P, the P objects created
// (borrowed and returned once) before the round.

#include "../register.hpp"
#include "../support/blocking_harness.hpp"
#include "../support/fake_connection.hpp"

#include <Poco/ObjectPool.h>

#include <cstddef>
#include <vector>

namespace connpool_bench {
namespace {

class poco_pool {
public:
    using lease = fake_connection*;
    static constexpr const char* name = "poco";

    explicit poco_pool(std::size_t connections) : pool_(connections, connections)
    {
        std::vector<lease> all;
        for (std::size_t i = 0; i < connections; ++i)
            all.push_back(pool_.borrowObject());
        for (lease c : all)
            pool_.returnObject(c);
    }

    lease acquire() { return pool_.borrowObject(30'000); }
    void release(lease& c)
    {
        pool_.returnObject(c);
        c = nullptr;
    }
    static bool ok(lease c) noexcept { return c != nullptr; }

private:
    Poco::ObjectPool<fake_connection> pool_;
};

}  // namespace

void register_poco_blocking(const blocking_scenario& sc)
{
    register_blocking<poco_pool>(sc);
}

}  // namespace connpool_bench
