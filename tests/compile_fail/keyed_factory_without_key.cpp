// EXPECT: keyed_factory_has_async_connect
// A pool's factory (async_connect(token), without the key) is not a keyed factory: keyed_pool
// must reject it, and the diagnostic must name the requirement it misses (async_connect(key, ...)).
#include "factory_parts.hpp"

#include <connpool/keyed_pool.hpp>

#include <string>
#include <utility>

#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
// The control: the same program with async_connect taking the key compiles.
struct keyed_factory {
    template <class CompletionToken>
    auto async_connect(const std::string&, CompletionToken&& token)
    {
        return connect_only_factory{}.async_connect(std::forward<CompletionToken>(token));
    }
};
#else
using keyed_factory = connect_only_factory;
#endif

int main()
{
    boost::asio::io_context ctx;
    connpool::keyed_pool<std::string, int, keyed_factory> pool(ctx.get_executor(), keyed_factory{});
    (void)pool;
    return 0;
}
