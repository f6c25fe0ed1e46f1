#!/usr/bin/env bash
# Instructions per scheduler operation, sockloop against Tokio and LuaJIT
# (BENCHMARKS.md "Scheduler: instructions per operation", issue 20).
# Counted by callgrind, so a figure is the same whatever else the machine
# is doing; the wall-clock table of `cargo bench --bench sched` is not.
#
#   bench/callgrind_sched.sh                 this tree, Tokio and LuaJIT, about 3 minutes
#   AT="25d268c f554489" bench/callgrind_sched.sh
#                                            also those commits (each built in a scratch
#                                            worktree beside this checkout, in
#                                            ../sockloop-bench-worktrees/, with this
#                                            tree's benches/sched_cg.rs copied in)
#   LUA=0 bench/callgrind_sched.sh           without the LuaJIT column
#
# Method: each case runs under `valgrind --tool=callgrind` at N1 and at N2
# operations, each a fresh process; Ir/op = (Ir(N2) - Ir(N1)) / (N2 - N1).
# Start-up, warm-up and exit cancel out. A switch is half a resume ->
# suspend round trip (as LuaJIT's pingpong counts a resume and a yield as
# two switches). Heap bytes per sleeping thread are counted by the bench's
# allocator (sockloop, Tokio) and by collectgarbage("count") (LuaJIT): live
# bytes, not RSS, so they too repeat exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench-results
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

need() { # need COMMAND PACKAGE...
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "== installing ${*:2} ==" >&2
        apt-get update -qq && apt-get install -y -qq "${@:2}" >/dev/null
    fi
}
need valgrind valgrind
LUA=${LUA:-1}
if [[ $LUA == 1 ]]; then need luajit luajit; fi

N1=${N1:-20000}
N2=${N2:-220000}
SLEEPERS=${SLEEPERS:-100000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# build TREE -> path of the sched_cg binary built from TREE
build() {
    local tree=$1
    (cd "$tree" && cargo build -q --profile bench --bench sched_cg --message-format=json 2>"$TMP/build.log") \
        | grep -o '"executable":"[^"]*sched_cg-[^"]*"' | tail -1 | cut -d'"' -f4 \
        || { cat "$TMP/build.log" >&2; return 1; }
}

# ir CMD... -> total instructions of the whole process
ir() {
    local f=$TMP/cg.out
    valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >/dev/null 2>"$TMP/vg.log" \
        || { cat "$TMP/vg.log" >&2; return 1; }
    awk '/^summary:/ { print $2 }' "$f"
}

# per_op SCALE CMD... (N appended) -> Ir per operation
per_op() {
    local scale=$1
    shift
    local a b
    a=$(ir "$@" "$N1")
    b=$(ir "$@" "$N2")
    python3 -c "print('%.1f' % (($b - $a) / ($N2 - $N1) / $scale))"
}

heap() { "$@" "$SLEEPERS" | awk '/^heap_bytes_per_thread/ { print $2 }'; }

declare -A ROW
measure_tree() { # LABEL TREE
    local label=$1 bin
    bin=$(build "$2")
    [[ -x $bin ]] || { echo "build failed in $2" >&2; exit 1; }
    echo "== $label ($bin)" >&2
    ROW[$label]="$(per_op 2 "$bin" switch-loop)|$(per_op 2 "$bin" switch-main)|$(per_op 1 "$bin" spawn)|$(heap "$bin" sleepers)"
    echo "   ${ROW[$label]}" >&2
}

HEAD_LABEL="this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo '+changes'))"
LABELS=()
for rev in ${AT:-}; do
    wt=$ROOT/../sockloop-bench-worktrees/$rev
    if [[ ! -d $wt ]]; then
        git worktree add -q --detach "$wt" "$rev"
    fi
    cp benches/sched_cg.rs "$wt/benches/"
    grep -q 'name = "sched_cg"' "$wt/Cargo.toml" \
        || printf '\n[[bench]]\nname = "sched_cg"\nharness = false\n' >>"$wt/Cargo.toml"
    measure_tree "$rev" "$wt"
    LABELS+=("$rev")
done
measure_tree "$HEAD_LABEL" "$ROOT"
LABELS+=("$HEAD_LABEL")

bin=$(build "$ROOT")
TOKIO="$(per_op 2 "$bin" tokio-pingpong)|-|$(per_op 1 "$bin" tokio-spawn)|$(heap "$bin" tokio-sleepers)"
echo "== tokio: $TOKIO" >&2
LUAJIT="-|-|-|-"
if [[ $LUA == 1 ]]; then
    L="luajit bench/lua_coro_cg.lua"
    LUAJIT="$(per_op 2 $L pingpong)|-|$(per_op 1 $L create)|$(heap $L sleepers)"
    LUAJIT_V=$(luajit -v | cut -d' ' -f1-2)
    echo "== $LUAJIT_V: $LUAJIT" >&2
fi

{
    echo "Run: $(date -u '+%F %T UTC'); $(valgrind --version); N = $N1 and $N2 operations; $SLEEPERS sleepers"
    echo
    echo "| build | switch in a loop (Ir) | switch from main (Ir) | newthread + finish (Ir) | heap B per sleeping thread |"
    echo "|---|---:|---:|---:|---:|"
    for l in "${LABELS[@]}"; do
        IFS='|' read -r a b c d <<<"${ROW[$l]}"
        echo "| sockloop $l | $a | $b | $c | $d |"
    done
    IFS='|' read -r a b c d <<<"$TOKIO"
    echo "| Tokio (Notify ping-pong / spawn_local / sleep task) | $a | $b | $c | $d |"
    if [[ $LUA == 1 ]]; then
        IFS='|' read -r a b c d <<<"$LUAJIT"
        echo "| $LUAJIT_V coroutines | $a | $b | $c | $d |"
    fi
} | tee "$OUT/callgrind_sched.md"
