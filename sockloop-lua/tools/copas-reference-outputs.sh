#!/usr/bin/env bash
# Runs the bridge's own Copas test scripts (tests/lua/copas_*.lua) under
# real Copas with LuaSocket (luajit) and writes their .out files, or with
# --check compares them: the expected outputs are real Copas'.
#
#   sockloop-lua/tools/copas-reference-outputs.sh [--check]
#
# Copas and its dependencies come as for tools/copas-suite.sh (COPAS_SRC,
# BINARYHEAP_SRC, TIMERWHEEL_SRC, MIRRORS; prepared in WORK, default
# target/copas-suite), LuaSocket from the system.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$ROOT/target/copas-suite}
LUAJIT=${LUAJIT:-luajit}
# Prepares the sources (runs no test).
TESTS=" " RUNNER=true "$ROOT/sockloop-lua/tools/copas-suite.sh" "$WORK" >/dev/null
COPAS=${COPAS_SRC:-$WORK/copas}
HEAP=${BINARYHEAP_SRC:-$WORK/binaryheap}
WHEEL=${TIMERWHEEL_SRC:-$WORK/timerwheel}
export LUA_PATH="$COPAS/src/?.lua;$HEAP/src/?.lua;$WHEEL/src/?.lua;$WHEEL/src/?/init.lua;$WORK/shim/?.lua;;"

cd "$ROOT/sockloop-lua/tests/lua"
status=0
for f in copas_*.lua; do
    name=${f%.lua}
    out=$(timeout 60 "$LUAJIT" "$f")
    if [[ "${1:-}" == --check ]]; then
        if diff -u "$name.out" <(printf '%s\n' "$out"); then
            echo "$name: same as real Copas"
        else
            echo "$name: differs from real Copas" >&2
            status=1
        fi
    else
        printf '%s\n' "$out" >"$name.out"
        echo "$name.out written"
    fi
done
exit $status
