// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_HPP
#define CONNPOOL_POSTGRES_HPP

/// \file postgres.hpp
/// A PostgreSQL adapter on libpq and Boost.Asio: `postgres::connection` (asynchronous connect,
/// queries, ping, reset), `postgres::factory` (the pool's connection_factory, with async_ping,
/// async_reset, is_healthy and is_permanent_error) and errors as `error_code`s in two
/// categories: `postgres.sqlstate` (the server's SQLSTATE) and `postgres.client` (libpq-level
/// failures), with the server's message in a `postgres::diagnostics`. A failed connect's
/// error_code carries libpq's text in its message() (see libpq_message()).
///
/// Link the CMake target `connpool::postgres` (it adds libpq). The umbrella header
/// <connpool/connpool.hpp> does not include this one.
///
/// This header includes every public header of the adapter, one concern each:
///   postgres/error.hpp        client_errc, the two categories, sqlstate_of, is_connection_error,
///                             libpq_message (needs no libpq)
///   postgres/diagnostics.hpp  diagnostics (needs no libpq)
///   postgres/result.hpp       result (owns a PGresult) and params
///   postgres/connection.hpp   connection
///   postgres/factory.hpp      factory, factory_options, pool<>
///
/// How the I/O works: libpq runs in non-blocking mode and connpool waits for its socket with a
/// `boost::asio::posix::stream_descriptor` that does not own the descriptor and is registered
/// only for the duration of one wait (see postgres/detail/connection_state.hpp). Outside an
/// operation a connection holds no Asio object at all, so an idle connection may outlive its
/// io_context.
///
/// Limits: name resolution in PQconnectStart/PQconnectPoll is blocking (use numeric host
/// addresses, or `hostaddr=`, where a DNS stall matters); COPY is not supported (a COPY result
/// fails with client_errc::unsupported and breaks the connection); results are in text format.

#include <connpool/postgres/connection.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>
#include <connpool/postgres/factory.hpp>
#include <connpool/postgres/result.hpp>

#endif
