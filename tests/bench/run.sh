#!/bin/sh
# `make bench`: every benchmark figure, each measured BENCH_RUNS times (default 3) with its
# baseline side by side in the same run; prints the table and writes reports/out/bench/bench.json
# (what `sim compare` reads) and reports/out/bench/index.html. Missed goals do not fail the
# command (the verdict column says so; `sim compare` is the gate); a figure that cannot be
# measured for want of a tool (wrk, /usr/bin/time) is skipped with the reason; one that breaks
# makes the exit status 1.
#
# Figures (tests/bench/README.md has the details):
#   sim      sim_speed, sim_floor_ratio, sim_speed_100k, sim_bytes_per_device,
#            sim_peak_rss_10k/100k, sim_fleet_bytes_per_device_10k/100k
#            (bin/sim on scenarios/bench-sim-{10k,100k}.json, fedavg_bench --floor), and once per
#            make bench sim_speed_1m, sim_peak_rss_1m, sim_bytes_per_device_1m (bench-sim-1m.json)
#   devapi   device_api_throughput        (devapi_load -> fl-server, over devapi_load -> tcp_sink)
#   wrk      small_request_rate           (wrk -> fl-server, over wrk -> llhttp_responder)
#   fedavg   aggregation_bandwidth(_big)  (fedavg_accumulate over memcpy)
#   train    training_gflops              (LeNet-5 SGD over cblas_sgemm)
#   proxy    proxy_throughput             (netem-proxy over raw loopback, netem_proxy.sh)
#
# Environment: BIN (bin/), BENCH_BIN (the bench programs, default build/rel/bench),
# BENCH_RUNS (3), BENCH_ONLY (groups to run, e.g. "fedavg train"), BENCH_SIM_1M (1; 0 skips the
# million-device run, the most expensive figure: ~1 GiB and a minute or two), BENCH_OUT
# (reports/out/bench), BENCH_DEVAPI_DEVICES (4000), BENCH_CONNS (4), BENCH_WRK_SECONDS (5),
# BENCH_WRK_CONNS (32), BENCH_PROXY_SIZE (512MiB).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
BIN=${BIN:-$ROOT/bin}
BENCH_BIN=${BENCH_BIN:-$ROOT/build/rel/bench}
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-sim devapi wrk fedavg train proxy}
OUT=${BENCH_OUT:-$ROOT/reports/out/bench}
DEVICES=${BENCH_DEVAPI_DEVICES:-4000}
CONNS=${BENCH_CONNS:-4}
WRK_S=${BENCH_WRK_SECONDS:-5}
WRK_C=${BENCH_WRK_CONNS:-32}
PROXY_SIZE=${BENCH_PROXY_SIZE:-512MiB}

case $RUNS in ''|*[!0-9]*|0) echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac
for p in sim fl-server netem-proxy; do
	[ -x "$BIN/$p" ] || { echo "bench: $BIN/$p missing (make build)" >&2; exit 2; }
done
for p in tcp_sink devapi_load llhttp_responder fedavg_bench train_bench bench_report; do
	[ -x "$BENCH_BIN/$p" ] || { echo "bench: $BENCH_BIN/$p missing (make bench builds it)" >&2; exit 2; }
done

T=$(mktemp -d /tmp/flbench-bench-XXXXXX)
META=$T/meta.tsv
RAW=$T/raw.tsv
SKIP=$T/skipped.tsv
: >"$RAW"
: >"$SKIP"
pids=""
broken=0
# shellcheck disable=SC2317 # called from the trap
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
# rec NAME VALUE [BASELINE]: one run's numbers (ignored, with a warning, if not numbers)
rec() {
	if echo "$2 ${3:-0}" | grep -Eq '^[0-9.eE+-]+ [0-9.eE+-]+$'; then
		printf '%s\t%s\t%s\n' "$1" "$2" "${3:--}" >>"$RAW"
	else
		say "$1: no number from this run ('$2' '${3:-}')"
		broken=1
	fi
}
skip() { printf '%s\t%s\n' "$1" "$2" >>"$SKIP"; say "skipping $1: $2"; }
wants() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# field FILE KEY: the number after KEY in the first line that has it
field() { sed -n "s|.*$2 \\([-0-9.eE+]*\\).*|\\1|p" "$1" | head -n 1; }
# json_num FILE KEY: a top-level-looking "KEY": number of a cJSON-printed file
json_num() { sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\\([-0-9.eE+]*\\).*/\\1/p" "$1" | head -n 1; }

# wait_line FILE SED: the first match of SED in FILE, waiting up to 10 s for it
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
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	left=""
	for p in $pids; do [ "$p" = "$1" ] || left="$left $p"; done
	pids=$left
}

# start_server LOG ARGS...: a standalone fl-server on a free port; sets SRV_PID and SRV_PORT
start_server() {
	log=$1
	shift
	a=0
	while [ $a -lt 8 ]; do
		SRV_PORT=$(( ($$ * 7919 + a * 104729 + $(date +%s)) % 30000 + 20000 ))
		"$BIN/fl-server" --scheduler_port=0 --fl_server_port="$SRV_PORT" --log_level=warn \
			"$@" >"$log" 2>&1 &
		SRV_PID=$!
		pids="$pids $SRV_PID"
		if wait_line "$log" '/Server started successfully/p' >/dev/null; then
			return 0
		fi
		stop "$SRV_PID"
		a=$((a + 1))
	done
	say "fl-server did not start: $(tail -n 3 "$log")"
	return 1
}
# start_aid LOG WORD PROG ARGS...: a bench aid that prints "WORD IP:PORT"; sets AID_PID, AID_PORT
start_aid() {
	log=$1
	word=$2
	shift 2
	"$@" >"$log" 2>&1 &
	AID_PID=$!
	pids="$pids $AID_PID"
	AID_PORT=$(wait_line "$log" "s/^$word 127\\.0\\.0\\.1:\\([0-9]*\\)\$/\\1/p") && return 0
	say "$1 did not start: $(tail -n 3 "$log")"
	stop "$AID_PID"
	return 1
}

START=$(date +%s)

# ---- the figures, in table order: name, unit, better, goal, goal on, what, baseline ----
tab=$(printf '\t')
cat >"$META" <<EOF
sim_speed${tab}sim s / wall s${tab}higher${tab}100${tab}value${tab}bin/sim on scenarios/bench-sim-10k.json: 4 servers, LeNet-5, 10,000 synthetic devices, 20 iterations; summary.json speedup${tab}-
sim_floor_ratio${tab}uploads / wall s${tab}higher${tab}0.3${tab}ratio${tab}accepted uploads per wall second of the bench-sim-10k run (summary.json updates.accepted / wall_time_s)${tab}the same count of LeNet-5 uploads, each accumulated once by fedavg_accumulate from a pool of 64 distinct buffers (fedavg_bench --floor): the work no simulator can skip
sim_speed_100k${tab}sim s / wall s${tab}higher${tab}30${tab}value${tab}the same with 100,000 devices (bench-sim-100k.json)${tab}-
sim_speed_1m${tab}sim s / wall s${tab}higher${tab}-${tab}value${tab}bench-sim-1m.json: 1,000,000 devices in one process, 30 s simulated (once per make bench)${tab}-
sim_peak_rss_1m${tab}MiB${tab}lower${tab}8192${tab}value${tab}peak RSS of bin/sim on bench-sim-1m.json (/usr/bin/time)${tab}-
sim_bytes_per_device_1m${tab}B/device${tab}lower${tab}-${tab}value${tab}peak RSS of the whole bench-sim-1m process / 1,000,000 devices${tab}-
sim_bytes_per_device${tab}B/device${tab}lower${tab}-${tab}value${tab}(peak RSS at 100k devices - peak RSS at 10k) / 90,000: whole-process memory per added device${tab}-
sim_peak_rss_10k${tab}MiB${tab}lower${tab}-${tab}value${tab}peak RSS of bin/sim on bench-sim-10k.json (/usr/bin/time)${tab}-
sim_peak_rss_100k${tab}MiB${tab}lower${tab}-${tab}value${tab}peak RSS of bin/sim on bench-sim-100k.json (/usr/bin/time)${tab}-
sim_fleet_bytes_per_device_10k${tab}B/device${tab}lower${tab}-${tab}value${tab}the sim's own metric fleet.bytes_per_device (fleet-owned memory / devices) at 10k devices${tab}-
sim_fleet_bytes_per_device_100k${tab}B/device${tab}lower${tab}-${tab}value${tab}the same at 100k devices${tab}-
device_api_throughput${tab}MB/s${tab}higher${tab}0.5${tab}ratio${tab}updateModel requests with LeNet-5 payloads (~247 KB, all accepted) from devapi_load over ${CONNS} keep-alive connections to one standalone fl-server on loopback${tab}the same bytes in the same request-sized writes from devapi_load to tcp_sink (plain libuv, discards)
small_request_rate${tab}req/s${tab}higher${tab}0.7${tab}ratio${tab}wrk -t1 -c${WRK_C} -d${WRK_S}s POSTing one startFLJob envelope (tests/bench/startfljob.lua) to a standalone fl-server (model synthetic:16: a SUCCEED answer of a few hundred bytes)${tab}the same wrk against llhttp_responder (libuv + llhttp, fixed answer of the same size)
aggregation_bandwidth${tab}GB/s${tab}higher${tab}0.7${tab}ratio${tab}fedavg_accumulate (acc += w * weight, OpenBLAS, 1 thread) over a LeNet-5 upload (61,706 floats); GB/s of upload folded in${tab}memcpy of the same bytes
aggregation_bandwidth_big${tab}GB/s${tab}higher${tab}0.7${tab}ratio${tab}the same over 16,777,216 floats (64 MiB: memory-bound)${tab}memcpy of the same bytes
training_gflops${tab}GFLOP/s${tab}higher${tab}0.333${tab}ratio${tab}LeNet-5 mini-batch SGD (batch 32, 1 thread) as the fleet trains, GEMM flop per lenet_gflop_train()${tab}cblas_sgemm 1024x1024x1024, 1 thread
proxy_throughput${tab}MiB/s${tab}higher${tab}-${tab}ratio${tab}bytes echoed through bin/netem-proxy (no rule) by its --pipe-client, ${PROXY_SIZE} each way (tests/bench/netem_proxy.sh)${tab}the same straight to the echo server (raw loopback)
EOF

# ---- 1, 2: simulation speed and scale ----
if wants sim; then
	have_time=0
	[ -x /usr/bin/time ] && /usr/bin/time -f %M -o "$T/probe" true 2>/dev/null && have_time=1
	if [ $have_time -eq 0 ]; then
		for f in sim_bytes_per_device sim_peak_rss_10k sim_peak_rss_100k; do
			skip $f "/usr/bin/time (Debian package time) is not installed: no peak RSS"
		done
	fi
	r=1
	while [ "$r" -le "$RUNS" ]; do
		for s in 10k 100k; do
			o="$T/sim-$s-$r"
			set -- "$BIN/sim" run "scenarios/bench-sim-$s.json" --quiet --no-report --out "$o"
			if [ $have_time -eq 1 ]; then
				/usr/bin/time -f %M -o "$T/rss-$s" "$@" >"$o.log" 2>&1
			else
				"$@" >"$o.log" 2>&1
			fi
			rc=$?
			sp=$(json_num "$o/summary.json" speedup)
			if [ $rc -ne 0 ]; then
				say "bench-sim-$s run $r: the scenario's expectations failed (exit $rc): $(grep -m1 -i 'fail\|error' "$o.log")"
				[ -s "$o/summary.json" ] || { broken=1; continue; }
			fi
			if [ "$s" = 10k ]; then
				rec sim_speed "$sp"
				# the floor: the same accepted uploads through the FedAvg kernel, now
				acc=$(json_num "$o/summary.json" updates.accepted)
				wall=$(json_num "$o/summary.json" wall_time_s)
				"$BENCH_BIN/fedavg_bench" --floor "${acc:-0}" --model lenet5 >"$T/floor.out" 2>&1
				fl=$(field "$T/floor.out" seconds)
				rec sim_floor_ratio "$(awk -v a="${acc:-0}" -v w="$wall" 'BEGIN { if (w > 0) printf "%.1f", a / w }')" \
					"$(awk -v a="${acc:-0}" -v f="$fl" 'BEGIN { if (f > 0) printf "%.1f", a / f }')"
				say "[sim $r/$RUNS] floor: $acc uploads accumulated in ${fl:-?} s, the simulation took ${wall:-?} s"
			else
				rec sim_speed_100k "$sp"
			fi
			if [ $have_time -eq 1 ]; then
				kb=$(tail -n 1 "$T/rss-$s")
				eval "rss_$s=$kb"
				rec "sim_peak_rss_$s" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')"
			fi
			rec "sim_fleet_bytes_per_device_$s" "$(json_num "$o/summary.json" fleet.bytes_per_device)"
			say "[sim $r/$RUNS] bench-sim-$s: $(awk -v x="$sp" -v w="$(json_num "$o/summary.json" wall_time_s)" \
				'BEGIN { printf "x%.2f (%.1f s wall)", x, w }')$([ $have_time -eq 1 ] && echo ", peak RSS $((kb / 1024)) MiB")"
		done
		if [ $have_time -eq 1 ] && [ -n "${rss_10k:-}" ] && [ -n "${rss_100k:-}" ]; then
			rec sim_bytes_per_device "$(awk -v a="$rss_10k" -v b="$rss_100k" 'BEGIN { printf "%.1f", (b - a) * 1024 / 90000 }')"
		fi
		unset rss_10k rss_100k
		r=$((r + 1))
	done
	if [ "${BENCH_SIM_1M:-1}" = 0 ]; then
		for f in sim_speed_1m sim_peak_rss_1m sim_bytes_per_device_1m; do skip $f "BENCH_SIM_1M=0"; done
	else
		# once: a million devices is the most expensive figure on a shared machine
		o="$T/sim-1m"
		set -- "$BIN/sim" run scenarios/bench-sim-1m.json --quiet --no-report --out "$o"
		if [ $have_time -eq 1 ]; then
			/usr/bin/time -f %M -o "$T/rss-1m" "$@" >"$o.log" 2>&1
		else
			"$@" >"$o.log" 2>&1
		fi
		rc=$?
		[ $rc -ne 0 ] && say "bench-sim-1m: the scenario's expectations failed (exit $rc): $(grep -m1 -i 'fail\|error' "$o.log")"
		if [ -s "$o/summary.json" ]; then
			rec sim_speed_1m "$(json_num "$o/summary.json" speedup)"
			if [ $have_time -eq 1 ]; then
				kb=$(tail -n 1 "$T/rss-1m")
				rec sim_peak_rss_1m "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')"
				rec sim_bytes_per_device_1m "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k * 1024 / 1000000 }')"
			else
				skip sim_peak_rss_1m "/usr/bin/time (Debian package time) is not installed: no peak RSS"
				skip sim_bytes_per_device_1m "/usr/bin/time (Debian package time) is not installed: no peak RSS"
			fi
			say "[sim 1m] bench-sim-1m: x$(json_num "$o/summary.json" speedup)$([ $have_time -eq 1 ] && echo ", peak RSS $((kb / 1024)) MiB")"
		else
			broken=1
		fi
	fi
fi

# ---- 3: device API throughput ----
if wants devapi; then
	r=1
	while [ "$r" -le "$RUNS" ]; do
		h=""; w=""
		if start_server "$T/srv-api-$r.log" --model=lenet5 --data_dir="$T/srv-api-$r" \
			--start_fl_job_threshold="$DEVICES" --update_model_ratio=1 \
			--start_fl_job_time_window=1h --update_model_time_window=1h \
			--global_iteration_time_window=2h --fl_iteration_num=1000; then
			"$BENCH_BIN/devapi_load" http "127.0.0.1:$SRV_PORT" --devices "$DEVICES" --conns "$CONNS" \
				>"$T/api-$r.out" 2>&1 || say "devapi_load http: $(tail -n 2 "$T/api-$r.out")"
			stop "$SRV_PID"
			h=$(field "$T/api-$r.out" "MB/s")
		fi
		if start_aid "$T/sink-$r.log" sink "$BENCH_BIN/tcp_sink"; then
			"$BENCH_BIN/devapi_load" raw "127.0.0.1:$AID_PORT" --devices "$DEVICES" --conns "$CONNS" \
				>"$T/raw-$r.out" 2>&1 || say "devapi_load raw: $(tail -n 2 "$T/raw-$r.out")"
			stop "$AID_PID"
			w=$(field "$T/raw-$r.out" "MB/s")
		fi
		[ "$h" = 0.0 ] && h=""
		[ "$w" = 0.0 ] && w=""
		rec device_api_throughput "$h" "$w"
		say "[devapi $r/$RUNS] fl-server ${h:-?} MB/s, raw loopback ${w:-?} MB/s"
		r=$((r + 1))
	done
fi

# ---- 4: small requests (wrk) ----
if wants wrk; then
	if ! command -v wrk >/dev/null 2>&1; then
		skip small_request_rate "wrk is not installed (Debian package wrk: apt-get install -y wrk)"
	elif ! command -v curl >/dev/null 2>&1; then
		skip small_request_rate "curl is not installed (needed to check fl-server's answer)"
	else
		# wrk_rate URL: requests per second wrk reports (warns on errors or non-2xx answers)
		wrk_rate() {
			BENCH_BODY="$T/start.bin" wrk -t1 -c"$WRK_C" -d"${WRK_S}s" -s tests/bench/startfljob.lua "$1" \
				>"$T/wrk.out" 2>&1
			grep -E 'Socket errors|Non-2xx' "$T/wrk.out" | sed 's/^/bench: wrk: /' >&2
			sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$T/wrk.out"
		}
		r=1
		while [ "$r" -le "$RUNS" ]; do
			a=""; b=""
			"$BIN/fl-server" --make_envelope "{\"fl_name\":\"Lenet\",\"fl_id\":\"bench-0\",\"data_size\":32,\"timestamp\":\"$(($(date +%s) * 1000))\"}" \
				>"$T/start.bin"
			if start_server "$T/srv-wrk-$r.log" --model=synthetic:16 --data_dir="$T/srv-wrk-$r" \
				--start_fl_job_time_window=1h --update_model_time_window=1h; then
				curl -s --data-binary @"$T/start.bin" -o "$T/answer.bin" "http://127.0.0.1:$SRV_PORT/startFLJob"
				size=$(wc -c <"$T/answer.bin" | tr -d ' ')
				if "$BIN/fl-server" --read_envelope <"$T/answer.bin" | grep -q '"retcode":200'; then
					a=$(wrk_rate "http://127.0.0.1:$SRV_PORT/startFLJob")
				else
					say "fl-server's answer to the startFLJob is not SUCCEED: $("$BIN/fl-server" --read_envelope <"$T/answer.bin" | head -n 1)"
				fi
				stop "$SRV_PID"
				if [ -n "$a" ] && start_aid "$T/resp-$r.log" responder "$BENCH_BIN/llhttp_responder" --body_bytes "$size"; then
					b=$(wrk_rate "http://127.0.0.1:$AID_PORT/startFLJob")
					stop "$AID_PID"
				fi
			fi
			rec small_request_rate "$a" "$b"
			say "[wrk $r/$RUNS] fl-server ${a:-?} req/s, llhttp_responder ${b:-?} req/s (answers of ${size:-?} B)"
			r=$((r + 1))
		done
	fi
fi

# ---- 5: aggregation ----
if wants fedavg; then
	r=1
	while [ "$r" -le "$RUNS" ]; do
		"$BENCH_BIN/fedavg_bench" >"$T/fa.out" 2>&1
		rec aggregation_bandwidth "$(field "$T/fa.out" accumulate_GB/s)" "$(field "$T/fa.out" memcpy_GB/s)"
		"$BENCH_BIN/fedavg_bench" --floats 16777216 --blocks 7 >"$T/fb.out" 2>&1
		rec aggregation_bandwidth_big "$(field "$T/fb.out" accumulate_GB/s)" "$(field "$T/fb.out" memcpy_GB/s)"
		say "[fedavg $r/$RUNS] $(head -n 1 "$T/fa.out"); $(head -n 1 "$T/fb.out")"
		r=$((r + 1))
	done
fi

# ---- 6: training ----
if wants train; then
	r=1
	while [ "$r" -le "$RUNS" ]; do
		"$BENCH_BIN/train_bench" >"$T/tr.out" 2>&1
		rec training_gflops "$(field "$T/tr.out" lenet_GFLOP/s)" "$(field "$T/tr.out" sgemm_GFLOP/s)"
		say "[train $r/$RUNS] $(head -n 1 "$T/tr.out")"
		r=$((r + 1))
	done
fi

# ---- 7: netem-proxy ----
if wants proxy; then
	r=1
	while [ "$r" -le "$RUNS" ]; do
		BIN="$BIN" SIZE="$PROXY_SIZE" ROUNDS=1 sh tests/bench/netem_proxy.sh >"$T/px.out" 2>&1
		rec proxy_throughput "$(field "$T/px.out" proxy)" "$(field "$T/px.out" raw)"
		say "[proxy $r/$RUNS] $(head -n 1 "$T/px.out")"
		r=$((r + 1))
	done
fi

# ---- report ----
for g in sim devapi wrk fedavg train proxy; do
	wants $g && continue
	case $g in
	sim) l="sim_speed sim_floor_ratio sim_speed_100k sim_speed_1m sim_bytes_per_device sim_peak_rss_10k sim_peak_rss_100k sim_peak_rss_1m sim_bytes_per_device_1m sim_fleet_bytes_per_device_10k sim_fleet_bytes_per_device_100k" ;;
	devapi) l=device_api_throughput ;;
	wrk) l=small_request_rate ;;
	fedavg) l="aggregation_bandwidth aggregation_bandwidth_big" ;;
	train) l=training_gflops ;;
	proxy) l=proxy_throughput ;;
	esac
	for f in $l; do printf '%s\tnot selected (BENCH_ONLY=%s)\n' "$f" "$ONLY" >>"$SKIP"; done
done
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
mkdir -p "$OUT"
cp "$RAW" "$OUT/raw.tsv"
echo
"$BENCH_BIN/bench_report" --meta "$META" --raw "$RAW" --skipped "$SKIP" --commit "$commit" \
	--runs "$RUNS" --wall $(($(date +%s) - START)) --out "$OUT" || exit 2
echo
echo "bench: $(($(date +%s) - START)) s; wrote $OUT/bench.json and $OUT/index.html"
exit $broken
