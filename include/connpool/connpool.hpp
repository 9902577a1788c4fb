// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_CONNPOOL_HPP
#define CONNPOOL_CONNPOOL_HPP

/// \file connpool.hpp
/// Everything connpool offers.

#include <connpool/blocking_factory.hpp>
#include <connpool/connection_limit.hpp>
#include <connpool/coro_factory.hpp>
#include <connpool/error.hpp>
#include <connpool/factory.hpp>
#include <connpool/histogram.hpp>
#include <connpool/keyed_pool.hpp>
#include <connpool/observer.hpp>
#include <connpool/pool.hpp>
#include <connpool/pool_options.hpp>
#include <connpool/pooled.hpp>
#include <connpool/prometheus.hpp>
#include <connpool/stats.hpp>

#endif
