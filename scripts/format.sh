#!/usr/bin/env bash
# scripts/format.sh [--check] [files...]
#
# Formats connpool's C++ sources in place with the repository's .clang-format. The reference
# formatter is clang-format-19 (Debian 12 package `clang-format-19`, installed by scripts/test.sh);
# CLANG_FORMAT overrides the binary. Without files: every *.hpp and *.cpp under
# include/ tests/ examples/ bench/. With --check: change nothing, fail on any difference (what
# scripts/test.sh runs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ -n ${CLANG_FORMAT:-} ]]; then
    clang_format=$CLANG_FORMAT
elif command -v clang-format-19 >/dev/null 2>&1; then
    clang_format=clang-format-19
else
    clang_format=clang-format
    echo "format: clang-format-19 not found (apt-get install clang-format-19); trying" \
        "'$(command -v clang-format || echo clang-format)', whose output may differ" >&2
fi
mode=(-i)
if [[ ${1:-} == --check ]]; then
    mode=(--dry-run --Werror)
    shift
fi

if (($# > 0)); then
    files=("$@")
else
    mapfile -t files < <(
        for dir in include tests examples bench; do
            if [[ -d $dir ]]; then find "$dir" -type f \( -name "*.hpp" -o -name "*.cpp" \); fi
        done | LC_ALL=C sort)
fi

if ((${#files[@]} == 0)); then
    echo "format: no files"
    exit 0
fi
"$clang_format" --version
"$clang_format" --style=file "${mode[@]}" "${files[@]}"
echo "format: ${#files[@]} files $([[ ${mode[0]} == -i ]] && echo formatted || echo checked)"
