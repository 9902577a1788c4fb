// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_KEYED_BOUND_FACTORY_HPP
#define CONNPOOL_DETAIL_KEYED_BOUND_FACTORY_HPP

// The factory one key's pool sees: the keyed pool's factory with the key bound.
// async_connect(token) forwards to f.async_connect(key, token); each optional member (async_ping,
// async_reset, is_healthy, is_permanent_error) exists only when the keyed factory has it, so the
// pool's compile-time detection (factory.hpp) sees exactly the user's members. Every key's pool
// holds the same factory instance (a shared_ptr): the keys share one strand (see
// keyed_pool_impl.hpp), so its members are called one at a time, as a pool's own factory's are.

#include <connpool/error.hpp>
#include <connpool/factory.hpp>

#include <memory>
#include <utility>

namespace connpool::detail {

// The optional members, one base each, present only when the keyed factory has the member (an
// empty base otherwise). `Derived` reaches the keyed factory.
template <class Derived, class Connection, bool Present>
struct bound_ping {};
template <class Derived, class Connection>
struct bound_ping<Derived, Connection, true> {
    template <class CompletionToken>
    auto async_ping(Connection& conn, CompletionToken&& token)
    {
        return static_cast<Derived&>(*this).keyed_factory().async_ping(
            conn, std::forward<CompletionToken>(token));
    }
};

template <class Derived, class Connection, bool Present>
struct bound_reset {};
template <class Derived, class Connection>
struct bound_reset<Derived, Connection, true> {
    template <class CompletionToken>
    auto async_reset(Connection& conn, CompletionToken&& token)
    {
        return static_cast<Derived&>(*this).keyed_factory().async_reset(
            conn, std::forward<CompletionToken>(token));
    }
};

template <class Derived, class Connection, bool Present>
struct bound_is_healthy {};
template <class Derived, class Connection>
struct bound_is_healthy<Derived, Connection, true> {
    bool is_healthy(const Connection& conn) const
    {
        return static_cast<bool>(
            static_cast<const Derived&>(*this).keyed_factory().is_healthy(conn));
    }
};

template <class Derived, bool Present>
struct bound_is_permanent_error {};
template <class Derived>
struct bound_is_permanent_error<Derived, true> {
    bool is_permanent_error(const error_code& ec) const
    {
        const auto& keyed = std::as_const(static_cast<const Derived&>(*this).keyed_factory());
        return static_cast<bool>(keyed.is_permanent_error(ec));
    }
};

template <class Key, class Connection, class Factory>
class bound_factory : public bound_ping<bound_factory<Key, Connection, Factory>, Connection,
                                        factory_has_async_ping<Factory, Connection>>,
                      public bound_reset<bound_factory<Key, Connection, Factory>, Connection,
                                         factory_has_async_reset<Factory, Connection>>,
                      public bound_is_healthy<bound_factory<Key, Connection, Factory>, Connection,
                                              factory_has_is_healthy<Factory, Connection>>,
                      public bound_is_permanent_error<bound_factory<Key, Connection, Factory>,
                                                      factory_has_is_permanent_error<Factory>> {
public:
    bound_factory(std::shared_ptr<Factory> keyed, Key key)
        : keyed_(std::move(keyed)), key_(std::move(key))
    {
    }

    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return keyed_->async_connect(std::as_const(key_), std::forward<CompletionToken>(token));
    }

    // Not const-propagating on purpose: the pool's detection asks for a Factory& (a factory's
    // members are non-const), and the keyed factory is shared, not part of this object's value.
    Factory& keyed_factory() const noexcept { return *keyed_; }
    const Key& key() const noexcept { return key_; }

private:
    std::shared_ptr<Factory> keyed_;
    Key key_;
};

}  // namespace connpool::detail

#endif
