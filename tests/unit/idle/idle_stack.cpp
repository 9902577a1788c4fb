// The idle stack on one thread: LIFO order, take_all, both variants.
#include <connpool/detail/idle/idle_stack.hpp>

#include <catch2/catch.hpp>

#include <vector>

using connpool::detail::nil_index;

TEMPLATE_TEST_CASE("the idle stack hands back the most recently pushed index first", "[idle_stack]",
                   connpool::detail::lock_free_idle_stack, connpool::detail::mutex_idle_stack)
{
    TestType stack(8);
    CHECK(stack.empty());
    CHECK(stack.pop() == nil_index);
    stack.push(3);
    stack.push(5);
    stack.push(0);
    CHECK_FALSE(stack.empty());
    CHECK(stack.pop() == 0);
    CHECK(stack.pop() == 5);
    stack.push(7);
    CHECK(stack.pop() == 7);
    CHECK(stack.pop() == 3);
    CHECK(stack.pop() == nil_index);
    CHECK(stack.empty());
}

TEMPLATE_TEST_CASE("take_all detaches the whole stack, top first", "[idle_stack]",
                   connpool::detail::lock_free_idle_stack, connpool::detail::mutex_idle_stack)
{
    TestType stack(8);
    CHECK(stack.take_all() == nil_index);
    for (std::uint32_t i : {1u, 2u, 6u})
        stack.push(i);
    std::vector<std::uint32_t> chain;
    for (std::uint32_t i = stack.take_all(); i != nil_index; i = stack.next(i))
        chain.push_back(i);
    CHECK(chain == std::vector<std::uint32_t>{6, 2, 1});
    CHECK(stack.empty());
    stack.push(2);  // reusable after take_all
    CHECK(stack.pop() == 2);
}
