// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTS_SUPPORT_KEYED_FAKE_FACTORY_HPP
#define CONNPOOL_TESTS_SUPPORT_KEYED_FAKE_FACTORY_HPP

/// \file keyed_fake_factory.hpp
/// A keyed factory (for keyed_pool) over the test kit's fake backend: one backend serves every
/// key, so that the kit's invariants hold of a keyed pool's stats() (the keys summed), and a
/// key_log records the key of each connect.

#include <connpool/testing/fake_factory.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace connpool::test {

// The keys connected to, in call order. Thread-safe.
class key_log {
public:
    void add(const std::string& key)
    {
        std::lock_guard lk(mtx_);
        keys_.push_back(key);
    }
    std::vector<std::string> keys() const
    {
        std::lock_guard lk(mtx_);
        return keys_;
    }
    std::size_t connects_of(const std::string& key) const
    {
        std::lock_guard lk(mtx_);
        std::size_t n = 0;
        for (const auto& k : keys_)
            n += k == key ? 1 : 0;
        return n;
    }

private:
    mutable std::mutex mtx_;
    std::vector<std::string> keys_;
};

// A keyed factory over one fake backend: async_connect(key, token) records the key and connects
// as the kit's fake_factory does; the optional members exist as the kit's parameters say.
template <bool Ping = false, bool Reset = false, bool Health = false>
class keyed_fake_factory
    : public testing::fake_detail::ping_part<keyed_fake_factory<Ping, Reset, Health>, Ping>,
      public testing::fake_detail::reset_part<keyed_fake_factory<Ping, Reset, Health>, Reset>,
      public testing::fake_detail::health_part<keyed_fake_factory<Ping, Reset, Health>, Health> {
public:
    keyed_fake_factory(boost::asio::any_io_executor ex, std::shared_ptr<testing::fake_backend> b,
                       std::shared_ptr<key_log> log)
        : ex_(std::move(ex)), backend_(std::move(b)), log_(std::move(log))
    {
    }

    template <class Token>
    auto async_connect(const std::string& key, Token&& token)
    {
        log_->add(key);
        return backend_->async_connect(ex_, std::forward<Token>(token));
    }

    const std::shared_ptr<testing::fake_backend>& backend() const noexcept { return backend_; }
    const boost::asio::any_io_executor& executor() const noexcept { return ex_; }

private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<testing::fake_backend> backend_;
    std::shared_ptr<key_log> log_;
};

}  // namespace connpool::test

#endif
