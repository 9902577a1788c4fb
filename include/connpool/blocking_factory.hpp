// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BLOCKING_FACTORY_HPP
#define CONNPOOL_BLOCKING_FACTORY_HPP

/// \file blocking_factory.hpp
/// blocking_factory: a blocking driver (libpq's PQconnectdb, a vendor SDK) as a connection
/// factory, its calls run on threads of its own.

#include <connpool/detail/adapters/blocking_call_tracker.hpp>
#include <connpool/detail/adapters/blocking_driver.hpp>
#include <connpool/detail/adapters/to_error_code.hpp>
#include <connpool/error.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <memory>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace connpool {

/// Adapts a blocking driver to the connection_factory concept. Each driver call runs on one of the
/// adapter's own threads (an asio::thread_pool, shared by copies of the adapter) and completes on
/// the executor associated with the pool's handler, so the pool's executor never blocks.
///
/// Driver requirements (the connection type must be default-constructible: a failed connect
/// completes with a default-constructed one):
///   Conn connect();                      required; throws on failure
///   void ping(Conn&);                    optional; throws on failure -> async_ping
///   void reset(Conn&);                   optional; throws on failure -> async_reset
///   bool is_healthy(const Conn&) const;  optional                    -> is_healthy
///   bool is_permanent_error(const error_code&) const;  optional     -> is_permanent_error
/// A thrown boost::system::system_error or std::system_error keeps its code; anything else is
/// reported as errc::factory_error. connect() may run on several threads at once.
template <class Driver>
class blocking_factory : public detail::blocking_ping<blocking_factory<Driver>, Driver>,
                         public detail::blocking_reset<blocking_factory<Driver>, Driver>,
                         public detail::blocking_health<blocking_factory<Driver>, Driver>,
                         public detail::blocking_permanence<blocking_factory<Driver>, Driver> {
    static_assert(detail::blocking_driver<Driver>,
                  "connpool::blocking_factory: Driver needs `Conn connect()` returning a "
                  "default-constructible connection type");

public:
    using connection_type = std::decay_t<decltype(std::declval<Driver&>().connect())>;

    /// `threads`: how many blocking calls may run at once (at least 1).
    explicit blocking_factory(Driver driver, std::size_t threads = 2)
        : state_(std::make_shared<state>(std::move(driver), threads == 0 ? 1 : threads))
    {
    }

    Driver& driver() noexcept { return state_->driver; }
    const Driver& driver() const noexcept { return state_->driver; }

    /// Completion signature: void(error_code, connection_type).
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, connection_type)>(
            [st = state_](auto handler) {
                run(*st, std::move(handler), [st] {
                    connection_type c{};
                    error_code ec = detail::call_capturing([&] { c = st->driver.connect(); });
                    return std::make_pair(ec, std::move(c));
                });
            },
            token);
    }

    // async_ping, async_reset, is_healthy and is_permanent_error come from the bases in
    // detail/adapters/blocking_driver.hpp,
    // each present only when Driver has the matching member (the pool detects the factory's
    // optional members by name, so a member that exists must also work).

private:
    template <class, class, bool>
    friend struct detail::blocking_ping;
    template <class, class, bool>
    friend struct detail::blocking_reset;
    template <class, class, bool>
    friend struct detail::blocking_health;
    template <class, class, bool>
    friend struct detail::blocking_permanence;

    struct state {
        state(Driver d, std::size_t threads)
            : driver(std::move(d)), workers(std::make_unique<boost::asio::thread_pool>(threads))
        {
        }
        // Waits for the calls in flight. The last reference may go away on a worker itself (a
        // call whose completion outlived the factory), and a thread cannot join itself: then a
        // detached thread joins and destroys the workers once this one has returned.
        ~state()
        {
            if (!workers->get_executor().running_in_this_thread()) {
                workers->join();
                return;
            }
            // Not stop(): work already posted to the workers (a completion whose handler has no
            // executor of its own runs there) must still run. join() lets it finish first.
            try {
                std::thread([w = std::move(workers)]() mutable {
                    w->join();
                    w.reset();
                }).detach();
            } catch (...) {
                (void)workers.release();  // no thread to join them: leak rather than crash
            }
        }
        Driver driver;
        std::unique_ptr<boost::asio::thread_pool> workers;
    };

    // Runs `work` (returning the completion arguments) on a worker thread, then completes
    // `handler` on its associated executor, keeping that executor busy meanwhile. The call is
    // tied to the shutdown of that executor's context (see blocking_call_tracker): destroying
    // the io_context waits for the call to return, and the completion is then dropped.
    template <class Handler, class Work>
    static void run(state& st, Handler handler, Work work)
    {
        auto plain = boost::asio::get_associated_executor(handler, st.workers->get_executor());
        detail::blocking_call_tracker* tracker = detail::tracker_for(plain);
        if (tracker && !tracker->begin())
            return;  // the context is shutting down: the handler is destroyed, never invoked
        // The handler's executor counts this call as outstanding work until it completes.
        auto ex = boost::asio::prefer(plain, boost::asio::execution::outstanding_work.tracked);
        boost::asio::post(*st.workers, [handler = std::move(handler), ex = std::move(ex),
                                        work = std::move(work), tracker]() mutable {
            {
                auto h = std::move(handler);
                auto e = std::move(ex);
                auto result = work();
                auto post_completion = [&] {
                    std::apply(
                        [&](auto&&... args) {
                            boost::asio::post(
                                e, boost::asio::append(std::move(h), std::move(args)...));
                        },
                        std::move(result));
                };
                if (!tracker)
                    post_completion();
                else
                    tracker->deliver(post_completion);
            }  // h, e and the result are destroyed here, before the tracker lets shutdown go on
            if (tracker)
                tracker->end();
        });
    }

    template <class Call, class CompletionToken>
    auto async_status_call(connection_type& conn, Call call, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [st = state_, &conn, call](auto handler) {
                run(*st, std::move(handler), [st, &conn, call] {
                    return std::make_tuple(detail::call_capturing([&] { call(st->driver, conn); }));
                });
            },
            token);
    }

    std::shared_ptr<state> state_;
};

}  // namespace connpool

#endif
