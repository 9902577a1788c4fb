#!/usr/bin/env python3
"""Turns connpool's benchmark results (Google Benchmark JSON) into docs/benchmarks.md and the data
and script of its gnuplot chart. Python 3 standard library only. scripts/bench.sh runs it:

    bench_report.py --suite suite.json --memory memory.json --meta meta.json \
        --out docs/benchmarks.md --png benchmarks.png --plot-dir build/bench/results \
        [--postgres-fragment pg.md] [--postgres-status "..."]

Every figure comes from the JSON: the median over the repetitions of each benchmark (computed
here from the per-repetition entries, so one repetition works too). Ratios are connpool's median
divided by the peer's median, the same quantity as the vs_<peer> counters of the suite.
"""

import argparse
import json
import os
import re
import statistics
import sys

POOLS = ["connpool", "mutex", "soci", "poco"]
POOL_TITLES = {
    "connpool": "connpool",
    "mutex": "mutex + condvar",
    "soci": "SOCI 4.0 connection_pool",
    "poco": "Poco::ObjectPool",
    "connpool_use_time": "connpool, measure_use_time",
}
PEERS = [p for p in POOLS if p != "connpool"]

# name suffixes Google Benchmark appends to a registered name
GB_SUFFIX = re.compile(r"/(iterations:\d+|repeats:\d+|min_time:[\d.]+|real_time|manual_time|"
                       r"process_time|threads:\d+)")


def base_name(run_name):
    return GB_SUFFIX.sub("", run_name)


def load_runs(path):
    """{name: {"threads": n, "reps": [entry...], "error": msg or None}} from a GB JSON file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    runs = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "iteration":
            continue  # aggregates are recomputed from the repetitions
        name = base_name(b.get("run_name", b["name"]))
        threads = b.get("threads", 1)
        if threads != 1 or name.startswith("floor/"):
            name = f"{name}@{threads}"
        r = runs.setdefault(name, {"threads": threads, "reps": [], "error": None})
        if b.get("error_occurred"):
            r["error"] = b.get("error_message", "error")
        else:
            r["reps"].append(b)
    return data.get("context", {}), runs


def median(runs, name, counter):
    r = runs.get(name)
    if not r:
        return None
    values = [b[counter] for b in r["reps"] if counter in b]
    return statistics.median(values) if values else None


def spread(runs, name, counter):
    """(min, max) over the repetitions."""
    r = runs.get(name)
    if not r:
        return None
    values = [b[counter] for b in r["reps"] if counter in b]
    return (min(values), max(values)) if values else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# ----------------------------------------------------------------------------------------- format

def fmt_rate(v):
    if v is None:
        return "–"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g}"


def fmt_ns(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.3g} ms"
    if v >= 1e3:
        return f"{v / 1e3:.3g} µs"
    return f"{v:.0f} ns"


def fmt_ratio(v):
    if v is None:
        return "–"
    return f"{v:.2f}×"


def fmt_share(v):
    return "–" if v is None else f"{v:.2f}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- report

SCENARIO = re.compile(r"^blocking/(\d+)x(\d+)/(w[^/]+)/(\w+)$")


def blocking_scenarios(runs):
    """[(key, threads, conns, work)] in the order of the suite (W, then T x P)."""
    seen = {}
    for name in runs:
        m = SCENARIO.match(name)
        if m:
            key = f"blocking/{m.group(1)}x{m.group(2)}/{m.group(3)}"
            seen.setdefault(key, (int(m.group(1)), int(m.group(2)), m.group(3)))
    def order(item):
        t, p, w = item[1]
        return (0 if w == "w0" else 1, t, p)
    return [(k, *v) for k, v in sorted(seen.items(), key=order)]


def work_title(w):
    if w == "w0":
        return "0"
    m = re.match(r"w(\d+)(us|ns)$", w)
    return f"{m.group(1)} {'µs' if m.group(2) == 'us' else 'ns'}" if m else w


def present_pools(runs, scenarios):
    return [p for p in POOLS if any(f"{k}/{p}" in runs for k, *_ in scenarios)]


def budgets(runs, memory):
    """Rows of the budget table: (budget, target, measured, verdict)."""
    rows = []

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "**not met**")

    v = median(runs, "try_acquire/connpool", "vs_floor")
    if v is None:
        v = ratio(median(runs, "try_acquire/connpool", "ops_per_s"),
                  median(runs, "floor/treiber_pop_push@1", "ops_per_s"))
    rows.append(("`try_acquire` + release vs Treiber pop+push, 1 thread",
                 "within 2.5× (≥ 0.40×)", fmt_ratio(v), verdict(None if v is None else v >= 0.4)))
    v = median(runs, "try_acquire/limited", "vs_unlimited")
    rows.append(("`try_acquire` + release under a `connection_limit` vs without (issue 10)",
                 "within 1.3× (≥ 0.77×)", fmt_ratio(v),
                 verdict(None if v is None else v >= 1 / 1.3)))
    for (t, p, target) in ((1, 1, 1.5), (2, 2, 4.0), (16, 4, 4.5), (2, 1, 1.2)):
        key = f"blocking/{t}x{p}/w0"
        v = ratio(median(runs, f"{key}/connpool", "ops_per_s"),
                  median(runs, f"{key}/mutex", "ops_per_s"))
        rows.append((f"blocking {t}×{p}, W=0, vs mutex + condvar", f"≥ {target}×", fmt_ratio(v),
                     verdict(None if v is None else v >= target)))
    v = median(runs, "blocking/16x4/w0/connpool", "p99_ns")
    rows.append(("p99 acquire latency, 16×4, W=0", "< 170 ns", fmt_ns(v),
                 verdict(None if v is None else v < 170)))
    v = ratio(median(runs, "async/connpool", "ops_per_s"), median(runs, "async/post", "ops_per_s"))
    rows.append(("`async_acquire` + release vs `asio::post` round trip, 1 io_context thread",
                 "within 2× (≥ 0.50×)", fmt_ratio(v), verdict(None if v is None else v >= 0.5)))
    for threads in (1, 2):
        v = ratio(median(runs, keyed_name("keyed", threads), "ops_per_s"),
                  median(runs, keyed_name("pool", threads), "ops_per_s"))
        rows.append((f"`keyed_pool::try_acquire` + release of a key held vs `pool`'s, "
                     f"{threads} thread{'s' if threads > 1 else ''}", "within 2× (≥ 0.50×)",
                     fmt_ratio(v), verdict(None if v is None else v >= 0.5)))
    v = median(memory, "memory/per_connection", "bytes_per_connection")
    rows.append(("pool metadata per connection (beyond `sizeof(Connection)`)", "≤ 128 B",
                 "–" if v is None else f"{v:.0f} B", verdict(None if v is None else v <= 128)))
    w = median(memory, "memory/per_waiter", "bytes_per_waiter")
    h = median(memory, "memory/per_waiter", "handler_bytes") or 0
    v = None if w is None else w - h
    rows.append(("heap per parked `async_acquire` waiter (beyond the handler)", "≤ 256 B",
                 "–" if v is None else f"{v:.0f} B", verdict(None if v is None else v <= 256)))
    return rows


def keyed_name(kind, threads):
    """The run name of bench/keyed.cpp's benchmark `kind` (pool, keyed, shared_mutex)."""
    return f"keyed/{kind}" if threads == 1 else f"keyed/{kind}@{threads}"


def errors(runs):
    return [(n, r["error"]) for n, r in sorted(runs.items()) if r["error"]]


def build_markdown(args, meta, context, runs, memory, scenarios, pools):
    md = []
    reps = max((len(r["reps"]) for r in runs.values()), default=0)
    quick = meta.get("mode") == "quick"
    md.append("# connpool benchmarks\n")
    md.append("<!-- Generated by scripts/bench.sh (scripts/lib/bench_report.py); do not edit. -->\n")
    if quick:
        md.append("> **Quick run** (`--quick`): one short round per benchmark, for trying the "
                  "suite out. Not a measurement to quote.\n")
    md.append(
        "Regenerate with:\n\n```sh\n" + meta.get("command", "scripts/bench.sh") + "\n```\n\n"
        "It builds the suite in Release, runs it, and rewrites this page and "
        "[benchmarks.png](benchmarks.png) from the JSON output. Every figure is the median of "
        f"{reps} repetition{'s' if reps != 1 else ''} ({meta.get('round_seconds', '?')} s rounds "
        "for the timed harnesses). Ratios are connpool's median divided by the peer's median, "
        "within this run: compare them, not absolute figures across machines or runs.\n")

    md.append("## Machine and build\n")
    load = context.get("load_avg")
    rows = [
        ("CPU", f"{meta.get('cpu', '?')}, {meta.get('cores', '?')} cores "
                f"({context.get('mhz_per_cpu', '?')} MHz)"),
        ("OS", meta.get("os", "?")),
        ("Compiler", meta.get("compiler", "?")),
        ("Flags", f"`{meta.get('flags', '?')}`"),
        ("Libraries", meta.get("libraries", "?") + (
            f" (the Google Benchmark library reports a {context['library_build_type']} build; "
            "its timing loop is inlined into the benchmarks, which are built as above)"
            if context.get("library_build_type") else "")),
        ("Commit", f"`{meta.get('commit', '?')}`" + (" (working tree with uncommitted changes)"
                                                     if meta.get("dirty") == "yes" else "")),
        ("Date", meta.get("date", "?")),
        ("Duration", meta.get("duration", "?")),
        ("Load average at start", ", ".join(f"{x:.2f}" for x in load) if load else "?"),
    ]
    md.append(table(["", ""], rows) + "\n")
    if meta.get("note"):
        md.append(meta["note"] + "\n")
    try:
        cores = int(meta.get("cores", "0"))
        loads = [float(meta[k].split()[0]) for k in ("load_before", "load_after") if meta.get(k)]
    except ValueError:
        cores, loads = 0, []
    if cores and loads and max(loads) > cores:
        md.append(f"> **The machine was busy during this run** (1-minute load average up to "
                  f"{max(loads):.1f} on {cores} cores). The threads of the multi-threaded "
                  "scenarios were then often time-sliced on one core instead of running in "
                  "parallel, which hides much of the contention these scenarios are meant to create "
                  "(not necessarily to the same degree for every pool) and moves figures by far "
                  "more than the spread between repetitions suggests. Rerun on a quiet "
                  "machine before drawing conclusions from the multi-threaded rows.\n")
    md.append("Binaries run:\n\n```sh\n" + meta.get("runs", "") + "\n```\n")

    md.append("## Against the design budgets\n")
    md.append("The budgets of the design contract (its \"Budgets\" section), "
              "measured in this run.\n")
    md.append(table(["Budget", "Target", "Measured", ""], budgets(runs, memory)) + "\n")
    md.append("No heap allocation on the `try_acquire` and blocking fast paths is checked by the "
              "unit test `tests/unit/pool/fast_path_allocations.cpp`, not here.\n")

    # ---- blocking
    md.append("## Blocking acquire/release\n")
    md.append(
        "T threads share a pool of P connections, all created before the round starts; each "
        "thread loops *acquire (30 s deadline) → hold W of busy work → release* for the whole "
        "round. The hold is busy work (the thread spins on the TSC for W), not a sleep. ops/s counts completed "
        "acquire/release pairs of all threads together, in real time. Peers: "
        + ", ".join(f"**{p}** = {POOL_TITLES[p]}" for p in pools if p != "connpool")
        + ". SOCI's `lease()` waits without a deadline (its timed `try_lease` reads the clock on "
        "every call); the others use their timed acquire.\n")
    md.append("![Blocking acquire/release, ops/s and p99 acquire latency per pool]"
              f"({args.png})\n")
    header = ["T × P", "W"] + [f"{p} ops/s" for p in pools] + \
        [f"vs {p}" for p in pools if p != "connpool"]
    rows = []
    for key, t, p, w in scenarios:
        ops = {pool: median(runs, f"{key}/{pool}", "ops_per_s") for pool in pools}
        row = [f"{t} × {p}", work_title(w)] + [fmt_rate(ops[pool]) for pool in pools]
        row += [fmt_ratio(ratio(ops.get("connpool"), ops[peer])) for peer in pools
                if peer != "connpool"]
        rows.append(row)
    md.append(table(header, rows) + "\n")
    md.append("Spread of connpool's ops/s over the repetitions (min – max), and of the mutex "
              "baseline's, to judge the ratios by:\n")
    rows = []
    for key, t, p, w in scenarios:
        row = [f"{t} × {p}", work_title(w)]
        for pool in ("connpool", "mutex"):
            s = spread(runs, f"{key}/{pool}", "ops_per_s")
            row.append("–" if not s else f"{fmt_rate(s[0])} – {fmt_rate(s[1])}")
        rows.append(row)
    md.append(table(["T × P", "W", "connpool", "mutex"], rows) + "\n")

    md.append("### Acquire latency\n")
    md.append("Time spent in the acquire call, p50 / p99. Every 8th acquire of every thread is "
              "timed with the TSC (calibrated against `steady_clock`), into buffers allocated "
              "before the round; each sample is weighted by the operations it stands for. Each "
              "sample includes the cost of its two timestamps"
              + (f" ({float(context['connpool_timer_overhead_ns']):.0f} ns in this run, not "
                 "subtracted)" if context.get("connpool_timer_overhead_ns") else "")
              + ". With more threads than cores, the tail includes time a thread spent "
              "preempted.\n")
    header = ["T × P", "W"] + [f"{p} p50 / p99" for p in pools]
    rows = []
    for key, t, p, w in scenarios:
        row = [f"{t} × {p}", work_title(w)]
        for pool in pools:
            p50 = median(runs, f"{key}/{pool}", "p50_ns")
            p99 = median(runs, f"{key}/{pool}", "p99_ns")
            row.append("–" if p50 is None else f"{fmt_ns(p50)} / {fmt_ns(p99)}")
        rows.append(row)
    md.append(table(header, rows) + "\n")

    md.append("### Fairness\n")
    md.append("Each thread's share of the operations relative to the mean share: the smallest "
              "and the largest (1.00 / 1.00 = every thread did equally many).\n")
    header = ["T × P", "W"] + [f"{p} min / max" for p in pools]
    rows = []
    for key, t, p, w in scenarios:
        if t == 1:
            continue
        row = [f"{t} × {p}", work_title(w)]
        for pool in pools:
            lo = median(runs, f"{key}/{pool}", "fair_min")
            hi = median(runs, f"{key}/{pool}", "fair_max")
            row.append("–" if lo is None else f"{fmt_share(lo)} / {fmt_share(hi)}")
        rows.append(row)
    md.append(table(header, rows) + "\n")

    # ---- fast path
    md.append("## Fast path: `try_acquire` against its floor\n")
    md.append("The floor is a bare tagged Treiber stack (`bench/support/treiber_stack.hpp`): one "
              "pop + push pair per operation, with one thread, and with two threads hammering one "
              "head (ops/s of both together).\n")
    rows = []
    for name, title in (("floor/treiber_pop_push@1", "Treiber pop + push, 1 thread"),
                        ("floor/treiber_pop_push@2", "Treiber pop + push, 2 threads"),
                        ("try_acquire/connpool", "connpool `try_acquire` + release, 1 thread"),
                        ("try_acquire/limited",
                         "the same, pool under a `connection_limit` shared with another pool")):
        ops = median(runs, name, "ops_per_s")
        floor = median(runs, "floor/treiber_pop_push@1", "ops_per_s")
        rows.append((title, fmt_rate(ops), fmt_ns(1e9 / ops) if ops else "–",
                     fmt_ratio(ratio(ops, floor))))
    md.append(table(["", "ops/s", "ns/op", "vs 1-thread floor"], rows) + "\n")

    # ---- histograms
    md.append(histogram_cost(runs))
    md.append(observer_cost(runs))

    # ---- async
    md.append("## Asynchronous acquire on one `io_context` thread\n")
    md.append("An idle connection is always available; the benchmark's own thread runs the "
              "`io_context`. The baseline posts a handler and runs it, on an `io_context` with one "
              "timer armed, as the pool's housekeeping timer is on the pool's: with no I/O object "
              "at all, Asio's scheduler skips its reactor between handlers and a post is several "
              "times cheaper than in any program that does I/O.\n")
    rows = []
    for kind, title in (("async", "completion handler"), ("coro", "C++20 coroutine, "
                                                                  "`use_awaitable`")):
        post = median(runs, f"{kind}/post", "ops_per_s")
        acq = median(runs, f"{kind}/connpool", "ops_per_s")
        rows.append((title, fmt_rate(post), fmt_ns(1e9 / post) if post else "–", fmt_rate(acq),
                     fmt_ns(1e9 / acq) if acq else "–", fmt_ratio(ratio(acq, post))))
    md.append(table(["", "`asio::post` ops/s", "ns/op", "`async_acquire` + release ops/s",
                     "ns/op", "connpool vs post"], rows) + "\n")

    # ---- keyed
    md.append("## Keyed pool: `try_acquire` of a key held\n")
    md.append("`keyed_pool::try_acquire(key)` + release of one key held (a short string), whose "
              "pool holds one connection per thread, against `pool::try_acquire()` + release of a "
              "pool of as many connections; with 2 threads both use the same key. ops/s counts "
              "the pairs of all threads together. For comparison, the design keyed_pool does not "
              "use: the pool behind a `std::shared_mutex` and a `std::unordered_map` lookup, whose "
              "shared lock writes one line that every reader shares "
              "(`include/connpool/detail/keyed/read_mostly_lock.hpp`).\n")
    rows = []
    for threads in (1, 2):
        plain = median(runs, keyed_name("pool", threads), "ops_per_s")
        keyed = median(runs, keyed_name("keyed", threads), "ops_per_s")
        shared = median(runs, keyed_name("shared_mutex", threads), "ops_per_s")
        rows.append((threads, fmt_rate(plain), fmt_rate(keyed), fmt_ratio(ratio(keyed, plain)),
                     fmt_rate(shared), fmt_ratio(ratio(shared, plain))))
    md.append(table(["threads", "`pool` ops/s", "`keyed_pool` ops/s", "keyed vs pool",
                     "`shared_mutex` + map ops/s", "vs pool"], rows) + "\n")

    # ---- handoff
    md.append("## Handoff latency\n")
    md.append("From the release of the only connection to the resumption of the waiter that gets "
              "it. The waiter is parked (asleep) before the release. Blocking: two threads "
              "ping-pong one connection through `acquire()`. Async: an `async_acquire` waits on an "
              "`io_context` run by another thread; the baseline is an `asio::post` to that "
              "thread.\n")
    rows = []
    for name, title in (("handoff/blocking/mutex", "blocking, mutex + condvar"),
                        ("handoff/blocking/connpool", "blocking, connpool"),
                        ("handoff/async/post", "async, `asio::post` to the io thread"),
                        ("handoff/async/connpool", "async, connpool")):
        rows.append((title, fmt_ns(median(runs, name, "p50_ns")),
                     fmt_ns(median(runs, name, "p99_ns")),
                     "–" if median(runs, name, "handoffs") is None
                     else f"{median(runs, name, 'handoffs'):.0f}"))
    md.append(table(["", "p50", "p99", "samples / round"], rows) + "\n")

    # ---- memory
    md.append("## Memory\n")
    md.append("Measured by `connpool_bench_memory`, which counts every live byte requested from "
              "the global `operator new`. Per connection: (pool of 2N pre-warmed connections − "
              "pool of N) / N − `sizeof(Connection)`. Per waiter: live bytes added by N parked "
              "`async_acquire` calls, each with its deadline timer armed, / N.\n")
    n = median(memory, "memory/per_connection", "connections")
    rows = [
        ("pool metadata per connection", fmt_bytes(median(memory, "memory/per_connection",
                                                          "bytes_per_connection")),
         f"N = {n:.0f}, `sizeof(Connection)` = "
         f"{median(memory, 'memory/per_connection', 'connection_bytes') or 0:.0f} B" if n else ""),
        ("fixed cost of a pool (beyond its connections)",
         fmt_bytes(median(memory, "memory/per_connection", "fixed_bytes")), ""),
        ("heap per parked waiter",
         fmt_bytes(median(memory, "memory/per_waiter", "bytes_per_waiter")),
         f"handler of {median(memory, 'memory/per_waiter', 'handler_bytes') or 0:.0f} B "
         f"included; N = {median(memory, 'memory/per_waiter', 'waiters') or 0:.0f}"),
    ]
    md.append(table(["", "bytes", ""], rows) + "\n")
    md.append("A thread blocked in `acquire()` waits on its own stack: no heap.\n")

    # ---- postgres
    md.append("## PostgreSQL\n")
    if args.postgres_fragment and os.path.exists(args.postgres_fragment) and \
            os.path.getsize(args.postgres_fragment) > 0 and args.postgres_status == "ok":
        with open(args.postgres_fragment, encoding="utf-8") as f:
            frag = f.read().strip()
        # the fragment's top headings become level 3, under this section's
        levels = [len(h) for h in re.findall(r"^(#+) ", frag, flags=re.M)]
        shift = 3 - min(levels) if levels else 0
        frag = re.sub(r"^(#+) ", lambda m: "#" * max(1, min(6, len(m.group(1)) + shift)) + " ",
                      frag, flags=re.M)
        md.append(frag + "\n")
    else:
        md.append(f"Not measured in this run: {args.postgres_status or 'no result'}.\n")

    errs = errors(runs) + errors(memory)
    if errs:
        md.append("## Benchmarks that failed\n")
        md.append(table(["Benchmark", "Error"], errs) + "\n")
    return "\n".join(md)


def histogram_cost(runs):
    """The section on what recording the histograms costs: the same benchmarks with
    pool_options::measure_use_time (the suite's connpool_use_time runs) against without."""
    md = ["## Cost of the histograms\n",
          "Acquire wait times and connect times are always recorded, on the slow paths (a waiter "
          "leaving the queue, under the mutex it takes anyway; a connect, on the strand): every "
          "connpool figure on this page includes them. The use time of each lease is recorded "
          "only with `pool_options::measure_use_time`, because it reads the clock when a "
          "connection is lent and when it comes back; below, the same benchmarks with it "
          "(connpool_use_time) and without it, in this run.\n"]
    rows = []
    plain = median(runs, "try_acquire/connpool", "ops_per_s")
    timed = median(runs, "try_acquire/connpool_use_time", "ops_per_s")
    if plain is not None or timed is not None:
        rows.append(("`try_acquire` + release, 1 thread", fmt_rate(plain),
                     fmt_ns(1e9 / plain) if plain else "–", fmt_rate(timed),
                     fmt_ns(1e9 / timed) if timed else "–", fmt_ratio(ratio(timed, plain))))
    for key, t, p, w in blocking_scenarios(runs):
        if f"{key}/connpool_use_time" not in runs:
            continue
        plain = median(runs, f"{key}/connpool", "ops_per_s")
        timed = median(runs, f"{key}/connpool_use_time", "ops_per_s")
        p99 = [median(runs, f"{key}/{pool}", "p99_ns") for pool in ("connpool",
                                                                     "connpool_use_time")]
        rows.append((f"blocking {t} × {p}, W = {work_title(w)} (p99 {fmt_ns(p99[0])} → "
                     f"{fmt_ns(p99[1])})", fmt_rate(plain), fmt_ns(1e9 / plain) if plain else "–",
                     fmt_rate(timed), fmt_ns(1e9 / timed) if timed else "–",
                     fmt_ratio(ratio(timed, plain))))
    if not rows:
        md.append("Not measured in this run.\n")
        return "\n".join(md)
    md.append(table(["", "ops/s", "ns/op", "with use time: ops/s", "ns/op", "with / without"],
                    rows) + "\n")
    md.append("Blocking ns/op is the round's real time per operation of all threads together.\n")
    return "\n".join(md)


def observer_cost(runs):
    """The section on what an observer and leak detection cost the fast path: try_acquire +
    release with a pool_observer (try_acquire/observed) and with leak_threshold set
    (try_acquire/leak_threshold), against the plain pool in the same run."""
    md = ["## Cost of an observer and of leak detection\n",
          "A pool without an observer tests one pointer on its fast paths (and one byte of lease "
          "marks instead of two options): that cost is inside every connpool figure on this "
          "page. With an observer (here one that counts acquires and returns and answers "
          "`before_lend` and `after_return`), a lease reads the clock when it is lent and when "
          "it comes back, and each event or hook is a virtual call. With `leak_threshold`, a "
          "lease stores a coarse time stamp and its acquire's call site (three words).\n"]
    plain = median(runs, "try_acquire/connpool", "ops_per_s")
    rows = []
    for name, title in (("try_acquire/observed", "with an observer"),
                        ("try_acquire/leak_threshold", "with `leak_threshold`")):
        v = median(runs, name, "ops_per_s")
        if v is None:
            continue
        rows.append((f"`try_acquire` + release, 1 thread, {title}", fmt_rate(plain),
                     fmt_ns(1e9 / plain) if plain else "–", fmt_rate(v), fmt_ns(1e9 / v),
                     fmt_ratio(ratio(v, plain))))
    if not rows:
        md.append("Not measured in this run.\n")
        return "\n".join(md)
    md.append(table(["", "plain ops/s", "ns/op", "ops/s", "ns/op", "vs plain"], rows) + "\n")
    return "\n".join(md)


def fmt_bytes(v):
    return "–" if v is None else f"{v:.0f} B"


# ----------------------------------------------------------------------------------------- chart

def write_plot(args, runs, scenarios, pools):
    # The chart shows the use-time histogram's cost too, in the scenarios that measure it.
    if any(f"{k}/connpool_use_time" in runs for k, *_ in scenarios):
        pools = pools[:1] + ["connpool_use_time"] + pools[1:]
    os.makedirs(args.plot_dir, exist_ok=True)
    dat = os.path.join(args.plot_dir, "benchmarks.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# scenario " + " ".join(f"{p}_ops {p}_p99" for p in pools) + "\n")
        for key, t, p, w in scenarios:
            label = f"{t}x{p} W={work_title(w).replace(' ', '')}"
            vals = []
            for pool in pools:
                for counter in ("ops_per_s", "p99_ns"):
                    v = median(runs, f"{key}/{pool}", counter)
                    vals.append("NaN" if v is None or v <= 0 else f"{v:.6g}")
            f.write(f'"{label}" ' + " ".join(vals) + "\n")
    colors = {"connpool": "#1f77b4", "connpool_use_time": "#aec7e8", "mutex": "#ff7f0e",
              "soci": "#2ca02c", "poco": "#9467bd"}
    gp = os.path.join(args.plot_dir, "benchmarks.gp")
    ops_cols = ", ".join(
        f"'{dat}' using {2 + 2 * i}:xtic(1) title '{POOL_TITLES[p]}' lc rgb '{colors[p]}'"
        for i, p in enumerate(pools))
    p99_cols = ", ".join(
        f"'{dat}' using {3 + 2 * i}:xtic(1) notitle lc rgb '{colors[p]}'"
        for i, p in enumerate(pools))
    with open(gp, "w", encoding="utf-8") as f:
        f.write(f"""# Generated by scripts/lib/bench_report.py
set terminal pngcairo size 1400,1000 font 'DejaVu Sans,11' noenhanced
set output '{args.png_path}'
set multiplot layout 2,1 title 'connpool blocking acquire/release (T threads x P connections, hold W), median of the repetitions'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics
set key top right
set xtics rotate by -30
set datafile missing 'NaN'
set format y '%.0s%c'
set title 'Throughput: acquire/release pairs per second, all threads (higher is better)'
set ylabel 'ops/s (log)'
set yrange [1e4:*]
plot {ops_cols}
set title 'p99 acquire latency (lower is better)'
set ylabel 'ns (log)'
set format y '%.0s%c'
set yrange [10:*]
plot {p99_cols}
unset multiplot
""")
    return gp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", required=True)
    ap.add_argument("--memory")
    ap.add_argument("--meta", required=True, help="JSON object: machine, build and command")
    ap.add_argument("--out", required=True, help="the markdown file to write")
    ap.add_argument("--png", default="benchmarks.png", help="the chart, relative to --out")
    ap.add_argument("--plot-dir", required=True, help="where the gnuplot data and script go")
    ap.add_argument("--postgres-fragment")
    ap.add_argument("--postgres-status", default="")
    args = ap.parse_args()
    args.png_path = os.path.join(os.path.dirname(os.path.abspath(args.out)), args.png)

    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    context, runs = load_runs(args.suite)
    memory = load_runs(args.memory)[1] if args.memory and os.path.exists(args.memory) else {}
    scenarios = blocking_scenarios(runs)
    pools = present_pools(runs, scenarios)
    md = build_markdown(args, meta, context, runs, memory, scenarios, pools)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(md.rstrip() + "\n")
    gp = write_plot(args, runs, scenarios, pools)
    print(f"bench_report: wrote {args.out}; chart script {gp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
