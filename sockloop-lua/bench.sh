#!/usr/bin/env bash
# The bridge's figures (BENCHMARKS.md, issue 14): the HTTP hello responder
# in Lua on sockloop-lua against the same responder in Rust on sockloop
# (benches/http_hello.rs) under wrk, alternating, in one run; then Lua
# resume/suspend on the bridge against plain LuaJIT coroutines.
#   sockloop-lua/bench.sh            PAIRS=3 DUR=5 CONNS=50
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-50}

cargo build -q --release -p sockloop-lua
HTTP=$(cargo build --release --bench http_hello --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*http_hello-[^"]*"' | tail -1 | cut -d'"' -f4)
LUA=target/release/sockloop-lua

start() { # start CMD... -> SERVER_PID, PORT (server on core 0)
    local f; f=$(mktemp)
    taskset -c 0 "$@" >"$f" 2>/dev/null &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(awk '/^port/ { print $2 }' "$f"); [[ -n $PORT ]] && break; sleep 0.05
    done
    rm -f "$f"
    [[ -n $PORT ]] || { echo "server did not start: $*" >&2; exit 1; }
}
run_wrk() { # label
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/" >/dev/null
    local rps
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$PORT/" | awk '/^Requests\/sec/ { print $2 }')
    kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
    printf '%s\t%s\n' "$1" "$rps"
}
echo "commit $(git rev-parse --short HEAD); $(date -u '+%F %T UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== http hello, c=$CONNS, ${DUR}s, $PAIRS pairs (req/s) =="
for p in $(seq "$PAIRS"); do
    start "$HTTP" sockloop --exit-after $((DUR + 15)); run_wrk "rust"
    start "$LUA" sockloop-lua/benches/http_hello.lua $((DUR + 15)); run_wrk "lua"
done
echo "== resume/suspend ping-pong =="
"$LUA" sockloop-lua/benches/pingpong.lua 1000000
