#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--build-dir DIR] [--out FILE] [-- <connpool_bench flags>]
#
# Builds connpool's benchmark suite in Release (g++ -O2 -DNDEBUG), runs it, and regenerates
# docs/benchmarks.md and docs/benchmarks.png from its JSON output (scripts/lib/bench_report.py,
# gnuplot). Installs the Debian packages it needs first (scripts/lib/deps.sh). When
# scripts/bench-postgres.sh exists, it runs it too and includes its markdown fragment under a
# PostgreSQL heading (or says why there is none).
#
#   --quick          one repetition of short rounds (0.5 s), for trying the suite out; the report
#                    goes to <build-dir>/report/benchmarks.md, not docs/, unless --out says so
#   --build-dir DIR  build tree (default: build/bench)
#   --out FILE       the markdown to write (default: docs/benchmarks.md; the PNG goes next to it)
#   -- ARGS          passed on to connpool_bench (e.g. --benchmark_filter=blocking/16x4)
#
# Environment: CXX (default g++), JOBS (parallel compile jobs, default 2), POSTGRES_TIMEOUT
# (seconds scripts/bench-postgres.sh may take, default 600).
# The full run takes about 10-15 minutes on 2 cores: 3 repetitions of every benchmark, 3 s rounds
# for the timed harnesses. Run it on a quiet machine: other load skews every figure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh

command_line="scripts/bench.sh${*:+ $*}"
quick=0
build_dir=$root/build/bench
out=""
extra=()
while (($# > 0)); do
    case $1 in
    --quick) quick=1 ;;
    --build-dir)
        build_dir=$(realpath -m "$2")
        shift
        ;;
    --out)
        out=$(realpath -m "$2")
        shift
        ;;
    --)
        shift
        extra=("$@")
        break
        ;;
    -h | --help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "bench.sh: unknown option '$1' (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done
if [[ -z $out ]]; then
    if ((quick)); then
        out=$build_dir/report/benchmarks.md
    else
        out=$root/docs/benchmarks.md
    fi
fi
jobs=${JOBS:-2}
cxx=${CXX:-g++}
started=$(date +%s)

ensure_packages cmake make g++ libboost1.81-dev libbenchmark-dev libsoci-dev libpoco-dev \
    gnuplot-nox python3

# --- build -------------------------------------------------------------------------------------
cxx_flags_release="-O2 -DNDEBUG"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS_RELEASE="$cxx_flags_release" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DCONNPOOL_BUILD_BENCHMARKS=ON -DCONNPOOL_BUILD_TESTS=OFF -DCONNPOOL_BUILD_EXAMPLES=OFF
# Everything in this tree: the suite, and bench/postgres/ when it is configured.
cmake --build "$build_dir" -j "$jobs"

# --- run ---------------------------------------------------------------------------------------
results=$build_dir/results
mkdir -p "$results" "$(dirname "$out")"
if ((quick)); then
    suite_flags=(--benchmark_repetitions=1 --benchmark_min_time=0.1 --connpool_round_seconds=0.5)
    round_seconds=0.5
else
    suite_flags=(--benchmark_repetitions=3 --connpool_round_seconds=3)
    round_seconds=3
fi
suite_cmd=("$build_dir/bench/connpool_bench" "${suite_flags[@]}" "${extra[@]}"
    --benchmark_out="$results/suite.json" --benchmark_out_format=json)
memory_cmd=("$build_dir/bench/connpool_bench_memory"
    --benchmark_out="$results/memory.json" --benchmark_out_format=json)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench.sh: ${suite_cmd[*]}"
"${suite_cmd[@]}"
echo "bench.sh: ${memory_cmd[*]}"
"${memory_cmd[@]}"

postgres_fragment=$results/postgres.md
postgres_status="scripts/bench-postgres.sh does not exist"
rm -f "$postgres_fragment"
if [[ -f scripts/bench-postgres.sh ]]; then
    # Its own settings (BENCH_MIN_TIME, BENCH_REPETITIONS) follow --quick unless set; a run that
    # hangs is stopped (the script's trap stops its servers) and reported as failed.
    pg_env=()
    if ((quick)); then
        pg_env=(BENCH_MIN_TIME="${BENCH_MIN_TIME:-0.1}" BENCH_REPETITIONS="${BENCH_REPETITIONS:-1}")
    fi
    pg_timeout=${POSTGRES_TIMEOUT:-600}
    echo "bench.sh: scripts/bench-postgres.sh $build_dir $postgres_fragment"
    pg_rc=0
    env "${pg_env[@]}" timeout --kill-after=30 "$pg_timeout" \
        bash scripts/bench-postgres.sh "$build_dir" "$postgres_fragment" || pg_rc=$?
    if ((pg_rc == 0)); then
        postgres_status=ok
    elif ((pg_rc == 124 || pg_rc == 137)); then
        postgres_status="scripts/bench-postgres.sh did not finish within $pg_timeout s and was stopped"
    else
        postgres_status="scripts/bench-postgres.sh failed (exit $pg_rc); see the output of scripts/bench.sh"
    fi
    if [[ $postgres_status != ok ]]; then
        echo "bench.sh: $postgres_status" >&2
    fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------------------
# The flags the suite was compiled with, from the compile database (main.cpp's command).
flags=$(python3 - "$build_dir/compile_commands.json" <<'EOF'
import json, shlex, sys
for entry in json.load(open(sys.argv[1])):
    if entry["file"].endswith("bench/main.cpp"):
        args = shlex.split(entry["command"])
        keep = [a for a in args[1:] if a.startswith(("-O", "-std", "-f", "-m", "-g", "-W", "-pthread"))
                or (a.startswith("-D") and "CONNPOOL_BENCH" not in a)]
        print(" ".join(keep))
        break
EOF
)
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
dirty=no
if [[ -n $(git status --porcelain --untracked-files=no -- include bench 2>/dev/null) ]]; then
    dirty=yes
fi
elapsed=$(($(date +%s) - started))
# The report's metadata, handed to Python through the environment (no quoting pitfalls).
CONNPOOL_META_MODE=$( ((quick)) && echo quick || echo full) \
CONNPOOL_META_COMMAND=$command_line \
CONNPOOL_META_RUNS="${suite_cmd[*]//$root\//}
${memory_cmd[*]//$root\//}" \
CONNPOOL_META_ROUND_SECONDS=$round_seconds \
CONNPOOL_META_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
CONNPOOL_META_CORES=$(nproc) \
CONNPOOL_META_OS="$(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)" \
CONNPOOL_META_COMPILER=$("$cxx" --version | head -n1) \
CONNPOOL_META_FLAGS=$flags \
CONNPOOL_META_LIBRARIES="Boost $(pkg_version libboost1.81-dev), Google Benchmark $(pkg_version libbenchmark-dev), SOCI $(pkg_version libsoci-dev), Poco $(pkg_version libpoco-dev)" \
CONNPOOL_META_COMMIT=$(git rev-parse HEAD) \
CONNPOOL_META_DIRTY=$dirty \
CONNPOOL_META_DATE=$(date -u +'%Y-%m-%d %H:%M UTC') \
CONNPOOL_META_DURATION="$((elapsed / 60)) min $((elapsed % 60)) s (build and run)" \
CONNPOOL_META_NOTE="Load average (1, 5, 15 min): $load_before before the run, $load_after after it." \
CONNPOOL_META_LOAD_BEFORE=$load_before \
CONNPOOL_META_LOAD_AFTER=$load_after \
    python3 - "$results/meta.json" <<'EOF'
import json, os, sys
meta = {k[len("CONNPOOL_META_"):].lower(): v for k, v in os.environ.items()
        if k.startswith("CONNPOOL_META_")}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(meta, f, indent=2)
EOF
python3 scripts/lib/bench_report.py --suite "$results/suite.json" --memory "$results/memory.json" \
    --meta "$results/meta.json" --out "$out" --png benchmarks.png --plot-dir "$results" \
    --postgres-fragment "$postgres_fragment" --postgres-status "$postgres_status"
gnuplot "$results/benchmarks.gp"
echo "bench.sh: wrote $out and $(dirname "$out")/benchmarks.png in $(($(date +%s) - started)) s"
