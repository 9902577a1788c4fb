// EXPECT: member named async_reset.*async_reset\(Connection&, CompletionToken&&\)
// A factory whose async_reset takes another connection type would silently never reset
// returned connections: the pool must reject it and name the signature it expects.
#include "factory_parts.hpp"

struct bad_factory : connect_only_factory {
    template <class CompletionToken>
#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    auto async_reset(int&, CompletionToken&& token)
#else
    auto async_reset(long&, CompletionToken&& token)
#endif
    {
        return complete_later<void(boost::system::error_code)>(std::forward<CompletionToken>(token),
                                                               boost::system::error_code{});
    }
};

int main()
{
    return make_pool_with<bad_factory>();
}
