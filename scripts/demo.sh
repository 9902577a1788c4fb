#!/usr/bin/env bash
# scripts/demo.sh [demo arguments...]
#
# Builds connpool's demo (examples/demo.cpp) in Release mode and runs it, passing the arguments
# through. Installs the Debian packages it needs when they are missing (as root, or with sudo).
# Environment: BUILD_ROOT (default: <repo>/build), JOBS (default: number of cores).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh

ensure_packages cmake make g++ libboost1.81-dev

build_root=${BUILD_ROOT:-$root/build}
build_dir=$build_root/demo-release
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

cmake -S "$root" -B "$build_dir" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCONNPOOL_BUILD_TESTS=OFF \
    -DCONNPOOL_BUILD_EXAMPLES=ON \
    -DCONNPOOL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_dir" --target connpool_demo -j "$jobs"

exec "$build_dir/examples/connpool_demo" "$@"
