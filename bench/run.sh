#!/usr/bin/env bash
# Socket benchmarks: sockloop against raw Tokio (BENCHMARKS.md, issues 3
# and 5). Loopback only; every server and client stops by itself.
#
#   bench/run.sh                      everything (about 6-7 minutes)
#   PAIRS=3 DUR=3 bench/run.sh        fewer/shorter runs
#   ONLY=http|bulk|idle|mt bench/run.sh   one part
#   FEATURES=tracing bench/run.sh     with sockloop's `tracing` feature (the HTTP
#                                     server installs a subscriber at level info)
#
# Raw results go to target/bench-results/*.tsv; the summary (markdown
# tables with medians and sockloop/tokio ratios) to stdout and
# target/bench-results/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-5}          # alternating sockloop/tokio pairs per point
DUR=${DUR:-5}              # seconds per wrk run
CONNS=${CONNS:-"1 50 500"}
MT_CONNS=${MT_CONNS:-"50 500"}
MT_REPS=${MT_REPS:-3}
IDLE_CONNS=${IDLE_CONNS:-10000}
ONLY=${ONLY:-all}
OUT=target/bench-results
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "== installing $1 ==" >&2
        apt-get update -qq && apt-get install -y -qq "$1" >/dev/null
    fi
}
need wrk
need taskset || true

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 20000 2>/dev/null || true
echo "ulimit -n: $(ulimit -n)" >&2

echo "== cargo build --release --benches ==" >&2
bin() { # the executable of bench target $1
    cargo build --release --bench "$1" ${FEATURES:+--features "$FEATURES"} --message-format=json 2>/dev/null \
        | grep -o '"executable":"[^"]*'"$1"'-[^"]*"' | tail -1 | cut -d'"' -f4
}
HTTP=$(bin http_hello)
BULK=$(bin bulk)
[[ -x "$HTTP" && -x "$BULK" ]] || { echo "build failed" >&2; exit 1; }

TCK=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of PID $1, in clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

SERVER_PID=
start_server() { # start_server CPUS ARGS... -> sets SERVER_PID, PORT
    local cpus=$1; shift
    local f
    f=$(mktemp)
    if [[ $cpus == all ]]; then
        "$@" >"$f" 2>/dev/null &
    else
        taskset -c "$cpus" "$@" >"$f" 2>/dev/null &
    fi
    SERVER_PID=$!
    for _ in $(seq 100); do
        PORT=$(awk '/^port/ { print $2 }' "$f")
        [[ -n $PORT ]] && break
        sleep 0.05
    done
    rm -f "$f"
    [[ -n $PORT ]] || { echo "server did not start: $*" >&2; exit 1; }
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

to_us() { # wrk latency ("270.00us", "1.20ms", "1.01s") -> microseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
        else if (v ~ /s$/) print n * 1000000; else print n }'
}

# wrk_run LABEL CONNS WRKCPUS -> appends "label conns req/s p99us cpu_us_per_req" to $TSV
wrk_run() {
    local label=$1 conns=$2 wcpus=$3 out t0 t1 reqs rps p99
    local wrk=(wrk -t1 -c"$conns" -d"${DUR}s" --latency "http://127.0.0.1:$PORT/")
    [[ $wcpus == all ]] || wrk=(taskset -c "$wcpus" "${wrk[@]}")
    # Warm-up (connections, allocator, caches), not measured.
    "${wrk[@]/-d${DUR}s/-d1s}" >/dev/null
    t0=$(cpu_ticks "$SERVER_PID")
    out=$("${wrk[@]}")
    t1=$(cpu_ticks "$SERVER_PID")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    if grep -q "Socket errors" <<<"$out"; then
        echo "  ($label c=$conns) $(grep 'Socket errors' <<<"$out")" >&2
    fi
    local cpu_us
    cpu_us=$(awk -v d=$((t1 - t0)) -v t="$TCK" -v r="$reqs" 'BEGIN { printf "%.3f", d / t * 1e6 / r }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$conns" "$rps" "$p99" "$cpu_us" >>"$TSV"
    printf '  %-12s c=%-4s %10s req/s  p99 %7s us  %s us/req\n' "$label" "$conns" "$rps" "$p99" "$cpu_us" >&2
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u '+%F %T UTC'); nproc: $(nproc); kernel: $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt" >&2

# ===== issue 3: HTTP hello, server on core 0, wrk on core 1 =====
if [[ $ONLY == all || $ONLY == http ]]; then
    TSV=$OUT/http.tsv
    : >"$TSV"
    echo "== http hello: $PAIRS pairs x {$CONNS} conns, ${DUR}s each ==" >&2
    for pair in $(seq "$PAIRS"); do
        for c in $CONNS; do
            # Alternate which one goes first.
            if (( pair % 2 )); then order="sockloop tokio"; else order="tokio sockloop"; fi
            for impl in $order; do
                start_server 0 "$HTTP" "$impl" --exit-after $((DUR * 2 + 10))
                wrk_run "$impl" "$c" 1
                stop_server
            done
        done
    done
fi

# ===== issue 3: bulk loopback throughput =====
if [[ $ONLY == all || $ONLY == bulk ]]; then
    TSV=$OUT/bulk.tsv
    : >"$TSV"
    echo "== bulk: 64 KiB sends, $PAIRS pairs, 3 s each ==" >&2
    for pair in $(seq "$PAIRS"); do
        if (( pair % 2 )); then order="sockloop tokio"; else order="tokio sockloop"; fi
        for impl in $order; do
            start_server 0 "$BULK" server "$impl" --exit-after 20
            t0=$(cpu_ticks "$SERVER_PID")
            mb=$(taskset -c 1 "$BULK" client "$impl" --port "$PORT" --secs 3 | awk '/mb_per_s/ { print $2 }')
            t1=$(cpu_ticks "$SERVER_PID")
            stop_server
            printf '%s\t%s\t%s\n' "$impl" "$mb" $((t1 - t0)) >>"$TSV"
            printf '  %-9s %8s MB/s  server cpu %s ticks\n' "$impl" "$mb" $((t1 - t0)) >&2
        done
    done
fi

# ===== issue 3: idle keep-alive connections, server RSS =====
if [[ $ONLY == all || $ONLY == idle ]]; then
    TSV=$OUT/idle.tsv
    : >"$TSV"
    echo "== idle: $IDLE_CONNS connections, 2 pairs ==" >&2
    for pair in 1 2; do
        if (( pair % 2 )); then order="sockloop tokio"; else order="tokio sockloop"; fi
        for impl in $order; do
            start_server 0 "$HTTP" "$impl" --exit-after 60
            sleep 0.3
            before=$(rss_kb "$SERVER_PID")
            "$HTTP" idle-client --port "$PORT" --conns "$IDLE_CONNS" --hold 60 >/dev/null &
            client=$!
            # Wait until the server holds every connection (fds >= conns).
            for _ in $(seq 300); do
                nfd=$(ls "/proc/$SERVER_PID/fd" | wc -l)
                (( nfd >= IDLE_CONNS )) && break
                sleep 0.1
            done
            sleep 1
            after=$(rss_kb "$SERVER_PID")
            kill "$client" 2>/dev/null || true
            wait "$client" 2>/dev/null || true
            stop_server
            per=$(( (after - before) * 1024 / IDLE_CONNS ))
            printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$before" "$after" "$per" "$nfd" >>"$TSV"
            printf '  %-9s rss %s -> %s KiB: %s bytes/conn (%s fds)\n' "$impl" "$before" "$after" "$per" "$nfd" >&2
        done
    done
fi

# ===== issue 5: several loops on one shared reactor =====
if [[ $ONLY == all || $ONLY == mt ]]; then
    TSV=$OUT/mt.tsv
    : >"$TSV"
    echo "== multi-thread: not pinned (server may use both cores, wrk shares them), wrk -t1 ==" >&2
    for rep in $(seq "$MT_REPS"); do
        for c in $MT_CONNS; do
            for cfg in "sockloop-1:sockloop --loops 1" "sockloop-2:sockloop --loops 2" \
                "sockloop-2-own:sockloop --loops 2 --reactor own" "tokio-mt-2:tokio-mt --workers 2"; do
                label=${cfg%%:*}
                # shellcheck disable=SC2086
                start_server all "$HTTP" ${cfg#*:} --exit-after $((DUR * 2 + 10))
                wrk_run "$label" "$c" all
                stop_server
            done
        done
    done
fi

# ===== summary =====
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2
python3 - "$OUT" "$IDLE_CONNS" <<'EOF' | tee "$OUT/summary.md"
import sys, os, statistics as st
out = sys.argv[1]
print("Machine: " + open(os.path.join(out, "machine.txt")).read().replace("\n", "; ").strip("; "))
print()
def rows(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    return [l.rstrip("\n").split("\t") for l in open(p) if l.strip()]
def spread(v):
    m = st.median(v)
    return 100 * (max(v) - min(v)) / m if m else 0
http = rows("http.tsv")
if http:
    print("### HTTP hello (server core 0, wrk -t1 core 1): medians of %d runs" % (len(http) // 6 or 1))
    print()
    print("| conns | impl | req/s | p99 µs | CPU µs/req | req/s spread | CPU spread |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    med = {}
    for c in sorted({int(r[1]) for r in http}):
        for impl in ("sockloop", "tokio"):
            rs = [r for r in http if r[0] == impl and int(r[1]) == c]
            if not rs: continue
            rps = [float(r[2]) for r in rs]; p99 = [float(r[3]) for r in rs]; cpu = [float(r[4]) for r in rs]
            med[(impl, c)] = (st.median(rps), st.median(p99), st.median(cpu))
            print("| %d | %s | %.0f | %.0f | %.3f | ±%.0f %% | ±%.0f %% |" % (c, impl, *med[(impl, c)], spread(rps) / 2, spread(cpu) / 2))
    print()
    print("| conns | req/s ratio (target ≥ 0.97) | p99 ratio | CPU/req ratio (target ≤ 1.03) |")
    print("|---:|---:|---:|---:|")
    for c in sorted({k[1] for k in med}):
        if ("sockloop", c) in med and ("tokio", c) in med:
            a, b = med[("sockloop", c)], med[("tokio", c)]
            print("| %d | %.3f | %.2f | %.3f |" % (c, a[0] / b[0], a[1] / b[1], a[2] / b[2]))
    print()
bulk = rows("bulk.tsv")
if bulk:
    print("### Bulk loopback (64 KiB sends, server core 0, client core 1, 3 s)")
    print()
    print("| impl | MB/s (median) | min | max |")
    print("|---|---:|---:|---:|")
    m = {}
    for impl in ("sockloop", "tokio"):
        v = [float(r[1]) for r in bulk if r[0] == impl]
        if v:
            m[impl] = st.median(v)
            print("| %s | %.0f | %.0f | %.0f |" % (impl, m[impl], min(v), max(v)))
    if len(m) == 2:
        print("\nsockloop/tokio MB/s ratio (target ≥ 0.95): %.3f" % (m["sockloop"] / m["tokio"]))
    print()
idle = rows("idle.tsv")
if idle:
    print("### Idle keep-alive connections: server RSS")
    print()
    print("| impl | idle conns | server fds | RSS before KiB | RSS after KiB | bytes/conn (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    m = {}
    for impl in ("sockloop", "tokio"):
        rs = [r for r in idle if r[0] == impl]
        if rs:
            m[impl] = st.median([int(r[3]) for r in rs])
            print("| %s | %s | %s | %s | %s | %d |" % (impl, sys.argv[2], rs[0][4], rs[0][1], rs[0][2], m[impl]))
    if len(m) == 2:
        print("\nsockloop/tokio bytes/conn ratio (target ≤ 1.1): %.3f" % (m["sockloop"] / m["tokio"]))
    print()
mt = rows("mt.tsv")
if mt:
    print("### Multi-thread (not pinned; wrk -t1 shares the 2 cores): medians")
    print()
    print("| conns | config | req/s | p99 µs | CPU µs/req |")
    print("|---:|---|---:|---:|---:|")
    for c in sorted({int(r[1]) for r in mt}):
        for cfg in ("sockloop-1", "sockloop-2", "sockloop-2-own", "tokio-mt-2"):
            rs = [r for r in mt if r[0] == cfg and int(r[1]) == c]
            if rs:
                print("| %d | %s | %.0f | %.0f | %.3f |" % (c, cfg, st.median([float(r[2]) for r in rs]),
                      st.median([float(r[3]) for r in rs]), st.median([float(r[4]) for r in rs])))
    print()
EOF
