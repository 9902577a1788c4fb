// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
// The PostgreSQL adapter's headers that need no libpq, for the unit tests (which build without
// it), and the check that they stay that way.
#ifndef CONNPOOL_TESTS_UNIT_POSTGRES_LIBPQ_FREE_HPP
#define CONNPOOL_TESTS_UNIT_POSTGRES_LIBPQ_FREE_HPP

#include <connpool/postgres/detail/connect_error.hpp>
#include <connpool/postgres/detail/sqlstate.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>

#ifdef LIBPQ_FE_H
#error                                                                                             \
    "postgres/error.hpp, diagnostics.hpp and detail/{sqlstate,connect_error}.hpp must not include <libpq-fe.h>"
#endif

#include <connpool/error.hpp>

namespace postgres = connpool::postgres;
using connpool::error_code;
using postgres::client_errc;
using postgres::make_sqlstate_error;

#endif
