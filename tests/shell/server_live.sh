#!/bin/sh
# Live fl-server: a real scheduler and two real server processes (--local_server_num=2), driven
# with curl. One startFLJob is built by hand with printf and its answer read with od, to show the
# wire format needs nothing special; the rest use fl-server's own --make_envelope/--read_envelope.
# Checks a full iteration (both servers serve the same bytes), error replies, /metrics,
# iterations.jsonl and recovery files, a SIGKILLed rank 0 restarted from its files, exit on the
# scheduler's CLUSTER_EXIT, --help and a refused configuration. Uses $BIN (set by
# scripts/run-shell-tests.sh); kills what it starts.
set -eu
NAME=server_live
. "$(dirname "$0")/../lib/harness.sh"
export TMPDIR="$T" # the scheduler's pid file goes here

# wait_count FILE PATTERN N: until FILE has N lines matching PATTERN (20 s)
wait_count() {
	i=0
	while [ $i -lt 200 ]; do
		[ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

SPORT=$((20000 + ($$ % 4000) * 4))
HPORT=$((SPORT + 1))
MODEL=synthetic:16

# ---- tools: --help and a refused configuration ----
"$BIN/fl-server" --help >"$T/help" || fail "--help exit code"
grep -q -- '--local_server_num' "$T/help" || fail "--help lacks local_server_num"
grep -q -- '--replay_attack_time_diff .*default 10m' "$T/help" || fail "--help lacks a default"
rc=0
"$BIN/fl-server" --start_fl_job_threshold=0 2>"$T/bad.err" || rc=$?
[ $rc -eq 2 ] || fail "zero threshold: exit $rc"
grep -q 'start_fl_job_threshold must be greater than 0' "$T/bad.err" || fail "message: $(cat "$T/bad.err")"
rc=0
"$BIN/fl-server" --update_model_ratio=1.5 2>"$T/bad.err" || rc=$?
[ $rc -eq 2 ] && grep -q 'update_model_ratio' "$T/bad.err" || fail "ratio > 1 accepted"
ok "--help lists the flags with defaults; invalid values stop start-up with a message"

# ---- a cluster: scheduler + 2 servers in one fl-server ----
cat >"$T/config.json" <<EOF
{"start_fl_job_time_window": "60s", "update_model_ratio": 1.0, "recovery": true,
 "fl_iteration_num": 5, "scheduler_manage_port": 0}
EOF
"$BIN/fl-scheduler" --scheduler_port=$SPORT --scheduler_manage_port=0 --server_num=2 \
	>"$T/sched.out" 2>"$T/sched.err" &
SCHEDPID=$!
pids="$pids $SCHEDPID"
"$BIN/fl-server" --scheduler_ip=127.0.0.1 --scheduler_port=$SPORT --fl_server_port=$HPORT \
	--server_num=2 --start_fl_job_threshold=2 --local_server_num=2 --model=$MODEL \
	--data_dir="$T/data" --config_file_path="$T/config.json" >"$T/srv.out" 2>"$T/srv.err" &
SRVPID=$!
pids="$pids $SRVPID"
wait_count "$T/srv.out" '^Server started successfully\.$' 2 || fail "two servers did not start"
ok "--local_server_num=2: two servers print 'Server started successfully.'"

req() { "$BIN/fl-server" --make_envelope="$1" --model=$MODEL ${2:+--envelope_fill=$2} >"$T/req"; }
post() { curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/req" "http://127.0.0.1:$1/$2"; }
hdr() { "$BIN/fl-server" --read_envelope <"$T/resp" | head -n 1; }
retcode() { hdr | sed -n 's/.*"retcode":\([0-9]*\).*/\1/p'; }

# startFLJob built by hand: u32 little-endian header length, then the JSON header
now=$(($(date +%s%N) / 1000000))
h="{\"fl_name\":\"Lenet\",\"fl_id\":\"d1\",\"data_size\":10,\"timestamp\":\"$now\"}"
len=${#h}
printf "$(printf '\\%03o\\%03o\\000\\000' $((len % 256)) $((len / 256)))%s" "$h" >"$T/req"
[ "$(post $HPORT startFLJob)" = 200 ] || fail "startFLJob HTTP status"
hlen=$(od -An -tu4 -N4 "$T/resp" | tr -d ' ')
dd if="$T/resp" bs=1 skip=4 count="$hlen" 2>/dev/null >"$T/resp.json"
grep -q '"retcode":200' "$T/resp.json" || fail "startFLJob: $(cat "$T/resp.json")"
grep -q '"iteration":1' "$T/resp.json" || fail "startFLJob iteration: $(cat "$T/resp.json")"
grep -q '"fl_plan_config":{' "$T/resp.json" || fail "no fl_plan_config"
ok "startFLJob from printf bytes, answer read with od: SUCCEED, iteration 1, fl_plan_config"

req '{"fl_name":"Lenet","fl_id":"d2","data_size":20,"timestamp":"now"}'
post $((HPORT + 1)) startFLJob >/dev/null
[ "$(retcode)" = 200 ] || fail "startFLJob d2: $(hdr)"
req '{"fl_name":"Lenet","fl_id":"d3","data_size":20,"timestamp":"now"}'
post $HPORT startFLJob >/dev/null
[ "$(retcode)" = 300 ] || fail "third startFLJob not OutOfTime: $(hdr)"
hdr | grep -q 'reached the threshold' || fail "full round reason: $(hdr)"
req '{"fl_name":"Lenet","fl_id":"d4","data_size":0,"timestamp":"now"}'
post $HPORT startFLJob >/dev/null
hdr | grep -q 'FL job data size is not enough' || fail "data size reason: $(hdr)"
req '{"fl_name":"Lenet","fl_id":"d4","data_size":3,"timestamp":"1000"}'
post $HPORT startFLJob >/dev/null
[ "$(retcode)" = 400 ] || fail "an old timestamp was accepted: $(hdr)"
hdr | grep -q "server's time" || fail "replay reason: $(hdr)"
req '{"fl_name":"Lenet","fl_id":"d1","iteration":7,"timestamp":"now"}' 1.0
post $HPORT updateModel >/dev/null
hdr | grep -q 'UpdateModel iteration number is invalid:7, current iteration:1' || fail "$(hdr)"
req '{"fl_name":"Lenet","fl_id":"ghost","iteration":1,"timestamp":"now"}' 1.0
post $((HPORT + 1)) updateModel >/dev/null
hdr | grep -q 'devices_meta for ghost is not set' || fail "$(hdr)"
ok "error replies: full round, data size, replay window, iteration mismatch, devices_meta"

req '{"fl_name":"Lenet","fl_id":"d1","iteration":1,"timestamp":"now","upload_loss":0.5}' 1.0
post $HPORT updateModel >/dev/null
[ "$(retcode)" = 200 ] || fail "updateModel d1: $(hdr)"
req '{"fl_name":"Lenet","fl_id":"d2","iteration":1,"timestamp":"now","upload_loss":0.7}' 3.0
post $((HPORT + 1)) updateModel >/dev/null
[ "$(retcode)" = 200 ] || fail "updateModel d2: $(hdr)"
get_model() { # PORT ITER -> model_hash line in $T/model.$PORT
	i=0
	while [ $i -lt 100 ]; do
		req "{\"fl_name\":\"Lenet\",\"iteration\":$2,\"timestamp\":\"now\"}"
		post "$1" getModel >/dev/null
		if [ "$(retcode)" = 200 ]; then
			"$BIN/fl-server" --read_envelope <"$T/resp" | grep '^model_hash' >"$T/model.$1"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
get_model $HPORT 1 || fail "getModel(1) on server 0"
get_model $((HPORT + 1)) 1 || fail "getModel(1) on server 1"
cmp -s "$T/model.$HPORT" "$T/model.$((HPORT + 1))" || fail "the servers serve different models"
ok "a full iteration over two servers; both serve the same model ($(cat "$T/model.$HPORT"))"

curl -s "http://127.0.0.1:$HPORT/metrics" >"$T/metrics" || fail "GET /metrics"
grep -q '^flserver_iteration 2$' "$T/metrics" || fail "metrics iteration: $(cat "$T/metrics")"
grep -q 'flserver_requests_total{round="updateModel",retcode="200"} 1' "$T/metrics" || fail "metrics counts"
grep -q 'flserver_iterations_total{result="success"} 1' "$T/metrics" || fail "metrics success"
ok "/metrics in Prometheus text"

# which of the two is rank 0 depends on who registered first
for id in 0 1; do
	curl -s "http://127.0.0.1:$((HPORT + id))/metrics" | grep -q '^flserver_rank 0$' && LID=$id
done
[ -n "${LID:-}" ] || fail "no server reports rank 0"
FID=$((1 - LID))
DL="$T/data/server_$LID"
DF="$T/data/server_$FID"
wait_count "$DL/iterations.jsonl" '"currentIteration":1' 1 || fail "no iterations.jsonl line"
grep -q '"iterationResult":"success"' "$DL/iterations.jsonl" || fail "iterations.jsonl result"
grep -q '"startFLJobAcceptClientNum":2' "$DL/iterations.jsonl" || fail "iterations.jsonl counts: $(cat "$DL/iterations.jsonl")"
[ ! -e "$DF/iterations.jsonl" ] || fail "a follower wrote iterations.jsonl"
[ -s "$DL/srv_state" ] && [ -s "$DL/model_1" ] && [ -s "$DF/model_1" ] || fail "no recovery files"
ok "rank 0 (node $LID) writes iterations.jsonl; both keep recovery files"

# ---- SIGKILL rank 0 and start it again from its files ----
PIDS_FILE="$T/flbench-$SPORT.pids"
wait_count "$PIDS_FILE" "^server $LID " 1 || fail "no pid for server $LID in $PIDS_FILE"
pl=$(sed -n "s/^server $LID \([0-9]*\)\$/\1/p" "$PIDS_FILE")
kill -9 "$pl"
sleep 0.5
"$BIN/fl-server" --scheduler_port=$SPORT --fl_server_port=$((HPORT + LID)) --node_id=$LID \
	--server_num=2 --start_fl_job_threshold=2 --model=$MODEL --data_dir="$T/data" \
	--config_file_path="$T/config.json" >"$T/srvL.out" 2>"$T/srvL.err" &
SRVLPID=$!
pids="$pids $SRVLPID"
wait_count "$T/srvL.out" '^Server started successfully\.$' 1 || fail "server $LID did not come back"
grep -q 'recovery: reloaded iteration 2' "$T/srvL.err" || fail "server $LID did not reload its files"
curl -s "http://127.0.0.1:$((HPORT + LID))/metrics" | grep -q '^flserver_rank 0$' || fail "rank 0 not back"
for id in 0 1; do
	cp "$T/model.$((HPORT + id))" "$T/before"
	get_model $((HPORT + id)) 1 || fail "getModel(1) on server $id after the restart"
	cmp -s "$T/before" "$T/model.$((HPORT + id))" || fail "the model of iteration 1 changed on $id"
done
ok "a SIGKILLed rank 0 restarts from its files: same rank, same committed model everywhere"

kill "$SRVPID"
i=0
while kill -0 "$SRVPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$SRVPID" 2>/dev/null && fail "fl-server did not exit on SIGTERM"
ok "SIGTERM stops the fl-server parent and its servers"

kill "$SCHEDPID"
i=0
while kill -0 "$SRVLPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$SRVLPID" 2>/dev/null && fail "server $LID did not exit after the scheduler's CLUSTER_EXIT"
grep -q 'CLUSTER_EXIT' "$T/srvL.err" || fail "no CLUSTER_EXIT in the log"
ok "a server exits when the scheduler shuts the cluster down"
