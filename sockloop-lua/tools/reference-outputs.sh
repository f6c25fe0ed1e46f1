#!/usr/bin/env bash
# Runs the Lua test scripts whose expected output comes from the real
# sock.lua / socketloop on the reference (tools/build-reference.sh) and
# writes their .out files, or with --check compares them.
#
#   sockloop-lua/tools/reference-outputs.sh [--check]   (REF=/work/ref)
#
# The scripts run from tests/lua, as the bridge's test runner names them
# (`NAME.lua:LINE:` in messages).
set -euo pipefail

REF=${REF:-/work/ref}
cd "$(dirname "$0")/../tests/lua"
LUAJIT="$REF/bin/luajit-ref"
[[ -x "$LUAJIT" ]] || {
    echo "no reference at $REF: run tools/build-reference.sh first" >&2
    exit 1
}

# The scripts compared with the reference (see tests/scripts.rs).
SCRIPTS=(sock_face thread_errors run_errors socketloop_errors socketloop_face)

status=0
for name in "${SCRIPTS[@]}"; do
    out=$(timeout 60 "$LUAJIT" "$name.lua")
    if [[ "${1:-}" == --check ]]; then
        if diff -u "$name.out" <(printf '%s\n' "$out"); then
            echo "$name: same as the reference"
        else
            echo "$name: differs from the reference" >&2
            status=1
        fi
    else
        printf '%s\n' "$out" >"$name.out"
        echo "$name.out written"
    fi
done
exit $status
