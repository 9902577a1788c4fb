// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_IO_RUNNER_HPP
#define CONNPOOL_TESTS_SUPPORT_IO_RUNNER_HPP

/// \file io_runner.hpp
/// Runs an io_context on background threads for the tests that need real threads (blocking
/// acquire, use_future, stress). Kept busy by a work guard until stop() or destruction, which
/// join the threads and leave the io_context restarted, ready to be polled by the test thread.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

namespace connpool::test {

class io_runner {
public:
    explicit io_runner(boost::asio::io_context& ioc, std::size_t threads = 1) : ioc_(ioc)
    {
        if (ioc_.stopped())
            ioc_.restart();
        work_.emplace(ioc_.get_executor());
        for (std::size_t i = 0; i < threads; ++i)
            threads_.emplace_back([this] { ioc_.run(); });
    }
    io_runner(const io_runner&) = delete;
    io_runner& operator=(const io_runner&) = delete;
    ~io_runner() { stop(); }

    /// Lets the threads finish the work that is ready, stops them and joins them.
    void stop()
    {
        if (threads_.empty())
            return;
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_)
            t.join();
        threads_.clear();
        ioc_.restart();
    }

    bool runs_here() const
    {
        for (const auto& t : threads_)
            if (t.get_id() == std::this_thread::get_id())
                return true;
        return false;
    }

private:
    boost::asio::io_context& ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
};

}  // namespace connpool::test

#endif
