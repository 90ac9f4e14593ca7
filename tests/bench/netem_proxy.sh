#!/bin/sh
# Benchmark: netem-proxy forwarding throughput with no rule, over raw loopback throughput, in the
# same run. Both push SIZE bytes to an echo server (bin/netem-proxy --echo-server) and read them
# back, with the binary's --pipe-client --gen aid: once directly, once through the proxy,
# alternating ROUNDS times; the best of each is compared. Prints one summary line:
#   bench netem_proxy: raw R MiB/s, proxy P MiB/s, ratio P/R
# Use $BIN (default: bin/ of the tree), SIZE (default 1GiB), ROUNDS (default 3).
set -eu
NAME=bench_netem_proxy
. "$(dirname "$0")/../lib/harness.sh"
P="$BIN/netem-proxy"
SIZE=${SIZE:-1GiB}
ROUNDS=${ROUNDS:-3}

"$P" --echo-server 127.0.0.1:0 >"$T/echo.out" 2>&1 &
pids="$pids $!"
EPORT=$(wait_line "$T/echo.out" 's/^echo 127\.0\.0\.1:\([0-9]*\)$/\1/p')
"$P" --proxy "node,127.0.0.1:0,127.0.0.1:$EPORT" >"$T/proxy.out" 2>&1 &
pids="$pids $!"
PPORT=$(wait_line "$T/proxy.out" 's/^proxy node 127\.0\.0\.1:\([0-9]*\) .*/\1/p')

# one run: the MiB/s the pipe client reports
rate() { "$P" --pipe-client "127.0.0.1:$1" --gen "$SIZE" 2>&1 >/dev/null | sed -n 's/.*MiB\/s \([0-9.]*\)$/\1/p'; }
best_raw=0; best_px=0
r=0
while [ $r -lt "$ROUNDS" ]; do
	a=$(rate "$EPORT"); b=$(rate "$PPORT")
	best_raw=$(awk -v x="$a" -v y="$best_raw" 'BEGIN { print (x > y) ? x : y }')
	best_px=$(awk -v x="$b" -v y="$best_px" 'BEGIN { print (x > y) ? x : y }')
	r=$((r + 1))
done
awk -v r="$best_raw" -v p="$best_px" -v s="$SIZE" 'BEGIN {
	printf "bench netem_proxy: raw %.0f MiB/s, proxy %.0f MiB/s, ratio %.2f (%s each way, echo, no rule)\n", r, p, (r > 0 ? p / r : 0), s }'
