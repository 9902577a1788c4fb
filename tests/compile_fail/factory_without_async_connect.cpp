// EXPECT: async_connect
// A factory with no async_connect is not a connection_factory: pool<int, bad_factory> must be
// rejected by the concept, and the diagnostic must name the missing member.
#include "factory_parts.hpp"

#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
// The control: the same program with the member present compiles.
struct bad_factory : connect_only_factory {};
#else
struct bad_factory {};
#endif

int main()
{
    return make_pool_with<bad_factory>();
}
