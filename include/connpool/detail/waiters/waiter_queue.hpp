// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_WAITERS_WAITER_QUEUE_HPP
#define CONNPOOL_DETAIL_WAITERS_WAITER_QUEUE_HPP

// The FIFO of acquirers waiting for a connection: an intrusive doubly linked list, so that
// enqueueing allocates nothing and a timed-out or cancelled waiter leaves from the middle in O(1).
// Beside it, the deadlines of the queued async waiters, ordered by time (an intrusive red-black
// tree, no allocation either): one pool timer serves them all, armed for the earliest. A deadline
// is registered under the same mutex as the queue, so it cannot fire before its waiter is queued,
// and costs no timer of its own (no reactor registration per waiter).
// Every member is used under the pool's mutex.

#include <connpool/call_site.hpp>
#include <connpool/detail/idle/slot.hpp>

#include <boost/intrusive/set.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace connpool::detail {

// A waiting acquirer: an async operation (async_acquire_op) or a blocked thread
// (blocking_acquire::sync_waiter). Whoever unlinks it from the queue (a returner handing it a
// connection, its deadline, its cancellation, close()) owns its completion: it fills in the
// result under the mutex, then calls notify() after unlocking.
template <class Connection>
struct waiter {
    using notify_fn = void (*)(waiter*) noexcept;

    explicit waiter(notify_fn n) noexcept : notify(n) {}

    static constexpr std::int64_t no_deadline = INT64_MAX;

    waiter* prev = nullptr;
    waiter* next = nullptr;

    slot<Connection>* result_slot = nullptr;  // the connection handed over, or
    boost::system::error_code result_ec;      // why there is none
    std::int64_t enqueued_at = 0;             // Clock ticks, for pool_stats::total_wait_time
    std::int64_t deadline = no_deadline;      // Clock ticks; the pool's timer expires it
    boost::intrusive::set_member_hook<boost::intrusive::optimize_size<true>> deadline_hook;
    notify_fn notify;
    call_site where;  // the acquire's call site: its lease's (leak reports, observer)

    bool linked = false;
    bool decided = false;  // enqueue() has queued or refused it
    // The cancellation slot is connected before the waiter is queued (once queued, another
    // thread may claim it and touch the slot at once); a cancellation in between is kept here,
    // and enqueue() refuses the waiter with operation_aborted.
    bool cancelled_early = false;
};

// The queued waiters that have a deadline, earliest first (ties in arrival order).
template <class Connection>
class deadline_set {
public:
    using waiter_type = waiter<Connection>;

    bool empty() const noexcept { return set_.empty(); }

    void insert(waiter_type& w) noexcept { set_.insert(w); }

    // No effect on a waiter without a deadline.
    void erase(waiter_type& w) noexcept
    {
        if (w.deadline_hook.is_linked())
            set_.erase(set_.iterator_to(w));
    }

    // The earliest deadline (Clock ticks), or waiter_type::no_deadline.
    std::int64_t earliest() const noexcept
    {
        return set_.empty() ? waiter_type::no_deadline : set_.begin()->deadline;
    }

    // The earliest waiter if its deadline is at or before `now`, else nullptr (not removed).
    waiter_type* due(std::int64_t now) noexcept
    {
        if (set_.empty() || set_.begin()->deadline > now)
            return nullptr;
        return &*set_.begin();
    }

private:
    struct by_deadline {
        bool operator()(const waiter_type& a, const waiter_type& b) const noexcept
        {
            return a.deadline < b.deadline;
        }
    };
    using hook = boost::intrusive::member_hook<
        waiter_type, boost::intrusive::set_member_hook<boost::intrusive::optimize_size<true>>,
        &waiter_type::deadline_hook>;
    boost::intrusive::multiset<waiter_type, hook, boost::intrusive::compare<by_deadline>,
                               boost::intrusive::constant_time_size<false>>
        set_;
};

template <class Connection>
class waiter_queue {
public:
    using waiter_type = waiter<Connection>;

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    const waiter_type* front() const noexcept { return head_; }

    void push_back(waiter_type& w) noexcept
    {
        w.prev = tail_;
        w.next = nullptr;
        (tail_ ? tail_->next : head_) = &w;
        tail_ = &w;
        w.linked = true;
        ++size_;
    }

    waiter_type* pop_front() noexcept
    {
        waiter_type* w = head_;
        if (w)
            erase(*w);
        return w;
    }

    void erase(waiter_type& w) noexcept
    {
        (w.prev ? w.prev->next : head_) = w.next;
        (w.next ? w.next->prev : tail_) = w.prev;
        w.prev = w.next = nullptr;
        w.linked = false;
        --size_;
    }

private:
    waiter_type* head_ = nullptr;
    waiter_type* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace connpool::detail

#endif
