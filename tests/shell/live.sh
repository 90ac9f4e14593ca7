#!/bin/sh
# Live mode (docs/live-mode.md): scenarios/live-quickstart.json, live-server-recovery.json and the
# two rank-0 failover scenarios with
# real fl-scheduler, fl-server, fl-fleet and netem-proxy processes (60 s each; the first also
# resizes and skews the fleet through its control API and partitions two servers through their
# advertised proxy endpoints), then a run stopped
# by Ctrl-C (SIGINT to sim) and a run whose sim is SIGKILLed. Each must leave no process of its own
# behind (checked by the pids the run recorded and by `pgrep -f` on its unique output directory)
# and no port listening. Uses $BIN (set by scripts/run-shell-tests.sh).
set -u
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
cd "$(dirname "$0")/../.." || exit 1
for b in sim fl-scheduler fl-server fl-fleet netem-proxy; do
	[ -x "$BIN/$b" ] || { echo "SKIP: $BIN/$b not built"; exit 0; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/flbench-live-XXXXXX")
SIMPID=""
cleanup() {
	# the runs clean up after themselves; this only guards against a failing test leaving them
	[ -n "$SIMPID" ] && kill -9 "$SIMPID" 2>/dev/null
	for f in "$T"/*/pids; do
		[ -f "$f" ] && for p in $(awk '{print $2}' "$f"); do kill -9 "$p" 2>/dev/null; done
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail=0
no() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok - $*"; }

# the pids of OUT's processes that still run (a zombie has no command line: it does not count)
left_over() {
	out=$1
	left=""
	[ -f "$out/pids" ] || { echo "no pids file"; return; }
	for p in $(awk '{print $2}' "$out/pids"); do
		if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q "$out/"; then
			left="$left $p"
		fi
	done
	pg=$(pgrep -f "$out/" | tr '\n' ' ')
	[ -n "$left$pg" ] && echo "pids:$left pgrep: $pg"
}

# ports of the run's nodes still listening (from summary.json's live.processes addresses)
listening() {
	for port in $(grep -o '"\(address\|inter_address\|proxy\|inter_proxy\|management_api\)":[^"]*"127\.0\.[01]\.[0-9]*:[0-9]*"' "$1/summary.json" |
		sed 's/.*:\([0-9]*\)"$/\1/'); do
		hex=$(printf '%04X' "$port")
		cat /proc/net/tcp 2>/dev/null | awk -v h="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == h) found = 1 } END { exit !found }' &&
			echo "$port"
	done
}

# wait_pid PID SECONDS: wait for a background sim; its exit status in $RC (124: gave up)
wait_pid() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$1" 2>/dev/null; then RC=124; else wait "$1"; RC=$?; fi
}

for name in live-quickstart live-server-recovery; do
	out="$T/$name"
	start=$(date +%s)
	"$BIN/sim" run "scenarios/$name.json" --mode live --duration 60s --quiet --no-report --out "$out" \
		>"$T/$name.txt" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then ok "$name: exit 0 in ${secs}s: $(head -1 "$T/$name.txt")"; else
		no "$name: exit $rc"; cat "$T/$name.txt"; fi
	grep -q '"mode":	"live"' "$out/summary.json" 2>/dev/null || no "$name: summary.json does not say mode live"
	grep -q '"ok":	true' "$out/summary.json" 2>/dev/null || no "$name: summary.json does not say ok"
	for o in events.jsonl metrics.csv servers.csv iterations.jsonl trace.json junit.xml config.json; do
		[ -s "$out/$o" ] || no "$name: $o missing or empty"
	done
	for l in scheduler server-0 server-1 server-2 server-3 fleet netem-proxy; do
		[ -s "$out/logs/$l.log" ] || no "$name: logs/$l.log missing or empty"
	done
	grep -q 'Server started successfully' "$out/logs/server-0.log" || no "$name: server/0 never served"
	# the kills and restarts happened, to real processes (a restart appends to the same log)
	n=$(grep -c '"action":"restart"' "$out/events.jsonl")
	[ "$n" -ge 1 ] && ! grep '"action":"\(kill\|restart\)"' "$out/events.jsonl" | grep -q '"error"' ||
		no "$name: kill/restart events missing or failed: $(grep '"fault"' "$out/events.jsonl")"
	grep -q '==== sim: server/[0-9]*: start 2 ' "$out"/logs/server-*.log || no "$name: no server was started twice"
	[ "$(grep -c '"kind":"iteration"' "$out/events.jsonl")" -ge 3 ] || no "$name: fewer than 3 iterations"
	left=$(left_over "$out")
	[ -z "$left" ] && ok "$name: no process left ($(wc -l <"$out/pids") started)" || no "$name: left behind: $left"
	ports=$(listening "$out")
	[ -z "$ports" ] || no "$name: ports still listening: $ports"
done
grep -q '"action":"scale_out"' "$T/live-quickstart/events.jsonl" && [ -s "$T/live-quickstart/logs/server-5.log" ] ||
	no "live-quickstart: the scale-out did not start server/5"
# the fleet is resized and partly skewed through its control API (--control_port), as in sim mode
q="$T/live-quickstart"
grep -q '"devices.final":	300' "$q/summary.json" || no "live-quickstart: devices.final is not 300 after the resize"
grep '"action":"\(fleet\|clock_skew\|partition\)"' "$q/events.jsonl" | grep -q '"error"' &&
	no "live-quickstart: fleet/clock_skew/partition failed: $(grep '"error"' "$q/events.jsonl")"
grep -q 'control: resized to 300 devices' "$q/logs/fleet.log" &&
	grep -q 'control: share 0.25 of the devices skewed by 2000 ms' "$q/logs/fleet.log" &&
	ok "live-quickstart: fleet resized to 300 and a quarter skewed live" ||
	no "live-quickstart: fl-fleet did not log the resize and the skew"
# servers advertise their inter-node proxy endpoints (127.0.1.x): server<->server links pass
# netem-proxy, so the partition between server/0 and server/1 applies to them
n=$(grep -c 'server [0-9]* registered: rank [0-9]*, 127\.0\.1\.' "$q/logs/scheduler.log")
[ "$n" -ge 4 ] && ! grep 'server [0-9]* registered: rank' "$q/logs/scheduler.log" | grep -q ', 127\.0\.0\.' &&
	ok "live-quickstart: $n server registrations advertise proxy endpoints" ||
	no "live-quickstart: servers did not advertise their proxy endpoints: $(grep registered "$q/logs/scheduler.log")"

# Rank 0 failover on real processes (issue 11): rank 0 killed (and back 25 s later), and rank 0
# partitioned away through netem-proxy; both times rank 1 takes the role and training goes on
for name in live-rank0-failover live-rank0-partition; do
	out="$T/$name"
	"$BIN/sim" run "scenarios/$name.json" --quiet --no-report --out "$out" >"$T/$name.txt" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then ok "$name: exit 0: $(head -1 "$T/$name.txt")"; else
		no "$name: exit $rc"; cat "$T/$name.txt"; fi
	grep -q 'leader failover: server 0 is marked dead; server 1 (rank 1) leads from leader epoch 2' \
		"$out/logs/scheduler.log" && grep -q 'leader (rank 1, leader epoch 2): taking the counting role' \
		"$out/logs/server-1.log" && ok "$name: rank 1 took the role (leader epoch 2)" ||
		no "$name: no failover to rank 1 in the logs"
	# the old rank 0 came back (restart, or heal) as a follower
	grep -q 'leader epoch 2: server 1 leads' "$out/logs/server-0.log" &&
		ok "$name: the old rank 0 follows server 1" || no "$name: server/0 never heard of the new leader"
	left=$(left_over "$out")
	[ -z "$left" ] || no "$name: left behind: $left"
done

# Ctrl-C: SIGINT to sim mid-run stops it within a tick; it dies of SIGINT, everything is gone,
# and summary.json says it was interrupted
out="$T/interrupted"
"$BIN/sim" run scenarios/live-server-recovery.json --quiet --no-report --out "$out" >"$T/int.txt" 2>&1 &
SIMPID=$!
n=0
until grep -q '^fleet ' "$out/pids" 2>/dev/null || [ $n -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
sleep 3
[ -n "$(pgrep -f "$out/")" ] || no "interrupt: no process of the run was running before the SIGINT"
kill -INT "$SIMPID"
wait_pid "$SIMPID" 30
SIMPID=""
[ $RC -eq 130 ] && ok "SIGINT: sim exited 130" || { no "SIGINT: sim exit $RC"; cat "$T/int.txt"; }
left=$(left_over "$out")
[ -z "$left" ] && ok "SIGINT: no process left ($(wc -l <"$out/pids") started)" || no "SIGINT: left behind: $left"
grep -q '"interrupted":	true' "$out/summary.json" 2>/dev/null || no "SIGINT: summary.json does not say interrupted"
ports=$(listening "$out")
[ -z "$ports" ] || no "SIGINT: ports still listening: $ports"

# sim itself dies without a word (SIGKILL): the children's death signal takes them down
out="$T/killed"
"$BIN/sim" run scenarios/live-server-recovery.json --quiet --no-report --out "$out" >"$T/kill.txt" 2>&1 &
SIMPID=$!
n=0
until grep -q '^fleet ' "$out/pids" 2>/dev/null || [ $n -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
sleep 2
kill -9 "$SIMPID"
wait_pid "$SIMPID" 10
SIMPID=""
n=0
while [ -n "$(left_over "$out")" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
left=$(left_over "$out")
[ -z "$left" ] && ok "SIGKILL of sim: no process left ($(wc -l <"$out/pids") started)" ||
	no "SIGKILL of sim: left behind: $left"

[ $fail -eq 0 ] && echo "PASS: live" || echo "FAIL: live"
[ $fail -eq 0 ]
