// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_POOL_FWD_HPP
#define CONNPOOL_DETAIL_POOL_FWD_HPP

// What the parts of the engine (acquire/, io/) need to name the pool they belong to. Each part
// is a base class of pool_impl that reaches the pool's state through pool(): the parts are
// separate headers with no virtual call between them (the fast-path budgets).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/strand.hpp>

#include <utility>

namespace connpool::detail {

template <class Connection, class Factory, class Clock>
class pool_impl;

using pool_executor = boost::asio::any_io_executor;
// Every call into the factory and every timer of a pool runs on its strand.
using pool_strand = boost::asio::strand<pool_executor>;
template <class Clock>
using pool_timer =
    boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, pool_strand>;

// The pool's executor and its strand: the first base of pool_impl, so that the parts' timers,
// constructed before pool_impl's own members, are bound to the one strand.
struct pool_executors {
    // `strand`: a strand of `ex`, the pool's own or one shared with other pools (the keys of a
    // keyed_pool share their factory, which is then called on one strand at a time, as a pool's
    // own factory is).
    pool_executors(pool_executor ex, pool_strand strand)
        : ex_(std::move(ex)), strand_(std::move(strand))
    {
    }
    pool_executor ex_;
    pool_strand strand_;
};

// The base of every part: the pool it is a part of. `Part` only makes each part's base a type
// of its own, so that the cast below has one path.
template <template <class, class, class> class Part, class Connection, class Factory, class Clock>
class pool_part {
protected:
    using pool_type = pool_impl<Connection, Factory, Clock>;
    pool_type& pool() noexcept { return static_cast<pool_type&>(*this); }
    const pool_type& pool() const noexcept { return static_cast<const pool_type&>(*this); }
};

}  // namespace connpool::detail

#endif
