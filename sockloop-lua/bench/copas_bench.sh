#!/usr/bin/env bash
# Copas on the bridge (issue 23, BENCHMARKS.md): the Copas HTTP responder
# ../shared/bench/copas_http.lua on real Copas + LuaSocket (luajit,
# select()) and on the bridge (sockloop-lua), and the sock.lua responder
# ../shared/bench/sock_lua_http.lua on the bridge, at 1/50/500/2000
# connections, in one sitting: req/s, p99 (wrk --latency) and the
# server's CPU per request (utime+stime from /proc/PID/stat over the
# measured run). Server on core 0, wrk -t1 on core 1.
#
#   sockloop-lua/bench/copas_bench.sh            DUR=5 CONNS="1 50 500 2000"
#
# Real Copas and its dependencies are prepared by tools/copas-suite.sh in
# WORK (default target/copas-suite); LuaSocket is the system's. Real
# Copas cannot pass FD_SETSIZE (1024) sockets: at 2000 connections its
# row shows what wrk saw. The servers' stderr goes to WORK/bench-servers.err.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${SHARED:-$ROOT/../shared/bench}
DUR=${DUR:-5}
CONNS=${CONNS:-1 50 500 2000}
WORK=${WORK:-$ROOT/target/copas-suite}
LUAJIT=${LUAJIT:-luajit}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build -q --release -p sockloop-lua || exit 1
LUA=$ROOT/target/release/sockloop-lua
TESTS=" " RUNNER=true sockloop-lua/tools/copas-suite.sh "$WORK" >/dev/null
REF_PATH="$WORK/copas/src/?.lua;$WORK/binaryheap/src/?.lua;$WORK/timerwheel/src/?.lua;$WORK/timerwheel/src/?/init.lua;$WORK/shim/?.lua;;"
TCK=$(getconf CLK_TCK)
PORT=47231

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

start() { # start CMD...: the server on core 0, once its port answers
    PORT=$((PORT + 1))
    echo "== $* $PORT" >>"$WORK/bench-servers.err"
    taskset -c 0 "$@" "$PORT" >/dev/null 2>>"$WORK/bench-servers.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server did not start: $*" >&2
    return 1
}

stop() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
}

measure() { # measure LABEL CONNS
    local c=$2 out t0 t1 reqs rps p99 errs cpu
    taskset -c 1 wrk -t1 -c"$c" -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1
    t0=$(cpu_ticks "$SERVER_PID")
    out=$(taskset -c 1 wrk -t1 -c"$c" -d"${DUR}s" --latency "http://127.0.0.1:$PORT/" 2>&1)
    t1=$(cpu_ticks "$SERVER_PID")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errs=$(awk '/Socket errors/ { sub(/^ *Socket errors: /, ""); print }' <<<"$out")
    if kill -0 "$SERVER_PID" 2>/dev/null; then alive=up; else alive=DIED; fi
    if [[ -n "$reqs" && "$reqs" != 0 ]]; then
        cpu=$(awk -v d=$((t1 - t0)) -v t="$TCK" -v r="$reqs" 'BEGIN { printf "%.1f", d / t / r * 1e6 }')
    else
        cpu=-
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$c" "${rps:-0}" "${p99:--}" "$cpu" "$alive" "${errs:-none}"
}

echo "commit $(git rev-parse --short HEAD); $(date -u '+%F %T UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg); ${DUR}s per run"
echo "| server | connections | req/s | p99 | CPU µs/req | server | wrk socket errors |"
echo "|---|---:|---:|---:|---:|---|---|"
for c in $CONNS; do
    start env LUA_PATH="$REF_PATH" "$LUAJIT" "$SHARED/copas_http.lua" && {
        measure "copas_http.lua, real Copas 4.11 + LuaSocket" "$c"
        stop
    }
    start "$LUA" "$SHARED/copas_http.lua" && {
        measure "copas_http.lua, bridge" "$c"
        stop
    }
    start "$LUA" "$SHARED/sock_lua_http.lua" && {
        measure "sock_lua_http.lua, bridge" "$c"
        stop
    }
done
