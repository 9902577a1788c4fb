// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
//
// stable_array: the storage of the pool's slots and links grows without moving an element.

#include <connpool/detail/idle/stable_array.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using connpool::detail::stable_array;

TEST_CASE("stable_array rounds its first segment up to a power of two", "[idle][stable_array]")
{
    CHECK(stable_array<int>(0).capacity() == 1);
    CHECK(stable_array<int>(1).capacity() == 1);
    CHECK(stable_array<int>(5).capacity() == 8);
    CHECK(stable_array<int>(16).capacity() == 16);
}

TEST_CASE("stable_array keeps every element in place while it grows", "[idle][stable_array]")
{
    stable_array<std::uint32_t> a(3);
    std::vector<std::uint32_t*> where;
    for (std::uint32_t i = 0; i < a.capacity(); ++i) {
        a[i] = i;
        where.push_back(&a[i]);
    }
    for (std::uint32_t target : {5u, 9u, 100u, 1000u, 5000u}) {
        const std::uint32_t before = a.grow(target);
        CHECK(before == where.size());
        REQUIRE(a.capacity() >= target);
        CHECK(a.capacity() <= 2 * target);  // doubling: never more than twice what was asked
        for (std::uint32_t i = before; i < a.capacity(); ++i) {
            CHECK(a[i] == 0);  // new elements are value-initialised
            a[i] = i;
            where.push_back(&a[i]);
        }
    }
    for (std::uint32_t i = 0; i < a.capacity(); ++i) {
        REQUIRE(&a[i] == where[i]);  // no element moved
        REQUIRE(a[i] == i);          // and each index names its own element
    }
}

TEST_CASE("stable_array grows by nothing when it is large enough", "[idle][stable_array]")
{
    stable_array<int> a(8);
    CHECK(a.grow(4) == 8);
    CHECK(a.capacity() == 8);
    CHECK(a.grow(8) == 8);
    CHECK(a.capacity() == 8);
}
