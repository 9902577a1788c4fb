// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_RUN_UNTIL_HPP
#define CONNPOOL_TESTS_SUPPORT_RUN_UNTIL_HPP

/// \file run_until.hpp
/// Driving an io_context from a test without sleeping.

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <thread>

namespace connpool::test {

/// Runs every handler that is ready now (including handlers those handlers post and timers that
/// are due), until the io_context is quiescent. Restarts a stopped io_context first.
inline std::size_t poll_all(boost::asio::io_context& ioc)
{
    std::size_t total = 0;
    for (int round = 0; round < 1000; ++round) {
        if (ioc.stopped())
            ioc.restart();
        const std::size_t n = ioc.poll();
        total += n;
        if (n == 0)
            break;
    }
    return total;
}

/// Polls `ioc` until `pred()` holds or `max_polls` polls have been made. Never sleeps.
/// Returns pred().
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred pred, std::size_t max_polls = 1000)
{
    for (std::size_t i = 0; i < max_polls; ++i) {
        if (pred())
            return true;
        if (ioc.stopped())
            ioc.restart();
        ioc.poll_one();
    }
    return pred();
}

/// For tests with real threads: waits (yielding, then sleeping briefly) until `pred()` holds or
/// `limit` has passed. Returns pred(). A bound against hangs, never a timing assertion.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int spins = 0;; ++spins) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return pred();
        if (spins < 100)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

}  // namespace connpool::test

#endif
