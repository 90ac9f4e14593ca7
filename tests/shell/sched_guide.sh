#!/bin/sh
# sched_guide.sh — the deployment guide's flow, for real, on 127.0.0.1: fl-scheduler and four
# servers (fl-server --local_server_num=4), GET /nodes and /state, scale-out by two, scale-in of
# two named nodes, kill -9 and restart of the scheduler (recovery from its metadata, servers not
# restarted, device port still answering while the scheduler is down), fl-finish, and no process
# left behind. Uses the binaries in $BIN; picks free ports; cleans up on any exit.
set -u

BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
if [ ! -e "$BIN/fl-server" ]; then
	echo "SKIP: bin/fl-server not built"
	exit 0
fi
for b in fl-scheduler fl-finish fl-server; do
	[ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b not built"; exit 1; }
done
command -v curl >/dev/null 2>&1 || { echo "FAIL: curl is required (make deps)"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sched_guide.XXXXXX")
export TMPDIR="$WORK" # the scheduler's pid file goes here, and fl-finish looks here
STARTED=""            # every pid this script started

cleanup() {
	# Whatever is still up: what we started and whatever the cluster's pid file lists.
	pids="$STARTED"
	for f in "$WORK"/flbench-*.pids; do
		[ -f "$f" ] && pids="$pids $(awk '!/^#/ {print $3}' "$f")"
	done
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	for l in "$WORK"/*.log; do
		[ -f "$l" ] || continue
		echo "---- $(basename "$l") (last lines)"
		tail -n 25 "$l"
	done
	exit 1
}

# ---- free ports (nothing listening per /proc/net/tcp*) ----
port_busy() {
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v h="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == h) found = 1 } END { exit !found }'
}
NEXT=$(awk -v s="$$" 'BEGIN { srand(s); print 20000 + int(rand() * 30000) }')
# pick_ports N: N consecutive free ports; sets PORT to the first (no subshell: NEXT advances).
pick_ports() {
	while :; do
		ok=1
		i=0
		while [ $i -lt "$1" ]; do
			if port_busy $((NEXT + i)); then ok=0; break; fi
			i=$((i + 1))
		done
		PORT=$NEXT
		NEXT=$((NEXT + $1 + 1))
		[ $NEXT -gt 64000 ] && NEXT=20000
		[ $ok = 1 ] && return
	done
}
pick_ports 1; SP=$PORT
pick_ports 1; MP=$PORT
pick_ports 4; FP=$PORT
pick_ports 2; FP2=$PORT

cat >"$WORK/config.json" <<EOF
{
  "recovery": {"storage_type": 1, "storage_file_path": "$WORK/recovery.json"},
  "heartbeat_interval": "200ms",
  "node_timeout": "5s"
}
EOF

API="http://127.0.0.1:$MP"
get() { curl -s --max-time 5 "$API$1"; }
post() { curl -s --max-time 5 -X POST -d "$2" "$API$1"; }
state() { get /state | sed -n 's/.*"cluster_state":"\([A-Z_]*\)".*/\1/p'; }
servers_alive() { get /nodes | grep -o '"alive":"true","nodeId":"[^"]*","rankId":"[0-9]*","role":"SERVER"' | wc -l; }

# wait_for WHAT SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
	what=$1 secs=$2
	shift 2
	n=0
	while [ $n -lt $((secs * 10)) ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n + 1))
	done
	fail "timed out after ${secs}s waiting for $what (state: $(state))"
}
ready_with() { [ "$(state)" = CLUSTER_READY ] && [ "$(servers_alive)" -eq "$1" ]; }

start_scheduler() {
	"$BIN/fl-scheduler" --scheduler_ip=127.0.0.1 --scheduler_port="$SP" \
		--scheduler_manage_port="$MP" --server_num=4 \
		--config_file_path="$WORK/config.json" >>"$WORK/scheduler.log" 2>&1 &
	SCHED_PID=$!
	STARTED="$STARTED $SCHED_PID"
}

cd "$WORK" || fail "cannot enter $WORK"

# ---- the cluster of the guide ----
start_scheduler
wait_for "the management API" 10 sh -c "curl -s --max-time 1 $API/state >/dev/null"
[ "$(state)" = CLUSTER_STARTING ] || fail "a new cluster should be CLUSTER_STARTING, is $(state)"
"$BIN/fl-server" --scheduler_ip=127.0.0.1 --scheduler_port="$SP" --fl_server_port="$FP" \
	--server_num=4 --local_server_num=4 --config_file_path="$WORK/config.json" \
	>"$WORK/servers.log" 2>&1 &
SRV_PID=$!
STARTED="$STARTED $SRV_PID"
wait_for "4 servers, CLUSTER_READY" 60 ready_with 4

nodes=$(get /nodes)
echo "$nodes" | grep -q '"code":"0","message":"Get nodes info successful.","nodeIds":\[' ||
	fail "GET /nodes: $nodes"
echo "$nodes" | grep -q '"alive":"true","nodeId":"20","rankId":"0","role":"SCHEDULER"' ||
	fail "GET /nodes lacks the scheduler: $nodes"
for r in 0 1 2 3; do
	echo "$nodes" | grep -q "\"rankId\":\"$r\",\"role\":\"SERVER\"" || fail "no server of rank $r: $nodes"
done
st=$(get /state)
echo "$st" | grep -q '"code":"0","message":"Get cluster state successful.","cluster_state":"CLUSTER_READY"' ||
	fail "GET /state: $st"
echo "ok: 4 servers, CLUSTER_READY"

# ---- the management API refuses what it must ----
r=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"worker_num":1,"server_num":0}' "$API/scaleout")
[ "$r" = 400 ] || fail "scaleout of workers: HTTP $r"
r=$(curl -s -o /dev/null -w '%{http_code}' "$API/nope")
[ "$r" = 404 ] || fail "unknown path: HTTP $r"

# ---- scale-out by two ----
out=$(post /scaleout '{"worker_num":0,"server_num":2}')
echo "$out" | grep -q '"message":"Cluster begin to scale out."' || fail "scaleout: $out"
[ "$(state)" = CLUSTER_SCALE_OUT ] || fail "after scaleout: $(state)"
"$BIN/fl-server" --scheduler_ip=127.0.0.1 --scheduler_port="$SP" --fl_server_port="$FP2" \
	--server_num=6 --local_server_num=2 --node_id=4 --config_file_path="$WORK/config.json" \
	>"$WORK/servers2.log" 2>&1 &
STARTED="$STARTED $!"
wait_for "6 servers after scale-out" 60 ready_with 6
echo "ok: scaled out to 6 servers"

# ---- scale-in of two named nodes (ranks 2 and 3) ----
ids=$(get /nodes | grep -o '"nodeId":"[^"]*","rankId":"[23]","role":"SERVER"' |
	sed 's/"nodeId":"\([^"]*\)".*/\1/')
set -- $ids
[ $# -eq 2 ] || fail "cannot find the servers of ranks 2 and 3: $(get /nodes)"
out=$(post /scalein "{\"node_ids\":[\"$1\",\"$2\"]}")
echo "$out" | grep -q '"message":"Cluster begin to scale in."' || fail "scalein $1 $2: $out"
wait_for "4 servers after scale-in" 60 ready_with 4
get /nodes | grep -q "\"nodeId\":\"$1\"" && fail "node $1 still listed after scale-in"
# The removed servers stay up until SIGTERM (fl-finish must still find them).
sleep 1
out=$(awk '$1 == "scaled-in-server" { print $3 }' "$WORK/flbench-$SP.pids")
[ -n "$out" ] || fail "the pid file lists no scaled-in server: $(cat "$WORK/flbench-$SP.pids")"
for p in $out; do
	kill -0 "$p" 2>/dev/null || fail "scaled-in server $p exited before SIGTERM"
done
echo "ok: scaled in $1 and $2"

# ---- kill -9 the scheduler, start it again with the same flags ----
kill -0 "$SRV_PID" 2>/dev/null || fail "the first fl-server died"
DEV=$(get /nodes | grep -o '"rankId":"0","role":"SERVER","ip":"[^"]*","port":[0-9]*,"flServerPort":[0-9]*' |
	sed 's/.*"flServerPort"://')
[ -n "$DEV" ] || fail "no device port for rank 0 in /nodes: $(get /nodes)"
server_pids() { awk '$1 == "server" { print $2 "=" $3 }' "$WORK/flbench-$SP.pids" | sort | tr '\n' ' '; }
BEFORE=$(server_pids)
kill -9 "$SCHED_PID"
wait "$SCHED_PID" 2>/dev/null
# Devices never talk to the scheduler: the device port still answers.
code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$DEV/")
[ "$code" != 000 ] || fail "the device port stopped answering while the scheduler was down"
start_scheduler
wait_for "recovery to CLUSTER_READY with 4 servers" 60 ready_with 4
kill -0 "$SRV_PID" 2>/dev/null || fail "a server was restarted or died during recovery"
[ "$(server_pids)" = "$BEFORE" ] || fail "servers changed across recovery: '$BEFORE' -> '$(server_pids)'"
grep -q "recovered metadata" "$WORK/scheduler.log" || fail "the scheduler did not reload its metadata"
echo "ok: scheduler recovered"

# ---- fl-finish stops everything ----
out=$("$BIN/fl-finish" --scheduler_port="$SP" 2>&1) || fail "fl-finish failed: $out"
echo "$out" | grep -q "^killed $SCHED_PID\$" || fail "fl-finish did not report the scheduler: $out"
for p in $STARTED; do
	wait "$p" 2>/dev/null
done
sleep 0.2
for p in $STARTED; do
	if kill -0 "$p" 2>/dev/null; then fail "process $p survived fl-finish"; fi
done
left=$(for d in /proc/[0-9]*; do
	cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
	case "$cmd" in *fl-s*"--scheduler_port=$SP "*) echo "${d#/proc/}: $cmd" ;; esac
done)
[ -z "$left" ] || fail "left behind: $left"
echo "ok: fl-finish stopped every node"
echo "PASS: sched_guide"
