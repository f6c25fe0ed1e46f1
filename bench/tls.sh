#!/usr/bin/env bash
# TLS on loopback: sockloop's Stcp against raw tokio-rustls over
# tokio::net::TcpStream (BENCHMARKS.md "TLS", issue 11).
#
#   bench/tls.sh                      wall clock + per CPU second, then callgrind; ~5 minutes
#   PAIRS=3 MIB=256 SECS=1 bench/tls.sh
#   ONLY=wall|callgrind bench/tls.sh
#
# Wall clock: benches/tls.rs alternates the two implementations PAIRS
# times (bulk MIB MiB, SECS seconds of full handshakes) and prints medians
# by the wall clock and per CPU second of the process.
#
# Callgrind: user-space instructions per full handshake and per MiB of bulk
# data, client and server threads together: each measurement runs the
# bench binary twice under `valgrind --tool=callgrind` with a small and a
# large count (`--only IMPL --case CASE --count N`) and divides the
# difference of the totals by the difference of the counts, so that start-up
# and exit cancel out. Deterministic to about 1 %, unlike the wall clock on
# a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-5}
MIB=${MIB:-512}
SECS=${SECS:-2}
ONLY=${ONLY:-}

cargo bench --bench tls --features tls --no-run 2>/dev/null
BIN=$(cargo bench --bench tls --features tls --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | grep '/tls-' | tail -1 | cut -d'"' -f4)
[ -x "$BIN" ] || { echo "bench binary not found" >&2; exit 1; }

if [ "$ONLY" != callgrind ]; then
    "$BIN" --pairs "$PAIRS" --mib "$MIB" --secs "$SECS"
    echo
fi

if [ "$ONLY" != wall ]; then
    command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
    out=target/bench-results/tls-callgrind
    mkdir -p "$out"
    ir() { # IMPL CASE COUNT -> instructions
        valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2-$3.out" \
            "$BIN" --only "$1" --case "$2" --count "$3" 2>&1 \
            | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    per() { # IMPL CASE SMALL LARGE -> instructions per unit
        local a b
        a=$(ir "$1" "$2" "$3")
        b=$(ir "$1" "$2" "$4")
        echo $(( (b - a) / ($4 - $3) ))
    }
    hs_s=$(per sockloop handshakes 50 150)
    hs_t=$(per tokio handshakes 50 150)
    bk_s=$(per sockloop bulk 32 96)
    bk_t=$(per tokio bulk 32 96)
    echo "| user-space instructions (callgrind) | sockloop | tokio-rustls | sockloop/tokio |"
    echo "| --- | ---: | ---: | ---: |"
    awk -v s="$hs_s" -v t="$hs_t" 'BEGIN { printf "| per full handshake (client + server) | %d | %d | %.3f |\n", s, t, s / t }'
    awk -v s="$bk_s" -v t="$bk_t" 'BEGIN { printf "| per MiB of bulk data (sender + receiver) | %d | %d | %.3f |\n", s, t, s / t }'
fi
