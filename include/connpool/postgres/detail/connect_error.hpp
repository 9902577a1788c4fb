// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_POSTGRES_DETAIL_CONNECT_ERROR_HPP
#define CONNPOOL_POSTGRES_DETAIL_CONNECT_ERROR_HPP

// What a failed connect reports, from libpq's text alone (no libpq needed): the text parsed into
// diagnostics, the error_code it makes (the server's SQLSTATE, or connection_failed) carrying the
// text in its message(), and whether retrying can help.

#include <connpool/detail/described_error.hpp>
#include <connpool/postgres/detail/sqlstate.hpp>
#include <connpool/postgres/diagnostics.hpp>
#include <connpool/postgres/error.hpp>

#include <boost/system/error_category.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace connpool::postgres::detail {

// The diagnostics of a failed connect. During the connect the error verbosity is
// PQERRORS_VERBOSE, so the server's error reads "... failed: FATAL:  28P01: message\n
// DETAIL:  ...\nLOCATION:  ...": libpq keeps no PGresult of a failed startup, and this is the
// only public way to its SQLSTATE. The last "<severity>:  <SQLSTATE>: " wins (a conninfo with
// several hosts reports each attempt).
inline diagnostics parse_connect_error(std::string_view text)
{
    diagnostics d;
    std::size_t code_at = std::string_view::npos;
    for (std::size_t i = 0; i + 10 <= text.size(); ++i) {
        if (text[i] == ':' && text[i + 1] == ' ' && text[i + 2] == ' ' &&
            is_sqlstate_char(text[i + 3]) && is_sqlstate_char(text[i + 4]) &&
            is_sqlstate_char(text[i + 5]) && is_sqlstate_char(text[i + 6]) &&
            is_sqlstate_char(text[i + 7]) && text[i + 8] == ':' && text[i + 9] == ' ')
            code_at = i;
    }
    std::string clean;  // the text without the SQLSTATE token and LOCATION lines
    if (code_at != std::string_view::npos) {
        std::size_t sev_begin = code_at;
        while (sev_begin > 0 && text[sev_begin - 1] != ' ' && text[sev_begin - 1] != '\n')
            --sev_begin;
        d.severity = std::string(text.substr(sev_begin, code_at - sev_begin));
        d.sqlstate = std::string(text.substr(code_at + 3, 5));
        const std::size_t msg_begin = code_at + 10;
        const std::size_t msg_end = std::min(text.find('\n', msg_begin), text.size());
        d.message = std::string(text.substr(msg_begin, msg_end - msg_begin));
        clean = std::string(text.substr(0, code_at + 3));
        clean += text.substr(msg_begin);
    } else {
        clean = std::string(text);
    }
    std::string kept;
    std::size_t pos = 0;
    while (pos < clean.size()) {
        std::size_t eol = clean.find('\n', pos);
        if (eol == std::string::npos)
            eol = clean.size();
        std::string_view line(clean.data() + pos, eol - pos);
        if (line.substr(0, 9) == "DETAIL:  ")
            d.detail = std::string(line.substr(9));
        else if (line.substr(0, 7) == "HINT:  ")
            d.hint = std::string(line.substr(7));
        if (line.substr(0, 10) != "LOCATION: ") {
            kept += line;
            kept += '\n';
        }
        pos = eol + 1;
    }
    d.text = trim(kept);
    if (d.message.empty())
        d.message = d.text;
    return d;
}

// libpq's text of one failed connect, carried by the error_code itself
// (connpool/detail/described_error.hpp): `ec == client_errc::connection_failed`,
// `sqlstate_of(ec)`, `is_connection_error(ec)` and `ec.category() == client_category()` all hold
// as before; message() is the plain message followed by libpq's text, on one line. After
// max_described_categories distinct texts, errors carry the plain category, and the text is only
// in last_connect_diagnostics().

// The plain message, without its pointer to the diagnostics (the text follows).
inline std::string libpq_headline(const boost::system::error_category& base, int ev)
{
    if (base == client_category_instance) {
        switch (static_cast<client_errc>(ev)) {
        case client_errc::connection_failed:
            return "could not connect to the PostgreSQL server";
        case client_errc::invalid_conninfo:
            return "the PostgreSQL connection string is invalid";
        default:
            break;
        }
    }
    return base.message(ev);
}

// `ec` carrying libpq's `text` in its message; `ec` itself when it is not a client_errc or
// SQLSTATE error, when `text` is empty, or when the cap is reached.
inline error_code with_libpq_text(const error_code& ec, std::string_view text)
{
    if (ec.category() == client_category_instance)
        return ::connpool::detail::with_text(ec, client_category_instance, client_category_id, text,
                                             &libpq_headline);
    if (ec.category() == sqlstate_category_instance)
        return ::connpool::detail::with_text(ec, sqlstate_category_instance, sqlstate_category_id,
                                             text, &libpq_headline);
    return ec;
}

// What a connect that PQconnectPoll failed reports, from libpq's (verbose) `text`: its
// diagnostics, and an error carrying the text (with_libpq_text): the server's SQLSTATE when it
// sent one (28P01, 3D000, 53300, ...), else client_errc::connection_failed (refused, unreachable,
// SSL, a server that hung up).
struct connect_failure {
    error_code ec;
    diagnostics diag;
};

inline connect_failure failed_connect(std::string_view text)
{
    connect_failure f{{}, parse_connect_error(text)};
    f.ec = f.diag.sqlstate.empty() ? make_error_code(client_errc::connection_failed)
                                   : make_sqlstate_error(f.diag.sqlstate);
    f.ec = with_libpq_text(f.ec, f.diag.text);
    return f;
}

// A connect error that retrying will not cure (factory::is_permanent_error): bad credentials,
// unknown database (is_permanent_sqlstate), an invalid conninfo.
inline bool is_permanent_connect_error(const error_code& ec) noexcept
{
    if (ec == client_errc::invalid_conninfo)
        return true;
    return ec.category() == sqlstate_category() && is_permanent_sqlstate(ec.value());
}

}  // namespace connpool::postgres::detail

#endif
