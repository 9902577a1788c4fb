# shellcheck shell=bash
# A throwaway Prometheus server scraping examples/metrics_server.cpp, for scripts/test.sh's
# prometheus stage: the exposition of <connpool/prometheus.hpp> as a real Prometheus reads it.
#
#   source scripts/lib/prometheus.sh
#   trap prom_stop EXIT               # always stop both processes (prom_stop is idempotent)
#   prom_start_example <binary> [args...]   # runs it in the background, reads its port
#   prom_start                        # Prometheus on 127.0.0.1:<free port>, scraping the example
#   prom_check_example                # waits for the frozen values, compares; counts the checks
#   prom_stop                         # stops Prometheus and the example, removes the directory
#
# Everything lives in one temporary directory (mktemp -d): the configuration, the TSDB, both
# processes' output. Prometheus (Debian's package, /usr/bin/prometheus; PROMETHEUS overrides)
# listens on 127.0.0.1 only, scrapes every second and runs as the calling user. Its
# packaged service, if the machine runs it, is not touched (another port, another data dir).
#
# Exported: CONNPOOL_PROM_DIR, CONNPOOL_PROM_URL (http://127.0.0.1:P), CONNPOOL_METRICS_URL (the
# example's http://127.0.0.1:P). Set by prom_check_example: PROM_CHECKS_PASSED, PROM_CHECKS_FAILED.
# Needs curl and jq.

# prom_make_dir: creates the temporary directory (once) and exports CONNPOOL_PROM_DIR.
prom_make_dir() {
    if [[ -z ${CONNPOOL_PROM_DIR:-} ]]; then
        CONNPOOL_PROM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/connpool-prom.XXXXXX")
        export CONNPOOL_PROM_DIR
    fi
}

# prom_wait_for <seconds> <command...>: runs the command every 0.2 s until it succeeds; false if
# it never did within <seconds>.
prom_wait_for() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            return 1
        fi
        sleep 0.2
    done
}

# prom_start_example <binary> [args...]: starts the example with --port 0 and waits for the
# line that names its port.
prom_start_example() {
    prom_make_dir
    local dir=$CONNPOOL_PROM_DIR
    "$@" --port 0 >"$dir/example.out" 2>&1 &
    echo $! >"$dir/example.pid"
    if ! prom_wait_for 20 grep -q 'listening on http://127.0.0.1:' "$dir/example.out"; then
        echo "prometheus.sh: the example did not start:" >&2
        cat "$dir/example.out" >&2
        return 1
    fi
    local port
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$dir/example.out")
    export CONNPOOL_METRICS_URL="http://127.0.0.1:$port"
    echo "prometheus.sh: example serving $CONNPOOL_METRICS_URL/metrics"
}

# prom_free_port: a TCP port nobody listens on (random, checked with ss).
prom_free_port() {
    local port tries=0
    while ((tries++ < 200)); do
        port=$((20000 + RANDOM % 30000))
        if [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]]; then
            echo "$port"
            return 0
        fi
    done
    echo "prometheus.sh: no free port found" >&2
    return 1
}

# prom_start: Prometheus scraping the example (prom_start_example first) every second.
prom_start() {
    local bin=${PROMETHEUS:-/usr/bin/prometheus}
    if [[ ! -x $bin ]]; then
        echo "prometheus.sh: $bin not found (apt-get install prometheus)" >&2
        return 1
    fi
    prom_make_dir
    local dir=$CONNPOOL_PROM_DIR port
    port=$(prom_free_port)
    cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: connpool
    static_configs:
      - targets: ['${CONNPOOL_METRICS_URL#http://}']
EOF
    "$bin" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
    echo $! >"$dir/prometheus.pid"
    export CONNPOOL_PROM_URL="http://127.0.0.1:$port"
    if ! prom_wait_for 30 curl -fsS "$CONNPOOL_PROM_URL/-/ready"; then
        echo "prometheus.sh: Prometheus did not become ready:" >&2
        cat "$dir/prometheus.log" >&2
        return 1
    fi
    echo "prometheus.sh: Prometheus $("$bin" --version 2>&1 | head -n1 | awk '{print $3}') on" \
        "$CONNPOOL_PROM_URL, scraping every 1 s"
}

# prom_query <promql>: the value of the query's first result ("" when it has none).
prom_query() {
    curl -fsS --get --data-urlencode "query=$1" "$CONNPOOL_PROM_URL/api/v1/query" |
        jq -r '.data.result[0].value[1] // ""'
}

# prom_query_is <promql> <value>: true when the query's first result has that value.
prom_query_is() {
    [[ $(prom_query "$1") == "$2" ]]
}

# prom_stop: stops Prometheus and the example (TERM, then KILL after 5 s) and removes the
# directory. Safe to call twice, and after a start that failed half-way.
prom_stop() {
    local dir=${CONNPOOL_PROM_DIR:-}
    if [[ -z $dir || ! -d $dir ]]; then
        return 0
    fi
    local name pid i
    for name in prometheus example; do
        [[ -f $dir/$name.pid ]] || continue
        pid=$(cat "$dir/$name.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; ++i)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
    unset CONNPOOL_PROM_DIR
    echo "prometheus.sh: Prometheus and the example stopped"
}

# prom_check_example: once the example's values are frozen and Prometheus has scraped them,
# compares what Prometheus stored with the example's /stats (its pools' stats() and histograms),
# entry by entry (a pool, or one key of a keyed pool: its series are those with its key label):
# a gauge, counters, a histogram's +Inf bucket and _count, the use time only where measured, and
# a quantile computed by Prometheus from the buckets (in seconds); then that Prometheus has as
# many keys of each keyed pool as /stats lists. Also lints the exposition with promtool. Prints
# each check; sets PROM_CHECKS_PASSED and PROM_CHECKS_FAILED.
prom_check_example() {
    PROM_CHECKS_PASSED=0
    PROM_CHECKS_FAILED=0
    local dir=$CONNPOOL_PROM_DIR
    if ! prom_wait_for 60 grep -q 'values frozen' "$dir/example.out"; then
        echo "prometheus.sh: the example's load did not end:" >&2
        cat "$dir/example.out" >&2
        PROM_CHECKS_FAILED=1
        return 1
    fi
    local stats
    stats=$(curl -fsS "$CONNPOOL_METRICS_URL/stats")
    if [[ $(jq -r .state <<<"$stats") != frozen ]]; then
        echo "prometheus.sh: /stats is not frozen: $stats" >&2
        PROM_CHECKS_FAILED=1
        return 1
    fi

    # A scrape after the freeze: the first pool's acquired counter as /stats has it.
    local first acquired
    first=$(jq -c '.pools[0].name' <<<"$stats")
    acquired=$(jq -r '.pools[0].acquired' <<<"$stats")
    if ! prom_wait_for 30 prom_query_is "connpool_acquired_total{pool=$first}" "$acquired"; then
        echo "prometheus.sh: Prometheus has no scrape of the frozen values; its targets:" >&2
        curl -fsS "$CONNPOOL_PROM_URL/api/v1/targets" | jq -c '.data.activeTargets[] |
            {scrapeUrl, health, lastError}' >&2 || true
        PROM_CHECKS_FAILED=1
        return 1
    fi

    # check <what> <promql> <expected>
    check() {
        local got
        got=$(prom_query "$2")
        if [[ $got == "$3" ]]; then
            PROM_CHECKS_PASSED=$((PROM_CHECKS_PASSED + 1))
            printf '  ok    %-58s %s\n' "$1" "$got"
        else
            PROM_CHECKS_FAILED=$((PROM_CHECKS_FAILED + 1))
            printf '  FAIL  %-58s Prometheus has "%s", stats() says "%s"\n    query: %s\n' \
                "$1" "$got" "$3" "$2"
        fi
    }
    # check_true <what> <promql returning 1 when it holds>
    check_true() {
        check "$1" "$2" 1
    }

    check "target up" 'up{job="connpool"}' 1
    local pool name key sel
    while read -r pool; do
        name=$(jq -r .name <<<"$pool")
        key=$(jq -r '.key // ""' <<<"$pool")
        # A JSON string is a valid PromQL string here. A plain pool's entry has no key: key=""
        # selects the series without a key label, so a plain pool's checks see no keyed series.
        sel="pool=$(jq -c .name <<<"$pool"),key=$(jq -c '.key // ""' <<<"$pool")"
        field() { jq -r ".$1" <<<"$pool"; }
        if [[ -n $key ]]; then
            echo "pool $name, key $key:"
        else
            echo "pool $name:"
        fi
        check "idle (gauge)" "db_client_connection_count{$sel,state=\"idle\"}" "$(field idle)"
        check "max (gauge)" "db_client_connection_max{$sel}" "$(field max_size)"
        check "acquired (counter)" "connpool_acquired_total{$sel}" "$(field acquired)"
        check "timeouts (counter)" "db_client_connection_timeouts_total{$sel}" "$(field timeouts)"
        check "created (counter)" "connpool_created_total{$sel}" "$(field created)"
        check "connect failures (counter)" "connpool_connect_failures_total{$sel}" \
            "$(field connect_failures)"
        check "wait time _count (histogram)" \
            "db_client_connection_wait_time_seconds_count{$sel}" "$(field wait_count)"
        check "create time le=+Inf bucket (histogram)" \
            "db_client_connection_create_time_seconds_bucket{$sel,le=\"+Inf\"}" \
            "$(field create_count)"
        if [[ $(field use_time_measured) == true ]]; then
            check "use time _count (histogram)" \
                "db_client_connection_use_time_seconds_count{$sel}" "$(field use_count)"
        else
            check "no use time without measure_use_time" \
                "count(db_client_connection_use_time_seconds_count{$sel}) or vector(0)" 0
        fi
        # Connects take 2-12 ms: Prometheus' own quantile from the buckets must say so, in s.
        local p50="histogram_quantile(0.5, db_client_connection_create_time_seconds_bucket{$sel})"
        check_true "create time p50 by histogram_quantile in [2 ms, 17 ms]" \
            "($p50 >= bool 0.002) * ($p50 <= bool 0.017)"
    done < <(jq -c '.pools[]' <<<"$stats")

    # Each keyed pool: Prometheus has one series per key, as many keys as /stats lists (a key
    # exported twice, or one /stats lacks, would not be caught by the checks above).
    local keyed
    while read -r keyed; do
        echo "keyed pool $(jq -r . <<<"$keyed"):"
        check "keys with series = keys in /stats" \
            "count(count by (key) (connpool_acquired_total{pool=$keyed}))" \
            "$(jq -r --argjson n "$keyed" '[.pools[] | select(.name == $n and .key != null)] |
                length' <<<"$stats")"
    done < <(jq -c '[.pools[] | select(.key != null) | .name] | unique | .[]' <<<"$stats")

    # promtool's lint. db_client_connection_count is OpenTelemetry's name for a gauge, which the
    # lint would rather not see end in _count; that one finding is expected.
    local lint
    lint=$(curl -fsS "$CONNPOOL_METRICS_URL/metrics" | promtool check metrics 2>&1 |
        grep -v '^db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix$' || true)
    if [[ -z $lint ]]; then
        PROM_CHECKS_PASSED=$((PROM_CHECKS_PASSED + 1))
        echo "  ok    promtool check metrics (the exposition lints clean but for the OTel name)"
    else
        PROM_CHECKS_FAILED=$((PROM_CHECKS_FAILED + 1))
        echo "  FAIL  promtool check metrics:"
        printf '    %s\n' "${lint//$'\n'/$'\n'    }"
    fi
    echo "prometheus checks: $PROM_CHECKS_PASSED passed, $PROM_CHECKS_FAILED failed"
    ((PROM_CHECKS_FAILED == 0))
}
