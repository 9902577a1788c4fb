// Copyright (c) 2026 connpool authors. Distributed under the Boost Software License, Version 1.0.
#ifndef CONNPOOL_BENCH_SUPPORT_CONFIG_HPP
#define CONNPOOL_BENCH_SUPPORT_CONFIG_HPP

// Settings shared by every benchmark of a binary, set once by main() from its own flags
// (Google Benchmark's flags are left to Google Benchmark):
//   --connpool_round_seconds=S   length of one round of the timed harnesses (blocking, handoff)
//   --connpool_smoke             shrink every fixed duration and size: the ctest smoke run, which
//                                checks that the suite runs, not what it measures

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace connpool_bench {

struct config {
    double round_seconds = 3.0;  // the reference harness's rounds were 3 s long
    bool smoke = false;
};

inline config& settings() noexcept
{
    static config c;
    return c;
}

// Consumes our flags from argv and puts default Google Benchmark flags in front of the rest
// (a flag the user passes comes later on the command line and wins). Returns the new argv; the
// strings live in `storage`.
inline std::vector<char*> parse_flags(int argc, char** argv, std::vector<std::string>& storage,
                                      const std::vector<std::string>& benchmark_defaults)
{
    storage.clear();
    storage.emplace_back(argv[0]);
    for (const std::string& d : benchmark_defaults) {
        const std::string_view key = std::string_view(d).substr(0, d.find('='));
        bool given = false;
        for (int i = 1; i < argc; ++i)
            given = given || std::string_view(argv[i]).substr(0, key.size()) == key;
        if (!given)
            storage.push_back(d);
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        constexpr std::string_view round = "--connpool_round_seconds=";
        if (arg == "--connpool_smoke") {
            settings().smoke = true;
        } else if (arg.substr(0, round.size()) == round) {
            settings().round_seconds = std::strtod(argv[i] + round.size(), nullptr);
        } else {
            storage.emplace_back(arg);
        }
    }
    if (settings().smoke)
        settings().round_seconds = 0.02;
    std::vector<char*> out;
    for (std::string& s : storage)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace connpool_bench

#endif
