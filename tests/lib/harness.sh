# harness.sh — sourced by the shell tests and benchmarks that start processes (not a test itself).
#
#   NAME=fleet_live; . "$(dirname "$0")/../lib/harness.sh"
#
# Sets BIN (default: the tree's bin/), T (a temporary directory, removed at exit), pids (append
# every background pid: they are killed and reaped at exit, also on INT/TERM), and defines
#   ok MSG                 print "ok - MSG"
#   fail MSG               print "NAME: FAIL: MSG", the tails of $T/*.err, *.out, *.log; exit 1
#   wait_line FILE SEDEXPR print the first match of `sed -n SEDEXPR` once FILE has one (10 s)
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
T=$(mktemp -d)
pids=""
harness_cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap harness_cleanup EXIT INT TERM

ok() { echo "ok - $*"; }

fail() {
	echo "${NAME:-test}: FAIL: $*" >&2
	for f in "$T"/*.err "$T"/*.out "$T"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}

wait_line() {
	i=0
	while [ $i -lt 100 ]; do
		v=$(sed -n "$2" "$1" 2>/dev/null | head -n 1)
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
