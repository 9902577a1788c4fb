// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_WAITER_QUEUE_HPP
#define CONNPOOL_DETAIL_WAITER_QUEUE_HPP

// The FIFO of acquirers waiting for a connection: an intrusive doubly linked list, so that
// enqueueing allocates nothing and a timed-out or cancelled waiter leaves from the middle in O(1).
// Every member is used under the pool's mutex.

#include <connpool/detail/slot.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>

namespace connpool::detail {

// A waiting acquirer: an async operation (pool_impl::acquire_op) or a blocked thread
// (pool_impl::sync_waiter). Whoever unlinks it from the queue (a returner handing it a
// connection, its deadline, its cancellation, close()) owns its completion: it fills in the
// result under the mutex, then calls notify() after unlocking.
template <class Connection>
struct waiter {
    using notify_fn = void (*)(waiter*) noexcept;

    explicit waiter(notify_fn n) noexcept : notify(n) {}

    waiter* prev = nullptr;
    waiter* next = nullptr;
    bool linked = false;

    slot<Connection>* result_slot = nullptr;  // the connection handed over, or
    boost::system::error_code result_ec;      // why there is none
    std::int64_t enqueued_at = 0;             // Clock ticks, for pool_stats::total_wait_time
    notify_fn notify;
};

template <class Connection>
class waiter_queue {
public:
    using waiter_type = waiter<Connection>;

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }

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
