// EXPECT: member named is_healthy.*bool is_healthy\(const Connection&\)
// is_healthy taking a non-const connection cannot be called on the const connection the pool
// passes, so health checks would silently be off: the pool must reject it.
#include "factory_parts.hpp"

struct bad_factory : connect_only_factory {
#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    bool is_healthy(const int& c) const { return c != 0; }
#else
    bool is_healthy(int& c) const { return c != 0; }
#endif
};

int main()
{
    return make_pool_with<bad_factory>();
}
