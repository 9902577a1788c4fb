// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_COMPILE_FAIL_FACTORY_PARTS_HPP
#define CONNPOOL_TESTS_COMPILE_FAIL_FACTORY_PARTS_HPP

// What the compile-fail programs share: a factory whose async_connect works (it opens an int), to
// which each program adds one broken member, and a completion for the status operations.

#include <connpool/pool.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <utility>

// Completes `token` with `args...` through the handler's associated executor, never inline.
template <class Signature, class CompletionToken, class... Args>
auto complete_later(CompletionToken&& token, Args... args)
{
    return boost::asio::async_initiate<CompletionToken, Signature>(
        [](auto handler, Args... a) {
            auto ex = boost::asio::get_associated_executor(handler);
            boost::asio::post(ex, [h = std::move(handler), a...]() mutable { std::move(h)(a...); });
        },
        token, args...);
}

struct connect_only_factory {
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return complete_later<void(boost::system::error_code, int)>(
            std::forward<CompletionToken>(token), boost::system::error_code{}, 42);
    }
};

// Builds a pool of ints with `Factory`: where the compile errors (or their absence) show.
template <class Factory>
int make_pool_with()
{
    boost::asio::io_context ctx;
    connpool::pool<int, Factory> pool(ctx.get_executor(), Factory{});
    (void)pool;
    return 0;
}

#endif
