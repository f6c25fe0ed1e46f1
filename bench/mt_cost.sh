#!/usr/bin/env bash
# CPU time and context switches per request of the multi-thread
# configurations of benches/http_hello.rs (issue 20 item 4): two loops on
# one shared reactor, two loops on their own drivers, Tokio's
# multi-thread runtime with two workers, one loop. Context switches per
# request are the robust figure on a shared machine; CPU per request
# moves with the load.
#   bench/mt_cost.sh [HTTP_HELLO_BINARY]     C=50 DUR=5
set -u
cd "$(dirname "$0")/.."
BIN=${1:-$(cargo build -q --release --bench http_hello --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*http_hello-[^"]*"' | tail -1 | cut -d'"' -f4)}
C=${C:-50}; DUR=${DUR:-5}
echo "commit $(git rev-parse --short HEAD); c=$C; ${DUR}s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
cpu() { local s=0; for t in /proc/$1/task/*; do read -r -a f < $t/stat; s=$((s + f[13] + f[14])); done; echo $s; }
cs() { local s=0; for t in /proc/$1/task/*; do v=$(awk '/ctxt_switches/ {s+=$2} END {print s}' $t/status); s=$((s+v)); done; echo $s; }
for cfg in "sockloop --loops 2" "sockloop --loops 2 --reactor own" "tokio-mt --workers 2" "sockloop --loops 1"; do
  f=$(mktemp); $BIN $cfg --exit-after $((DUR+10)) >$f 2>&1 & pid=$!
  for i in $(seq 100); do port=$(awk '/^port/ {print $2}' $f); [[ -n $port ]] && break; sleep 0.05; done
  wrk -t1 -c$C -d1s http://127.0.0.1:$port/ >/dev/null
  c0=$(cpu $pid); s0=$(cs $pid)
  req=$(wrk -t1 -c$C -d${DUR}s http://127.0.0.1:$port/ | awk '/requests in/ {print $1}')
  c1=$(cpu $pid); s1=$(cs $pid)
  kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f $f
  python3 -c "r=$req; print('%-34s req=%8d  cpu_us/req=%6.2f  ctxsw/req=%5.3f' % ('$cfg', r, ($c1-$c0)*1e4/r, ($s1-$s0)/r))"
done
