// EXPECT: member named is_permanent_error.*is_permanent_error\(const error_code&\) const
// is_permanent_error must be callable on a const factory; a non-const one would silently never
// classify a connect error as permanent: the pool must reject it.
#include "factory_parts.hpp"

struct bad_factory : connect_only_factory {
#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    bool is_permanent_error(const boost::system::error_code& ec) const { return ec.value() == 1; }
#else
    bool is_permanent_error(const boost::system::error_code& ec) { return ec.value() == 1; }
#endif
};

int main()
{
    return make_pool_with<bad_factory>();
}
