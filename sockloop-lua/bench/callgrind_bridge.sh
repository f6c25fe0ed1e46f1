#!/usr/bin/env bash
# Instructions per switch round trip on the bridge (BENCHMARKS.md, issue 22
# item 2), against plain LuaJIT coroutines, the real sock.lua and a
# Rust <-> Rust sockloop switch. Counted by callgrind, so a figure repeats
# whatever else the machine is doing.
#
#   sockloop-lua/bench/callgrind_bridge.sh      this tree, about 5 minutes
#   AT="58ac3ce f79a7e1" sockloop-lua/bench/callgrind_bridge.sh
#                                               also those commits (each built in a scratch
#                                               worktree beside this checkout, in
#                                               ../sockloop-bench-worktrees/, with this tree's
#                                               sockloop-lua/benches/bridge_cg.rs copied in;
#                                               CARGO_TARGET_DIR is shared, so only what
#                                               changed is rebuilt)
#   REF=/work/ref (the reference of tools/build-reference.sh; REF= empty: no sock.lua row)
#
# Cases (one round trip = a resume there and the suspend back, an integer
# carried each way):
# * Lua <-> Lua, `sockloop-lua/bench/bridge_cg.lua`: `coroutine`
#   (coroutine.resume/yield), `resume` (sock.resume/sock.suspend between two
#   sock threads), `transfer` (sock.transfer there and back); on the
#   bridge's runner, on the reference's sock.lua, and `coroutine` on the
#   reference's plain LuaJIT;
# * Lua <-> Rust, `sockloop-lua/benches/bridge_cg.rs`: `rust-lua` (a Rust
#   thread resumes a Lua thread that suspends back), `lua-rust` (the other
#   way), and `rust-rust` (sockloop alone, the baseline).
#
# Method (as bench/callgrind_sched.sh): each case runs under
# `valgrind --tool=callgrind` at N1 and at N2 round trips, each a fresh
# process; Ir per round trip = (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up
# (the Lua state, the loop) and exit cancel out.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/bench-results
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

N1=${N1:-20000}
N2=${N2:-120000}
REF=${REF-/work/ref}
CASES_LUA=$ROOT/sockloop-lua/bench/bridge_cg.lua
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# build TREE LABEL -> copies of the tree's runner and bridge_cg in $TMP/LABEL/
build() {
    local tree=$1 dir=$TMP/$2 exe
    mkdir -p "$dir"
    exe=$(cd "$tree" && cargo build -q --release -p sockloop-lua --bin sockloop-lua --bench bridge_cg \
        --message-format=json 2>"$TMP/build.log" \
        | grep -o '"executable":"[^"]*bridge_cg-[^"]*"' | tail -1 | cut -d'"' -f4) \
        || { cat "$TMP/build.log" >&2; return 1; }
    [[ -x $exe ]] || { cat "$TMP/build.log" >&2; return 1; }
    # The runner's path is shared by every tree built here: keep a copy.
    cp "$exe" "$dir/bridge_cg"
    cp "$CARGO_TARGET_DIR/release/sockloop-lua" "$dir/sockloop-lua"
}

# ir CMD... -> instructions of the whole process
ir() {
    local f=$TMP/cg.out
    timeout 1200 valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >/dev/null 2>"$TMP/vg.log" \
        || { echo "failed: $*" >&2; tail -20 "$TMP/vg.log" >&2; return 1; }
    awk '/^summary:/ { print $2 }' "$f"
}

# per_rt CMD... (N appended) -> Ir per round trip
per_rt() {
    local a b
    a=$(ir "$@" "$N1")
    b=$(ir "$@" "$N2")
    awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.0f", (b - a) / (n2 - n1) }'
}

ROWS=$TMP/rows.tsv
: >"$ROWS"
row() { # row LABEL KIND CASE CMD...: measure, print, append to $ROWS
    local label=$1 kind=$2 case=$3 v
    shift 3
    v=$(per_rt "$@" "$case")
    printf '%s\t%s\t%s\t%s\n' "$label" "$kind" "$case" "$v" >>"$ROWS"
    printf '  %-28s %-8s %-9s %6s Ir/round trip\n' "$label" "$kind" "$case" "$v" >&2
}

measure_tree() { # LABEL TREE
    local label=$1 dir=$TMP/$1
    echo "== $label: building ($2)" >&2
    build "$2" "$1"
    for c in coroutine resume transfer; do
        row "$label" lua-lua "$c" "$dir/sockloop-lua" "$CASES_LUA"
    done
    for c in rust-lua lua-rust rust-rust; do
        row "$label" rust "$c" "$dir/bridge_cg"
    done
}

LABELS=()
for rev in ${AT:-}; do
    wt=$ROOT/../sockloop-bench-worktrees/$rev
    [[ -d $wt ]] || git worktree add -q --detach "$wt" "$rev"
    cp sockloop-lua/benches/bridge_cg.rs "$wt/sockloop-lua/benches/"
    grep -q 'name = "bridge_cg"' "$wt/sockloop-lua/Cargo.toml" \
        || printf '\n[[bench]]\nname = "bridge_cg"\nharness = false\n' >>"$wt/sockloop-lua/Cargo.toml"
    measure_tree "$rev" "$wt"
    LABELS+=("$rev")
done
HEAD_LABEL="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src sockloop-lua/src || echo '+changes')"
measure_tree "$HEAD_LABEL" "$ROOT"
LABELS+=("$HEAD_LABEL")

REF_LABEL=
if [[ -n $REF && -x $REF/bin/luajit-ref ]]; then
    REF_LABEL="sock.lua ($($REF/prefix/bin/luajit -v | cut -d' ' -f1-2))"
    echo "== $REF_LABEL" >&2
    # luajit-ref is a shell wrapper that execs luajit: run luajit itself
    # (valgrind would count only the shell), with the wrapper's module path.
    (
        export LUA_PATH="$REF/lua/?.lua;$REF/prefix/share/luajit-2.1/?.lua;;"
        for c in coroutine resume transfer; do
            row "$REF_LABEL" lua-lua "$c" "$REF/prefix/bin/luajit" "$CASES_LUA"
        done
    )
fi

{
    echo "Run: $(date -u '+%F %T UTC'); $(valgrind --version); N = $N1 and $N2 round trips; instructions per round trip"
    echo
    echo "| build | coroutine.resume/yield | sock.resume/suspend (Lua-Lua) | sock.transfer there and back (Lua-Lua) | Rust resumes Lua | Lua resumes Rust | Rust-Rust (sockloop) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    python3 - "$ROWS" "$REF_LABEL" "${LABELS[@]}" <<'EOF'
import sys
rows, ref, labels = sys.argv[1], sys.argv[2], sys.argv[3:]
v = {}
for l in open(rows):
    label, _kind, case, ir = l.rstrip("\n").split("\t")
    v[(label, case)] = int(ir)
def cell(label, case, base):
    x = v.get((label, case))
    if x is None:
        return "-"
    b = v.get((label, base)) if base else None
    return f"{x:,}" + (f" ({x / b:.1f}×)" if b and case != base else "")
for label in labels + ([ref] if ref else []):
    name = label if label == ref else f"bridge {label}"
    print(f"| {name} | " + " | ".join([
        cell(label, "coroutine", None),
        cell(label, "resume", "coroutine"),
        cell(label, "transfer", "coroutine"),
        cell(label, "rust-lua", "rust-rust"),
        cell(label, "lua-rust", "rust-rust"),
        cell(label, "rust-rust", None),
    ]) + " |")
EOF
    echo
    echo "Lua-Lua ratios are against the same build's coroutine.resume/yield; Lua-Rust ratios against its Rust-Rust switch."
} | tee "$OUT/callgrind_bridge.md"
