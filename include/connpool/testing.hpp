// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_TESTING_HPP
#define CONNPOOL_TESTING_HPP

/// \file testing.hpp
/// The test kit: what connpool's own unit tests use, for testing your code against a pool
/// without a server and without sleeps. Namespace `connpool::testing`; no test framework needed.
///
/// - `<connpool/testing/manual_clock.hpp>`: `manual_clock` (the pool's Clock in tests),
///   `manual_clock_guard`, and `advance(ioc, d)` / `run_due(ioc)`, which fire every timer due by
///   the manual clock (with epoll or select, no macro needed).
/// - `<connpool/testing/fake_factory.hpp>`: `fake_backend` (scripted outcomes and delays of
///   connect, ping, reset, is_healthy and is_permanent_error; counts of calls and of live
///   connections), `fake_connection`, `fake_factory<Ping, Reset, Health, Permanent>`.
/// - `<connpool/testing/invariants.hpp>`: `check_invariants(pool, backend)` and
///   `require_invariants`, over `stats()` and the fake's counts.
///
/// Not included by `<connpool/connpool.hpp>`. See README.md, "Testing your code against the
/// pool", and examples/testing_my_service.cpp.

#include <connpool/testing/fake_factory.hpp>
#include <connpool/testing/invariants.hpp>
#include <connpool/testing/manual_clock.hpp>

#endif
