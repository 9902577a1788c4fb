#!/usr/bin/env bash
# scripts/bench-postgres.sh <build-dir> <output-markdown-fragment>
#
# The PostgreSQL benchmark: starts a throwaway PostgreSQL 15 and a PgBouncer (scripts/lib/pg.sh,
# max_connections 120, PgBouncer pool size 8), runs connpool_bench_postgres from <build-dir>
# (building it there first if needed: configure <build-dir> in Release with
# CONNPOOL_BUILD_BENCHMARKS=ON), writes a markdown table of SELECT 1 queries/s per mode and
# client count, with the ratio pooled / connect-per-query, to <output-markdown-fragment>, and
# stops the servers (whatever happens).
#
# Environment: BENCH_MIN_TIME (seconds per benchmark run, default 0.5), BENCH_REPETITIONS
# (default 3; the table shows medians).
set -euo pipefail

if (($# != 2)); then
    echo "usage: $0 <build-dir> <output-markdown-fragment>" >&2
    exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$1
out=$2
min_time=${BENCH_MIN_TIME:-0.5}
reps=${BENCH_REPETITIONS:-3}

bin=$build_dir/bench/postgres/connpool_bench_postgres
if [[ ! -x $bin ]]; then
    cmake --build "$build_dir" -j "${JOBS:-2}" --target connpool_bench_postgres
fi

# shellcheck source=scripts/lib/pg.sh
source "$root/scripts/lib/pg.sh"
trap pg_stop EXIT
trap 'pg_stop; exit 130' INT TERM
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-120} PGBOUNCER_POOL_SIZE=${PGBOUNCER_POOL_SIZE:-8} pg_start

csv=$(mktemp)
"$bin" --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
    --benchmark_report_aggregates_only=true --benchmark_format=csv >"$csv"
pg_stop

# name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,...
# "pooled/clients:8/real_time_median" -> mode pooled, clients 8
declare -A qps
while IFS=, read -r name _ _ _ _ _ items _; do
    name=${name//\"/}
    [[ $name == */real_time_median ]] || continue
    mode=${name%%/*}
    rest=${name#*/clients:}
    clients=${rest%%/*}
    qps[$mode/$clients]=${items%.*}
done < <(grep -E '^"?[a-z_]+/clients:' "$csv")
rm -f "$csv"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
pgver=$("$CONNPOOL_PG_BIN/postgres" --version 2>/dev/null || echo "PostgreSQL 15")
fmt() { # thousands separator-free integer, or n/a
    if [[ -n ${1:-} ]]; then echo "$1"; else echo "n/a"; fi
}
{
    echo "### PostgreSQL: SELECT 1 through the pool vs a connection per query"
    echo
    echo "Queries per second (median of $reps runs of ${min_time} s) on loopback: $pgver;"
    echo "$(/usr/sbin/pgbouncer --version 2>/dev/null | head -n1 || echo PgBouncer) in transaction" \
        "mode (pool size ${PGBOUNCER_POOL_SIZE:-8}); $(nproc) cores ($cpu)."
    echo "Clients are coroutines on one io_context thread. Pool: max_size min(clients, 8), DISCARD ALL"
    echo "on return (no reset statement via PgBouncer). Every connect authenticates with"
    echo "scram-sha-256. Command: \`scripts/bench-postgres.sh <build-dir> <out.md>\`."
    echo
    echo "| clients | pooled | connect per query | PgBouncer, connect per query | pooled via PgBouncer | pooled / connect per query |"
    echo "|--------:|-------:|------------------:|-----------------------------:|---------------------:|---------------------------:|"
    for c in 1 8 64; do
        p=${qps[pooled/$c]:-}
        cpq=${qps[connect_per_query/$c]:-}
        ratio=n/a
        if [[ -n $p && -n $cpq && $cpq != 0 ]]; then
            ratio=$(awk -v a="$p" -v b="$cpq" 'BEGIN { printf "%.0fx", a / b }')
        fi
        echo "| $c | $(fmt "$p") | $(fmt "$cpq") | $(fmt "${qps[pgbouncer_connect_per_query/$c]:-}") |" \
            "$(fmt "${qps[pooled_via_pgbouncer/$c]:-}") | $ratio |"
    done
} >"$out"
cat "$out"
