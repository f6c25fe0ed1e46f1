#!/usr/bin/env bash
# The bridge against the engine it replaces (BENCHMARKS.md, issues 14 and 22).
#
#   sockloop-lua/bench.sh                       everything below, about 6 minutes
#   ONLY=http|pingpong|mem sockloop-lua/bench.sh     one part
#   LUA_BIN=/path/to/sockloop-lua sockloop-lua/bench.sh
#                                               another bridge runner (e.g. one built
#                                               at an older commit) instead of this
#                                               tree's target/release/sockloop-lua
#
# http: the same Lua file, ../shared/bench/sock_lua_http.lua (HTTP_LUA=),
#   on (a) the real sock.lua (LuaJIT of the reference built by
#   tools/build-reference.sh, REF=/work/ref), (b) the bridge's runner, and
#   (c) the Rust responder benches/http_hello.rs on sockloop; at each of
#   CONNS="1 50 500" connections, ROUNDS=3 rounds, the three servers
#   alternating (the order rotates each round), a fresh server per run.
#   Server on core 0, `wrk -t1 --latency` on core 1, a 1 s warm-up then
#   DUR=5 seconds measured. Per run: req/s, p99 latency, and CPU per
#   request (the server's utime+stime from /proc/PID/stat around the
#   measured run, divided by the requests wrk counted). Medians of the
#   rounds in a markdown table.
# pingpong: sockloop-lua/benches/pingpong.lua on the bridge (wall clock;
#   bench/callgrind_bridge.sh counts instructions instead).
# mem: RSS per parked connection: the same Lua file on sock.lua and on the
#   bridge, MEM_CONNS=10000 connections that send nothing (http_hello's
#   idle-client, source addresses 127.0.0.2-127.0.0.9), each parked in
#   `recv` on the server; (RSS parked - RSS idle) / MEM_CONNS, 2 rounds.
#
# Results: target/bench-results/bridge-*.tsv and bridge-summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ONLY=${ONLY:-all}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-1 50 500}
MEM_CONNS=${MEM_CONNS:-10000}
REF=${REF:-/work/ref}
HTTP_LUA=${HTTP_LUA:-$ROOT/../shared/bench/sock_lua_http.lua}
HTTP_LUA=$(realpath "$HTTP_LUA")
OUT=$ROOT/target/bench-results
mkdir -p "$OUT"
LUAJIT_REF=$REF/bin/luajit-ref
[[ -x $LUAJIT_REF ]] || { echo "no reference at $REF: run sockloop-lua/tools/build-reference.sh" >&2; exit 1; }
[[ -f $HTTP_LUA ]] || { echo "no $HTTP_LUA (set HTTP_LUA=)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

# 10,000 sockets on the server and in the client.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [[ -z ${LUA_BIN:-} ]]; then
    cargo build -q --release -p sockloop-lua
    LUA_BIN=$ROOT/target/release/sockloop-lua
fi
LUA_BIN=$(realpath "$LUA_BIN")
HTTP=$(cargo build --release --bench http_hello --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*http_hello-[^"]*"' | tail -1 | cut -d'"' -f4)
[[ -x $LUA_BIN && -x $HTTP ]] || { echo "build failed" >&2; exit 1; }

TMP=$(mktemp -d)
SERVER_PID=
WRAPPER_PID=
CLIENT_PID=
cleanup() {
    for p in $CLIENT_PID $SERVER_PID $WRAPPER_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

NEXT_PORT=$((47300 + RANDOM % 500))
# start IMPL -> SERVER_PID, PORT: a server on core 0, listening.
start() {
    PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    local log=$TMP/server.log
    case $1 in
    sock.lua) cmd=("$LUAJIT_REF" "$HTTP_LUA" "$PORT") ;;
    bridge) cmd=("$LUA_BIN" "$HTTP_LUA" "$PORT") ;;
    rust) cmd=("$HTTP" sockloop --port "$PORT" --exit-after 600) ;;
    esac
    # The Lua servers run until killed; `timeout` bounds them should this
    # script die without its trap.
    (cd "$TMP" && exec timeout 600 taskset -c 0 "${cmd[@]}") >"$log" 2>&1 &
    WRAPPER_PID=$!
    SERVER_PID=$WRAPPER_PID
    for _ in $(seq 200); do
        grep -Eq '^port |listening on' "$log" && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    grep -Eq '^port |listening on' "$log" || {
        echo "server $1 did not start:" >&2
        cat "$log" >&2
        exit 1
    }
    # `timeout` forks the server: measure the server itself.
    SERVER_PID=$(pgrep -P "$WRAPPER_PID" || echo "$WRAPPER_PID")
}
stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    # `timeout` exits with its child.
    wait "$WRAPPER_PID" 2>/dev/null || true
    SERVER_PID=
    WRAPPER_PID=
}

to_ms() { # wrk's "270.00us", "1.20ms", "1.01s", "2.00m" -> milliseconds
    awk -v v="$1" 'BEGIN { n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) ; else if (v ~ /m$/) n *= 60000;
        else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# measure IMPL CONNS ROUND -> a line of $TSV: impl conns round req/s p99_ms cpu_us/req
measure() {
    local impl=$1 c=$2 round=$3 out t0 t1 reqs rps p99 cpu
    local w=(timeout $((DUR + 30)) taskset -c 1 wrk -t1 -c"$c" --latency "http://127.0.0.1:$PORT/")
    "${w[@]}" -d1s >/dev/null
    t0=$(cpu_ticks "$SERVER_PID")
    out=$("${w[@]}" -d"${DUR}s")
    t1=$(cpu_ticks "$SERVER_PID")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    cpu=$(awk -v d=$((t1 - t0)) -v t="$TCK" -v r="$reqs" 'BEGIN { printf "%.2f", d / t * 1e6 / r }')
    if grep -q "Socket errors" <<<"$out"; then
        echo "  ($impl c=$c) $(grep 'Socket errors' <<<"$out")" >&2
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$c" "$round" "$rps" "$p99" "$cpu" >>"$TSV"
    printf '  round %s  %-8s c=%-4s %8s req/s  p99 %8s ms  %6s us CPU/req\n' \
        "$round" "$impl" "$c" "$rps" "$p99" "$cpu" >&2
}

HEAD="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sockloop-lua/src || echo '+changes')"
{
    echo "$HEAD; $(date -u '+%F %T UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "bridge: $LUA_BIN; sock.lua: $LUAJIT_REF; Lua file: $HTTP_LUA"
} | tee "$OUT/bridge-machine.txt" >&2

if [[ $ONLY == all || $ONLY == http ]]; then
    TSV=$OUT/bridge-http.tsv
    : >"$TSV"
    echo "== http: the same Lua file on sock.lua and the bridge, and Rust; c in {$CONNS}, $ROUNDS rounds, ${DUR}s ==" >&2
    impls=(sock.lua bridge rust)
    for c in $CONNS; do
        for round in $(seq "$ROUNDS"); do
            # Rotate the order so no server always follows the same one.
            for k in 0 1 2; do
                impl=${impls[$(((k + round - 1) % 3))]}
                start "$impl"
                measure "$impl" "$c" "$round"
                stop
            done
        done
    done
fi

if [[ $ONLY == all || $ONLY == pingpong ]]; then
    echo "== resume/suspend ping-pong on the bridge (wall clock) ==" >&2
    (cd "$ROOT" && timeout 300 "$LUA_BIN" sockloop-lua/benches/pingpong.lua 1000000) \
        | tee "$OUT/bridge-pingpong.txt"
fi

if [[ $ONLY == all || $ONLY == mem ]]; then
    TSV=$OUT/bridge-mem.tsv
    : >"$TSV"
    echo "== mem: $MEM_CONNS parked connections, the same Lua file, 2 rounds ==" >&2
    for round in 1 2; do
        if ((round % 2)); then order="sock.lua bridge"; else order="bridge sock.lua"; fi
        for impl in $order; do
            start "$impl"
            sleep 0.5
            before=$(rss_kb "$SERVER_PID")
            nfd0=$(find "/proc/$SERVER_PID/fd" -mindepth 1 | wc -l)
            timeout 120 "$HTTP" idle-client --port "$PORT" --conns "$MEM_CONNS" --hold 100 >/dev/null &
            CLIENT_PID=$!
            # Every connection accepted (one descriptor each), then settled.
            nfd=$nfd0
            for _ in $(seq 600); do
                [[ -d /proc/$SERVER_PID ]] || break
                n=$(find "/proc/$SERVER_PID/fd" -mindepth 1 2>/dev/null | wc -l)
                [[ -d /proc/$SERVER_PID ]] && nfd=$n
                ((nfd - nfd0 >= MEM_CONNS)) && break
                sleep 0.1
            done
            sleep 1
            after=$(rss_kb "$SERVER_PID" 2>/dev/null || true)
            kill "$CLIENT_PID" 2>/dev/null || true
            wait "$CLIENT_PID" 2>/dev/null || true
            CLIENT_PID=
            if [[ -z $after ]]; then
                # A finding, not a reason to stop the other measurements.
                echo "  $impl: the server exited after about $((nfd - nfd0)) connections:" >&2
                tail -5 "$TMP/server.log" | sed 's/^/    /' >&2
                printf '%s\t%s\t-\tdied\t%s\n' "$impl" "$before" "$((nfd - nfd0))" >>"$TSV"
                wait "$WRAPPER_PID" 2>/dev/null || true
                SERVER_PID= WRAPPER_PID=
                continue
            fi
            stop
            per=$(((after - before) * 1024 / MEM_CONNS))
            printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$before" "$after" "$per" "$((nfd - nfd0))" >>"$TSV"
            printf '  %-8s RSS %s -> %s KiB: %s bytes per parked connection (%s accepted)\n' \
                "$impl" "$before" "$after" "$per" "$((nfd - nfd0))" >&2
        done
    done
fi

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/bridge-machine.txt" >&2
python3 - "$OUT" "$ONLY" <<'EOF' | tee "$OUT/bridge-summary.md"
import os, statistics, sys
out, only = sys.argv[1], sys.argv[2]
med = statistics.median
def rows(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    return [l.rstrip("\n").split("\t") for l in open(p) if l.strip()]
print(open(os.path.join(out, "bridge-machine.txt")).read().strip().replace("\n", "  \n"))
print()
if only in ("all", "http"):
    r = {}
    for impl, c, _round, rps, p99, cpu in rows("bridge-http.tsv"):
        r.setdefault((impl, int(c)), []).append((float(rps), float(p99), float(cpu)))
    print("| connections | sock.lua req/s · p99 · CPU/req | bridge req/s · p99 · CPU/req | bridge / sock.lua | Rust on sockloop req/s · p99 · CPU/req |")
    print("| ---: | --- | --- | ---: | --- |")
    def cell(v):
        return "%s · %.2f ms · %.1f µs" % (f"{med(x[0] for x in v):,.0f}", med(x[1] for x in v), med(x[2] for x in v))
    for c in sorted({c for _, c in r}):
        s, b, u = r.get(("sock.lua", c)), r.get(("bridge", c)), r.get(("rust", c))
        if not (s and b and u):
            continue
        ratio = med(x[0] for x in b) / med(x[0] for x in s)
        p = med(x[1] for x in b) / med(x[1] for x in s)
        print(f"| {c} | {cell(s)} | {cell(b)} | {ratio:.2f}, p99 ×{p:.1f} | {cell(u)} |")
    print()
    print(f"Medians of {max(len(v) for v in r.values())} rounds; runs:", ", ".join(
        f"{k[0]} c={k[1]}: " + "/".join(f"{x[0]:.0f}" for x in v) for k, v in sorted(r.items())))
    print()
if only in ("all", "mem"):
    m = {}
    died = {}
    for impl, before, after, per, n in rows("bridge-mem.tsv"):
        if per == "died":
            died.setdefault(impl, []).append(n)
        else:
            m.setdefault(impl, []).append((int(before), int(after), int(per), int(n)))
    if m or died:
        print("| server | RSS idle (KiB) | RSS parked (KiB) | bytes per parked connection |")
        print("| --- | ---: | ---: | ---: |")
        for impl, v in sorted(m.items()):
            print(f"| {impl} ({v[0][3]} connections) | {med(x[0] for x in v):,.0f} | {med(x[1] for x in v):,.0f} | {med(x[2] for x in v):,.0f} |")
        for impl, v in sorted(died.items()):
            print(f"| {impl} | | exited after about {', '.join(v)} connections | |")
        if "sock.lua" in m and "bridge" in m:
            print()
            print("bridge / sock.lua per connection: %.2f" % (med(x[2] for x in m["bridge"]) / med(x[2] for x in m["sock.lua"])))
EOF
