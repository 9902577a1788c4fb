#!/usr/bin/env bash
# scripts/test.sh [stage...]
#
# connpool's complete check; CI runs it (.ci/run). On a fresh Debian 12 machine it first installs
# the packages it needs (as root, or with sudo). Stages, in order (default: all):
#
#   format  clang-format-19 --dry-run --Werror over include/ tests/ examples/ bench/ (*.hpp, *.cpp)
#   gcc     g++ Debug, -Werror: build everything (tests, examples, header tests, benchmarks);
#           ctest: every test (unit, stress, compile-fail, consumer, examples); then a short run of
#           the demo (connpool_demo --seconds 0.5; DEMO_ARGS overrides the arguments)
#   asan    clang++ -O0 with AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer),
#           -Werror: build unit tests, examples, header tests (so clang's warnings are checked
#           too); ctest -L unit
#   tsan    g++ -O1 with ThreadSanitizer: both stress binaries (lock-free and mutex-based idle
#           stack); ctest -L stress
#   postgres  the PostgreSQL adapter against real servers: builds the integration tests and the
#           postgres example in the gcc stage's tree, starts a throwaway PostgreSQL 15 and a
#           PgBouncer (scripts/lib/pg.sh; stopped again whatever happens), runs ctest -L integration
#           and the example, stops the servers
#   prometheus  the Prometheus exposition against a real Prometheus: builds
#           examples/metrics_server.cpp in the gcc stage's tree, runs it (three pools and a keyed
#           pool's three keys under load for 3 s, then at rest), starts a throwaway Prometheus
#           scraping it every second (scripts/lib/prometheus.sh; both stopped again whatever
#           happens), and compares what Prometheus stored with the pools' and keys' stats() (one
#           check per line of output)
#
# Environment:
#   BUILD_ROOT   where the build trees go (default: <repo>/build; one subfolder per stage)
#   JOBS         parallel compile and test jobs (default: 2)
#   CLEAN=1      wipe each stage's build tree before configuring it
#   KEEP_GOING=0 stop at the first failing stage (default: run every stage, then fail)
#   ASAN_CXX     compiler of the asan stage (default: clang++, which compiles Asio with ASan+UBSan
#                about twice as fast as g++ 12, and checks clang's warnings; g++ works too)
#   TSAN_CXX     compiler of the tsan stage (default: g++; clang++ works too)
#
# Exit status: 0 when every stage passed. The last line sums up the ctest runs as
# "tests: N passed, N failed" (a stage that fails before any ctest run counts as one failure).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh

all_stages=(format gcc asan tsan postgres prometheus)
build_root=${BUILD_ROOT:-$root/build}
jobs=${JOBS:-2}
keep_going=${KEEP_GOING:-1}

if (($# > 0)); then
    stages=("$@")
else
    stages=("${all_stages[@]}")
fi
for s in "${stages[@]}"; do
    if [[ " ${all_stages[*]} " != *" $s "* ]]; then
        echo "test.sh: unknown stage '$s' (stages: ${all_stages[*]})" >&2
        exit 2
    fi
done

banner() {
    printf '\n==================== %s ====================\n' "$*"
}

# --- packages ----------------------------------------------------------------------------------
banner "dependencies"
ensure_packages cmake make g++ clang clang-format-19 libclang-rt-14-dev libboost1.81-dev catch2 \
    libbenchmark-dev libsoci-dev libpoco-dev libpq-dev postgresql pgbouncer prometheus curl jq
cmake --version | head -n1
g++ --version | head -n1
clang++ --version | head -n1

mkdir -p "$build_root"
summary_file=$build_root/.test-summary
tests_file=$build_root/.test-counts
: >"$summary_file"
: >"$tests_file"

# --- helpers -----------------------------------------------------------------------------------

# configure <dir> <cmake args...>
configure() {
    local dir=$1
    shift
    if [[ ${CLEAN:-0} == 1 ]]; then
        rm -rf "$dir"
    fi
    cmake -S "$root" -B "$dir" -DCONNPOOL_BUILD_TESTS=ON -DCONNPOOL_BUILD_EXAMPLES=ON "$@"
}

# build <dir> [targets...]: everything when no target is named. Keeps going after a compile error
# so that one run shows every broken translation unit.
build() {
    local dir=$1
    shift
    local -a keep_going_flag=()
    case ${CMAKE_GENERATOR:-Unix Makefiles} in
    *Makefiles*) keep_going_flag=(-- -k) ;;
    Ninja*) keep_going_flag=(-- -k 0) ;;
    esac
    if (($# > 0)); then
        cmake --build "$dir" -j "$jobs" --target "$@" "${keep_going_flag[@]}"
    else
        cmake --build "$dir" -j "$jobs" "${keep_going_flag[@]}"
    fi
}

# run_ctest <dir> [ctest args...]: runs ctest, prints its normal output (ending with its summary
# line), and records the pass/fail counts for the final summary.
run_ctest() {
    local dir=$1
    shift
    local log=$dir/ctest-output.log
    local rc=0
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" "$@" 2>&1 |
        tee "$log" || rc=$?
    local line total failed
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=${BASH_REMATCH[1]}
        total=${BASH_REMATCH[2]}
        echo "$((total - failed)) $failed" >>"$tests_file"
    elif ((rc != 0)); then
        echo "0 1" >>"$tests_file"
    fi
    return "$rc"
}

# have_sources <dir> <name pattern>: true when a file under <dir> matches, in sub-folders too
# (as the CMake globs of tests/ recurse: tests/unit/<part>/*.cpp).
have_sources() {
    [[ -n $(find "$1" -type f -name "$2" -print -quit 2>/dev/null) ]]
}

# --- stages ------------------------------------------------------------------------------------

stage_format() {
    CLANG_FORMAT=${CLANG_FORMAT:-clang-format-19} bash scripts/format.sh --check
}

# configure_gcc_debug <dir>: the gcc stage's configuration (the postgres stage reuses its tree).
configure_gcc_debug() {
    local bench=OFF
    if [[ -f bench/CMakeLists.txt ]]; then
        bench=ON # built (compile check), not run: benchmarks are timed on purpose, not in CI
    fi
    configure "$1" -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug -DCONNPOOL_WERROR=ON \
        -DCONNPOOL_BUILD_BENCHMARKS="$bench"
}

stage_gcc() {
    local dir=$build_root/gcc-debug
    configure_gcc_debug "$dir"
    build "$dir"
    local rc=0
    # Integration tests need the servers of the postgres stage.
    run_ctest "$dir" -LE integration || rc=$?
    run_demo "$dir" || rc=$?
    return "$rc"
}

# run_demo <build dir>: a short run of the demo (connpool_demo --seconds 0.5, or DEMO_ARGS).
run_demo() {
    local demo=$1/examples/connpool_demo
    if [[ ! -x $demo ]]; then
        echo "demo: examples/demo.cpp not built, skipped"
        return 0
    fi
    local -a args
    if [[ -n ${DEMO_ARGS:-} ]]; then
        read -r -a args <<<"$DEMO_ARGS"
    elif grep -q -- '--seconds' "$root/examples/demo.cpp"; then
        args=(--seconds 0.5)
    else
        echo "demo: no short-run flag (--seconds) known and no DEMO_ARGS, skipped"
        return 0
    fi
    echo "demo: $demo ${args[*]}"
    timeout 120 "$demo" "${args[@]}"
}

stage_asan() {
    if ! have_sources tests/unit '*.cpp'; then
        echo "asan: no tests/unit/*.cpp, skipped"
        return 0
    fi
    local cxx=${ASAN_CXX:-clang++}
    local dir=$build_root/asan-${cxx##*/}
    # -O0: clang 14 compiles a unit test with ASan+UBSan three times faster than at -O1 (15 s
    # against 44 s of CPU for tests/unit/pool/pool_lifecycle.cpp), and the checks are the same;
    # the tests run a little slower. -Werror and the examples and header tests: this is the
    # stage that builds with clang, so clang's warnings are checked here (a separate plain clang
    # build cost the run another 7 minutes on 2 cores).
    configure "$dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DCONNPOOL_SANITIZE=address,undefined \
        -DCONNPOOL_WERROR=ON -DCONNPOOL_BUILD_BENCHMARKS=OFF
    local -a targets=(connpool_unit_tests connpool_examples)
    have_sources include/connpool '*.hpp' && targets+=(connpool_header_tests)
    build "$dir" "${targets[@]}"
    export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    run_ctest "$dir" -L unit
}

stage_tsan() {
    if ! have_sources tests/stress '*.cpp'; then
        echo "tsan: no tests/stress/*.cpp, skipped"
        return 0
    fi
    local cxx=${TSAN_CXX:-g++}
    local dir=$build_root/tsan-${cxx##*/}
    configure "$dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCONNPOOL_SANITIZE=thread \
        -DCONNPOOL_BUILD_BENCHMARKS=OFF
    build "$dir" connpool_stress_tests connpool_stress_tests_mutex_stack
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    run_ctest "$dir" -L stress
}

stage_postgres() {
    local dir=$build_root/gcc-debug
    configure_gcc_debug "$dir"
    build "$dir" connpool_postgres_tests connpool_example_postgres
    # shellcheck source=scripts/lib/pg.sh
    source scripts/lib/pg.sh
    # The servers go away whatever happens: failed tests, a failing command, Ctrl-C.
    trap pg_stop EXIT
    trap 'pg_stop; exit 130' INT TERM
    pg_start
    local rc=0
    run_ctest "$dir" -L integration || rc=$?
    echo "example: connpool_example_postgres (200 coroutines, pool of 8)"
    timeout 120 "$dir/examples/connpool_example_postgres" "$CONNPOOL_PG_CONNINFO" || rc=$?
    pg_stop
    trap - EXIT INT TERM
    return "$rc"
}

stage_prometheus() {
    local dir=$build_root/gcc-debug
    configure_gcc_debug "$dir"
    build "$dir" connpool_example_metrics_server
    # shellcheck source=scripts/lib/prometheus.sh
    source scripts/lib/prometheus.sh
    # Prometheus and the example go away whatever happens: failed checks, an error, Ctrl-C.
    trap prom_stop EXIT
    trap 'prom_stop; exit 130' INT TERM
    prom_start_example "$dir/examples/connpool_example_metrics_server" --load-seconds 3
    prom_start
    local rc=0
    prom_check_example || rc=$?
    # Each comparison counts as a test in the summary.
    echo "$PROM_CHECKS_PASSED $PROM_CHECKS_FAILED" >>"$tests_file"
    prom_stop
    trap - EXIT INT TERM
    return "$rc"
}

# --- run ---------------------------------------------------------------------------------------
failed_stages=()
for stage in "${stages[@]}"; do
    banner "stage: $stage"
    start=$SECONDS
    counts_before=$(wc -l <"$tests_file")
    # A subshell with errexit on: a failing command ends the stage, not the script.
    set +e
    (
        set -e
        "stage_$stage"
    )
    rc=$?
    set -e
    elapsed=$((SECONDS - start))
    if ((rc == 0)); then
        status=passed
    else
        status="FAILED (exit $rc)"
        failed_stages+=("$stage")
        if (($(wc -l <"$tests_file") == counts_before)); then
            echo "0 1" >>"$tests_file" # failed before any ctest run (format, configure, build)
        fi
    fi
    printf '%-8s %-18s %5d s\n' "$stage" "$status" "$elapsed" >>"$summary_file"
    echo "stage $stage: $status in ${elapsed} s"
    if ((rc != 0)) && [[ $keep_going == 0 ]]; then
        break
    fi
done

banner "summary"
cat "$summary_file"
passed=0
failed=0
while read -r p f; do
    passed=$((passed + p))
    failed=$((failed + f))
done <"$tests_file"
if ((${#failed_stages[@]} > 0)); then
    echo "failed stages: ${failed_stages[*]}"
fi
echo "tests: $passed passed, $failed failed"
((${#failed_stages[@]} == 0))
