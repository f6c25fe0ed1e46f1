#!/usr/bin/env bash
# Copas' own test suite (lunarmodules/copas tests/*.lua) under real Copas
# with LuaSocket (luajit) and under the sockloop-lua runner, whose
# `require'copas'` is the bridge's: each test's exit status must be the
# same, and its output too where the test prints the same every run.
#
#   sockloop-lua/tools/copas-suite.sh [WORK_DIR]     (default target/copas-suite)
#
# Inputs (nothing of Copas is committed to this repository):
# * Copas' sources: COPAS_SRC (a checkout of lunarmodules/copas), else a
#   git mirror at MIRRORS/lunarmodules+copas/repo (the project's fetch
#   tool's layout; MIRRORS defaults to /work/.mirror), else a clone of
#   https://github.com/lunarmodules/copas.
# * Real Copas' dependencies: binaryheap and timerwheel (BINARYHEAP_SRC,
#   TIMERWHEEL_SRC, else MIRRORS/Tieske+binaryheap.lua/repo and
#   MIRRORS/Tieske+timerwheel.lua/repo, else clones from GitHub); LuaJIT's
#   pcall yields, so coxpcall is a three-line stand-in written here.
#   LuaSocket: the system's (Debian: apt-get install lua-socket).
# * The runner: built here with cargo (RUNNER overrides).
#
# TESTS overrides the list. Tests not run, and why:
# * connecttwice, httpredirect, request: need the internet;
# * tls-sni, largetransfer (LuaSec parameters), http-timeout (LuaSec
#   through copas.http): TLS; no_luasocket: needs LuaSystem, which is
#   not installed here (the bridge always has its `socket`).
#
# Exit status 0 when every test behaves under the runner as under real
# Copas.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-$ROOT/target/copas-suite}
MIRRORS=${MIRRORS:-/work/.mirror}
LUAJIT=${LUAJIT:-luajit}
TESTS=${TESTS:-cancelall close errhandlers exit exittest future lock loop_starter pause queue removeserver removethread semaphore starve tcptimeout timeout_errors timer udptimeout}
# Tests whose output holds times, addresses (`thread: 0x...`) or a
# `pairs` order (errhandlers, tcptimeout, udptimeout) that differs run to
# run even under real Copas: only their exit status is compared.
STATUS_ONLY=${STATUS_ONLY:-exittest errhandlers lock starve tcptimeout udptimeout close removeserver}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# A source tree: from $1 (a directory), else a mirror, else GitHub.
tree() { # name env_value mirror_name github
    local dir="$WORK/$1"
    if [[ -n "$2" ]]; then echo "$2"; return; fi
    if [[ ! -d "$dir" ]]; then
        mkdir -p "$dir"
        if [[ -d "$MIRRORS/$3/repo" ]]; then
            git --git-dir="$MIRRORS/$3/repo" archive HEAD | tar -x -C "$dir"
        else
            git clone -q --depth 1 "$4" "$dir"
        fi
    fi
    echo "$dir"
}
COPAS=$(tree copas "${COPAS_SRC:-}" lunarmodules+copas https://github.com/lunarmodules/copas)
HEAP=$(tree binaryheap "${BINARYHEAP_SRC:-}" Tieske+binaryheap.lua https://github.com/Tieske/binaryheap.lua)
WHEEL=$(tree timerwheel "${TIMERWHEEL_SRC:-}" Tieske+timerwheel.lua https://github.com/Tieske/timerwheel.lua)
mkdir -p "$WORK/shim"
echo 'return { pcall = pcall, xpcall = xpcall, running = coroutine.running }' >"$WORK/shim/coxpcall.lua"
echo "== Copas: $COPAS ($(grep -o '"Copas [0-9][0-9.]*"' "$COPAS/src/copas.lua" | head -1))"

RUNNER=${RUNNER:-}
if [[ -z "$RUNNER" ]]; then
    (cd "$ROOT" && cargo build -q --release -p sockloop-lua) || exit 1
    RUNNER="$ROOT/target/release/sockloop-lua"
fi

REF_PATH="../src/?.lua;$HEAP/src/?.lua;$WHEEL/src/?.lua;$WHEEL/src/?/init.lua;$WORK/shim/?.lua;;"
OUT="$WORK/out"
mkdir -p "$OUT"
ref_pass=0 run_pass=0 same=0 total=0 failed=()
for t in $TESTS; do
    total=$((total + 1))
    (cd "$COPAS/tests" && LUA_PATH="$REF_PATH" timeout 120 "$LUAJIT" "$t.lua" >"$OUT/$t.ref" 2>"$OUT/$t.ref.err")
    ref=$?
    # The runner's `require'copas'` comes before package.path (preload).
    (cd "$COPAS/tests" && timeout 120 "$RUNNER" "$t.lua" >"$OUT/$t.run" 2>"$OUT/$t.run.err")
    run=$?
    [[ $ref == 0 ]] && ref_pass=$((ref_pass + 1))
    [[ $run == 0 ]] && run_pass=$((run_pass + 1))
    verdict=same
    if [[ $ref != "$run" ]]; then
        verdict="DIFFERENT exit status"
    elif [[ " $STATUS_ONLY " != *" $t "* ]] && ! cmp -s "$OUT/$t.ref" "$OUT/$t.run"; then
        verdict="DIFFERENT output"
    fi
    if [[ $verdict == same ]]; then same=$((same + 1)); else failed+=("$t"); fi
    printf '%-16s copas+luasocket: %-3s  runner: %-3s  %s\n' "$t" "$ref" "$run" "$verdict"
done
echo "== $total tests: real Copas passes $ref_pass, the runner passes $run_pass; $same behave the same"
if ((${#failed[@]})); then
    echo "== differ: ${failed[*]} (outputs in $OUT)"
    exit 1
fi
