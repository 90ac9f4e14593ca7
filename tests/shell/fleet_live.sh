#!/bin/sh
# Live fl-fleet: --help and refused flags; then a real scheduler and two real servers
# (fl-server --local_server_num=2) with devices found through the scheduler's GET /nodes, a
# fleet stopped by SIGTERM on a static --servers list (one dead entry to fail over from), and a
# few devices doing real LeNet-5 training with the global model evaluated. Checks the exit codes,
# requests.csv, eval.csv and summary.json. Uses $BIN (set by scripts/run-shell-tests.sh); kills
# what it starts.
set -eu
NAME=fleet_live
. "$(dirname "$0")/../lib/harness.sh"
export TMPDIR="$T" # the scheduler's pid file goes here

# rows FILE ROUND RETCODE: requests.csv rows of that round and retcode
rows() { awk -F, -v r="$2" -v c="$3" '$2 == r && $4 == c' "$1" | wc -l; }
json_num() { sed -n "s/.*\"$2\":[[:space:]]*\([0-9.]*\).*/\1/p" "$1" | head -n 1; }

F="$BIN/fl-fleet"

# ---- flags ----
"$F" --help >"$T/help" || fail "--help exit code"
for flag in scheduler_ip scheduler_manage_port servers devices training train_backend model seed \
	out partition samples_per_device compute_ms_per_sample bandwidth_kbps clock_skew_ms \
	online_fraction dropout request_timeout max_wait discovery_interval duration progress; do
	grep -q -- "--$flag " "$T/help" || fail "--help lacks --$flag"
done
for bad in --training=fancy --servers=nowhere --compute_ms_per_sample=zipf:1 --devices=-3 \
	--model=resnet --dropout=2 --no_such_flag=1; do
	rc=0
	"$F" "$bad" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ $rc -eq 2 ] || fail "$bad: exit $rc"
	grep -q 'fl-fleet: ' "$T/bad.err" || fail "$bad: no message"
done
ok "--help lists the flags; bad values exit 2 with a message"

# ---- a cluster: scheduler + 2 servers ----
SPORT=$((40000 + ($$ % 4000) * 4))
HPORT=$((SPORT + 1))
"$BIN/fl-scheduler" --scheduler_port=$SPORT --scheduler_manage_port=0 --server_num=2 \
	>"$T/sched.out" 2>"$T/sched.err" &
pids="$pids $!"
MPORT=$(wait_line "$T/sched.out" 's/.*management API on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p') ||
	fail "scheduler did not start"
"$BIN/fl-server" --scheduler_port=$SPORT --fl_server_port=$HPORT --local_server_num=2 \
	--server_num=2 --model=synthetic:16 --start_fl_job_threshold=4 \
	--start_fl_job_time_window=2s --update_model_time_window=2s \
	--global_iteration_time_window=6s --fl_iteration_num=1000 --client_epoch_num=1 \
	--data_dir="$T/srv" \
	--log_level=warn >"$T/srv.out" 2>"$T/srv.err" &
pids="$pids $!"
sleep 1

# discovery through GET /nodes, stopped by --duration
rc=0
timeout 60 "$F" --scheduler_manage_port=$MPORT --discovery_interval=500ms --devices=10 \
	--model=synthetic:16 --samples_per_device=100 --seed=3 --duration=15s --max_wait=2s --progress=off \
	--out="$T/disc" >"$T/disc.out" 2>"$T/disc.err" || rc=$?
[ $rc -eq 0 ] || fail "discovery run: exit $rc"
grep -q '2 servers: 0=127.0.0.1:'"$HPORT"' 1=127.0.0.1:'"$((HPORT + 1))" "$T/disc.err" ||
	fail "servers not discovered: $(cat "$T/disc.err")"
[ "$(head -n 1 "$T/disc/requests.csv")" = "time_ms,round,server,retcode,latency_ms,bytes_out,bytes_in" ] ||
	fail "requests.csv header"
[ "$(rows "$T/disc/requests.csv" startFLJob 200)" -ge 8 ] || fail "too few startFLJob SUCCEED"
[ "$(rows "$T/disc/requests.csv" updateModel 200)" -ge 8 ] || fail "too few updateModel SUCCEED"
[ "$(rows "$T/disc/requests.csv" getModel 200)" -ge 4 ] || fail "too few getModel SUCCEED"
awk -F, 'NR > 1 && $3 != 0 && $3 != 1' "$T/disc/requests.csv" | grep -q . && fail "unknown server id"
[ "$(json_num "$T/disc/summary.json" last_iteration)" -ge 2 ] || fail "no iteration committed"
ok "discovery: devices found both servers and completed iterations (requests.csv, summary.json)"

# static list with a dead entry; SIGTERM stops it cleanly
"$F" --servers=127.0.0.1:$HPORT,127.0.0.1:$((HPORT + 1)),127.0.0.1:$((HPORT + 2)) \
	--devices=12 --model=synthetic:16 --samples_per_device=100 --seed=4 --max_wait=2s --progress=off \
	--out="$T/static" >"$T/static.out" 2>"$T/static.err" &
FP=$!
pids="$pids $FP"
i=0
while [ "$(rows "$T/static/requests.csv" getModel 200 2>/dev/null || echo 0)" -lt 4 ] && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $FP
rc=0
wait $FP || rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: exit $rc"
[ -s "$T/static/summary.json" ] || fail "no summary.json after SIGTERM"
[ "$(rows "$T/static/requests.csv" getModel 200)" -ge 4 ] || fail "static run made no progress"
[ "$(awk -F, '$3 == 2 && $4 < 0' "$T/static/requests.csv" | wc -l)" -ge 1 ] ||
	fail "the dead entry was never tried"
[ "$(awk -F, '$3 == 2 && $4 == 200' "$T/static/requests.csv" | wc -l)" -eq 0 ] ||
	fail "an answer from a dead server"
ok "static --servers: failed over from the dead entry; SIGTERM exits 0 with summary.json"
kill $pids 2>/dev/null || true
for p in $pids; do wait "$p" 2>/dev/null || true; done
pids=""

# ---- real training: LeNet-5 on Fashion-MNIST, a standalone server ----
if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
	"$BIN/fl-server" --scheduler_port=0 --server_num=1 --fl_server_port=$((HPORT + 3)) \
		--model=lenet5 --start_fl_job_threshold=4 --start_fl_job_time_window=3s \
		--update_model_time_window=3s --global_iteration_time_window=10s \
		--fl_iteration_num=1000 --client_epoch_num=1 --client_batch_size=32 \
		--client_learning_rate=0.05 --data_dir="$T/srv2" --log_level=warn \
		>"$T/srv2.out" 2>"$T/srv2.err" &
	pids="$pids $!"
	sleep 1
	"$F" --servers=127.0.0.1:$((HPORT + 3)) --devices=4 --training=real \
		--samples_per_device=300 --seed=5 --max_wait=2s --progress=off \
		--out="$T/real" >"$T/real.out" 2>"$T/real.err" &
	FP=$!
	pids="$pids $FP"
	i=0 # until the third evaluation (at most 120 s: machines are slow and shared)
	while [ "$(cat "$T/real/eval.csv" 2>/dev/null | wc -l)" -lt 4 ] && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -INT $FP
	rc=0
	wait $FP || rc=$?
	[ $rc -eq 0 ] || fail "real run: SIGINT exit $rc"
	[ "$(wc -l <"$T/real/eval.csv")" -ge 4 ] || fail "fewer than 3 evaluations"
	awk -F, 'NR > 1 { a = $4 } END { exit !(a > 0.4) }' "$T/real/eval.csv" ||
		fail "accuracy did not rise: $(cat "$T/real/eval.csv")"
	grep -q 'accuracy' "$T/real/summary.json" || fail "no accuracy in summary.json"
	ok "real training: the global model learns (eval.csv: $(tail -n 1 "$T/real/eval.csv"))"
else
	echo "ok - real training skipped (no Fashion-MNIST)"
fi
