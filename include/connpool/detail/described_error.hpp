// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_DETAIL_DESCRIBED_ERROR_HPP
#define CONNPOOL_DETAIL_DESCRIBED_ERROR_HPP

// An error_code that carries a text of its own in its message(): the exception a factory threw,
// libpq's account of a failed connect.
//
// An error_code holds a value and a pointer to its category, no string. So the text goes into a
// category: a described_category has the id of the category it describes (`base`), and therefore
// compares equal to it (Boost.System compares categories with a nonzero id by id): the code
// still compares equal to the enumerator it was made from, and everything that tests its
// category works as before. Only message() differs: a headline, ": ", then the text, on one line.
// (A std::error_code converted from it has a category of its own, and does not compare equal to
// one converted from the plain category.)
//
// The categories are interned by (base, text) and never freed, so that an error_code stays valid
// wherever it is copied, even during static destruction. Such texts repeat (one per server and
// failure mode), and at most max_described_categories are ever created; after that, errors carry
// their plain category.

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace connpool::detail {

inline constexpr std::size_t max_described_categories = 64;

// The headline of a described error with value `ev` of category `base`: its plain message by
// default; a category whose plain message points elsewhere for the text (such as "see the
// diagnostics") gives a shorter one.
using headline_fn = std::string (*)(const boost::system::error_category& base, int ev);

class described_category final : public boost::system::error_category {
public:
    described_category(const boost::system::error_category& base, unsigned long long id,
                       headline_fn headline, std::string text)
        : error_category(id), base_(base), headline_(headline), text_(std::move(text))
    {
    }

    const char* name() const noexcept override { return base_.name(); }

    std::string message(int ev) const override
    {
        return (headline_ ? headline_(base_, ev) : base_.message(ev)) + ": " + text_;
    }

    boost::system::error_condition default_error_condition(int ev) const noexcept override
    {
        return base_.default_error_condition(ev);
    }

    const boost::system::error_category& base() const noexcept { return base_; }
    const std::string& text() const noexcept { return text_; }

private:
    const boost::system::error_category& base_;
    headline_fn headline_;
    std::string text_;
};

// A text on one line: line breaks become "; ", runs of blanks one space.
inline std::string one_line(std::string_view text)
{
    std::string out;
    bool blank = false, newline = false;
    for (char c : text) {
        if (c == '\n' || c == '\r') {
            newline = !out.empty();
            blank = false;
        } else if (c == ' ' || c == '\t') {
            blank = !out.empty();
        } else {
            if (newline)
                out += "; ";
            else if (blank)
                out += ' ';
            newline = blank = false;
            out += c;
        }
    }
    return out;
}

// `ec` (of category `base`, whose id is `base_id`) carrying `text`; `ec` itself when it is of
// another category, already described, when `text` is empty, or once the cap is reached (or
// memory runs out).
inline boost::system::error_code with_text(const boost::system::error_code& ec,
                                           const boost::system::error_category& base,
                                           unsigned long long base_id, std::string_view text,
                                           headline_fn headline = nullptr) noexcept
{
    if (!ec || text.empty() || ec.category() != base ||
        dynamic_cast<const described_category*>(&ec.category()))
        return ec;
    try {
        std::string line = one_line(text);
        // Never destroyed: error_codes may point into it until the process ends (see above).
        static std::mutex& mtx = *new std::mutex;
        static std::deque<described_category>& store = *new std::deque<described_category>;
        std::lock_guard lk(mtx);
        for (const described_category& c : store)
            if (&c.base() == &base && c.text() == line)
                return {ec.value(), c};
        if (store.size() >= max_described_categories)
            return ec;
        store.emplace_back(base, base_id, headline, std::move(line));
        return {ec.value(), store.back()};
    } catch (...) {
        return ec;
    }
}

// The text `ec` carries, or an empty string.
inline std::string_view described_text(const boost::system::error_code& ec) noexcept
{
    const auto* c = dynamic_cast<const described_category*>(&ec.category());
    return c ? std::string_view(c->text()) : std::string_view();
}

}  // namespace connpool::detail

#endif
