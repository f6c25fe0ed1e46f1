#!/usr/bin/env bash
# User-space instructions per HTTP request, sockloop against raw Tokio
# (BENCHMARKS.md "Instructions per request (callgrind)", issue 8).
# Wall-clock figures on a shared machine swing by ±15 %; instruction counts
# move by about 1 %. Loopback only; every server and wrk run stops by itself.
#
#   bench/callgrind.sh                    {sockloop, tokio} x {1, 50, 500} conns, about 2 minutes
#   CONNS=50 bench/callgrind.sh           one point
#   SHORT=1 LONG=4 bench/callgrind.sh     other wrk durations (seconds)
#   FEATURES=tracing bench/callgrind.sh   with sockloop's `tracing` feature (the server
#                                         installs a subscriber at level info)
#
# Method. Each server of benches/http_hello.rs runs under
# `valgrind --tool=callgrind` (all instructions of all its threads, from
# start to exit) twice: once under `wrk -t1 -cN -d${SHORT}s` and once under
# `wrk -t1 -cN -d${LONG}s`, each a fresh process stopped by closing its stdin
# (`--exit-on-eof`), so that it prints the requests it answered and
# callgrind writes its totals. The steady-state cost per request is
#
#     Ir/req = (Ir_long - Ir_short) / (requests_long - requests_short)
#
# Startup, accepting and closing the N connections, and exit are the same in
# both runs and cancel out (under callgrind a run serves ~50x fewer requests
# than natively, so at 500 connections the per-connection cost would
# otherwise weigh ~10x more than in bench/run.sh's 5 s runs). Requests are the
# server's own count (`requests N` on its stderr), not wrk's (which misses
# the requests in flight when it stops). The "whole run" column is
# Ir_long / requests_long, everything included, for comparison with older
# figures.
#
# Output: the table on stdout (and target/bench-results/callgrind.md); the
# callgrind files in target/bench-results/callgrind/ (`callgrind_annotate
# FILE` lists the functions).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-"1 50 500"}
MODES=${MODES:-"sockloop tokio"}
SHORT=${SHORT:-2}          # seconds of the short wrk run
LONG=${LONG:-6}            # seconds of the long wrk run
OUT=target/bench-results
CG=$OUT/callgrind
mkdir -p "$CG"

need() { # need COMMAND PACKAGE
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "== installing $2 ==" >&2
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    fi
}
need wrk wrk
need valgrind valgrind
PIN=()
command -v taskset >/dev/null 2>&1 && PIN=(taskset -c)

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 20000 2>/dev/null || true

# The bench profile: release + line tables (debug = 1), so that
# callgrind_annotate can name the functions.
echo "== cargo build --profile bench --bench http_hello ==" >&2
HTTP=$(cargo build --profile bench --bench http_hello ${FEATURES:+--features "$FEATURES"} \
    --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*http_hello-[^"]*"' | tail -1 | cut -d'"' -f4)
[[ -x "$HTTP" ]] || { echo "build failed" >&2; exit 1; }

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# measure MODE CONNS SECS -> sets REQS (the server's count) and IR
measure() {
    local mode=$1 conns=$2 secs=$3 tag=$1-c$2-d$3
    local file=$CG/callgrind.$tag.out log=$TMP/$tag.log port= ctl=$TMP/$tag.ctl
    mkfifo "$ctl"
    # Server on core 0, wrk on core 1 (as bench/run.sh); the server also
    # exits by itself after a minute if this script dies.
    ${PIN[@]:+"${PIN[@]}" 0} valgrind --tool=callgrind --callgrind-out-file="$file" \
        "$HTTP" "$mode" --exit-on-eof --exit-after $((secs + 60)) \
        <"$ctl" >"$TMP/$tag.port" 2>"$log" &
    SERVER_PID=$!
    exec {w}>"$ctl" # the server's stdin stays open until this closes
    for _ in $(seq 200); do
        port=$(awk '/^port/ { print $2 }' "$TMP/$tag.port")
        [[ -n $port ]] && break
        sleep 0.05
    done
    [[ -n $port ]] || { echo "server did not start: $mode" >&2; cat "$log" >&2; exit 1; }
    ${PIN[@]:+"${PIN[@]}" 1} wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/" >"$TMP/$tag.wrk"
    exec {w}>&- # EOF on the server's stdin: it reports and exits
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "server did not stop: $mode c=$conns" >&2
        exit 1
    fi
    wait "$SERVER_PID" || true
    SERVER_PID=
    local wrkreqs
    REQS=$(awk '/^cpu_secs/ { print $4 }' "$log")
    IR=$(awk '/^summary:/ { print $2 }' "$file")
    wrkreqs=$(awk '/requests in/ { print $1 }' "$TMP/$tag.wrk")
    [[ -n $REQS && -n $IR ]] || { echo "no figures from $tag" >&2; cat "$log" >&2; exit 1; }
    if grep -q "Socket errors" "$TMP/$tag.wrk"; then
        echo "  ($tag) $(grep 'Socket errors' "$TMP/$tag.wrk")" >&2
    fi
    printf '  %-8s c=%-3s %ss: server %s requests (wrk %s), Ir %s\n' \
        "$mode" "$conns" "$secs" "$REQS" "$wrkreqs" "$IR" >&2
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src benches 2>/dev/null || echo '+changes'); $(date -u '+%F %T UTC'); $(valgrind --version); wrk -t1 -d${SHORT}s/${LONG}s; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$TMP/head"
cat "$TMP/head" >&2

TSV=$CG/figures.tsv   # (not in $OUT: bench/run.sh clears $OUT/*.tsv)
: >"$TSV"
for c in $CONNS; do
    for mode in $MODES; do
        measure "$mode" "$c" "$SHORT"
        r1=$REQS i1=$IR
        measure "$mode" "$c" "$LONG"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$r1" "$i1" "$REQS" "$IR" >>"$TSV"
    done
done

python3 - "$TSV" "$TMP/head" <<'EOF' | tee "$OUT/callgrind.md"
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print("Run: " + open(sys.argv[2]).read().strip())
print()
print("| mode | conns | requests (long run) | Ir total (long run) | Ir/req | whole-run Ir/req | ratio sockloop/tokio |")
print("|---|---:|---:|---:|---:|---:|---:|")
per = {}
for mode, c, r1, i1, r2, i2 in rows:
    r1, i1, r2, i2 = int(r1), int(i1), int(r2), int(i2)
    per[(mode, c)] = (i2 - i1) / (r2 - r1) if r2 > r1 else float("nan")
for mode, c, r1, i1, r2, i2 in rows:
    ratio = ""
    if mode == "sockloop" and ("tokio", c) in per:
        ratio = "%.3f" % (per[(mode, c)] / per[("tokio", c)])
    print("| %s | %s | %s | %s | %.0f | %.0f | %s |" % (
        mode, c, f"{int(r2):,}", f"{int(i2):,}", per[(mode, c)], int(i2) / int(r2), ratio))
print()
print("Ir/req = (Ir_long - Ir_short) / (requests_long - requests_short): user-space")
print("instructions per request with startup, connection setup and exit cancelled out.")
EOF
