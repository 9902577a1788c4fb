// The try_acquire and blocking fast paths allocate nothing (design budget), checked by counting
// every operator new made on the calling thread.
#include <connpool/connpool.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
thread_local std::size_t allocations_on_this_thread = 0;
}  // namespace

// Replacements of the global allocation functions for this test executable: counting only.
// (g++ 12 takes the malloc/free pair behind a replaced operator new/delete for a mismatch.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
void* counted_alloc(std::size_t n, std::size_t align = 0) noexcept
{
    ++allocations_on_this_thread;
    if (n == 0)
        n = 1;
    if (align <= alignof(std::max_align_t))
        return std::malloc(n);
    return std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* counted_alloc_or_throw(std::size_t n, std::size_t align = 0)
{
    if (void* p = counted_alloc(n, align))
        return p;
    throw std::bad_alloc();
}
}  // namespace

// Every form, so that all of the program's allocations pair with free() (ASan checks pairs).
void* operator new(std::size_t n)
{
    return counted_alloc_or_throw(n);
}
void* operator new[](std::size_t n)
{
    return counted_alloc_or_throw(n);
}
void* operator new(std::size_t n, std::align_val_t a)
{
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a)
{
    return counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
    return counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}

namespace {
namespace asio = boost::asio;

struct tiny_connection {
    int id = 0;
};

// Connects at once (through the handler's executor); no ping, no reset.
struct instant_factory {
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(connpool::error_code, tiny_connection)>(
            [](auto handler) {
                auto ex = asio::get_associated_executor(handler);
                asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(connpool::error_code{}, tiny_connection{7});
                });
            },
            token);
    }
};

template <class F>
std::size_t allocations_during(F&& f)
{
    const std::size_t before = allocations_on_this_thread;
    f();
    return allocations_on_this_thread - before;
}
}  // namespace

TEST_CASE("try_acquire and release allocate nothing once connections are idle", "[fast_path]")
{
    asio::io_context ctx;
    connpool::pool<tiny_connection, instant_factory> pool(ctx.get_executor(), instant_factory{},
                                                          {.min_size = 2, .max_size = 2});
    ctx.poll();
    REQUIRE(pool.stats().idle == 2);

    const std::size_t n = allocations_during([&] {
        for (int i = 0; i < 1000; ++i) {
            auto lease = pool.try_acquire();
            REQUIRE(lease);
            CHECK((*lease)->id == 7);
        }
    });
    CHECK(n == 0);
    CHECK(pool.stats().acquired == 1000);
}

TEST_CASE("a blocking acquire served from the idle stack allocates nothing", "[fast_path]")
{
    asio::io_context ctx;
    connpool::pool<tiny_connection, instant_factory> pool(ctx.get_executor(), instant_factory{},
                                                          {.min_size = 1, .max_size = 1});
    ctx.poll();
    REQUIRE(pool.stats().idle == 1);

    const std::size_t n = allocations_during([&] {
        for (int i = 0; i < 1000; ++i) {
            auto lease = pool.acquire(std::chrono::seconds(1));
            CHECK(lease->id == 7);
        }
    });
    CHECK(n == 0);
}
