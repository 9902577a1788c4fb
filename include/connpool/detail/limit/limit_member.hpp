// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_LIMIT_LIMIT_MEMBER_HPP
#define CONNPOOL_DETAIL_LIMIT_LIMIT_MEMBER_HPP

// What a shared limit asks of the pools it counts. A pool (or one key of a keyed pool) is a
// member of the limit it was created with; the limit keeps only a weak_ptr to it.

#include <cstdint>
#include <optional>

namespace connpool::detail {

// A pool (or one key of a keyed pool) counted by a limit. The limit calls these from whatever
// thread freed or granted units, never while holding a lock of its own (pools take their own mutex
// in them, and pools call the limit with their mutex held: the lock order is pool mutex -> limit
// mutex, never back).
class limit_member {
public:
    // Units were set aside for this member's account (banked): it should call take() again soon.
    virtual void on_units_granted() noexcept = 0;

    // The last use (the member clock's time_since_epoch in ns) of its least recently used idle
    // connection that it may close: above its min_size when `above_min_only`, any idle one
    // otherwise; nullopt if none.
    virtual std::optional<std::int64_t> idle_to_close(bool above_min_only) noexcept = 0;

    // Closes that connection; true if one was closed. Its unit comes back through the account's
    // release() once its destructor has returned: maybe later, maybe on another thread.
    virtual bool close_idle(bool above_min_only) noexcept = 0;

protected:
    ~limit_member() = default;
};

}  // namespace connpool::detail

#endif
