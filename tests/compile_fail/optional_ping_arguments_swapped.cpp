// EXPECT: member named async_ping.*async_ping\(Connection&, CompletionToken&&\)
// A factory whose async_ping takes its arguments in the wrong order would silently lose
// validation and keepalive: the pool must reject it and name the signature it expects.
#include "factory_parts.hpp"

struct bad_factory : connect_only_factory {
    template <class CompletionToken>
#ifdef CONNPOOL_COMPILE_FAIL_CONTROL
    auto async_ping(int&, CompletionToken&& token)
#else
    auto async_ping(CompletionToken&& token, int&)
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
