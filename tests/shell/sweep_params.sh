#!/bin/sh
# sweep_params.sh — a parameter sweep on a tiny grid (2 x 2 cells x 2 seeds of 20 s): the
# overrides reach the runs, sweep.csv has one row per run with the runs' own figures,
# summary.json's per-cell mean and sd are those of the rows, sweep.html has one plot per figure
# that has data (one line per value of the second parameter) and says why the others are not
# drawn, a cell's replay command gives the same trace, and a path that does not exist is an
# error that says so. Uses the binaries in $BIN.
set -u
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
SIM="$BIN/sim"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep_params.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail=0
no() { echo "FAIL: $*"; fail=1; }

"$SIM" sweep scenarios/quickstart.json --seeds 1..2 --duration 20s --invariants-only --jobs 2 --quiet \
	--param cluster.config.start_fl_job_threshold=50,100 --param cluster.server_num=2,4 --out "$T/g" >"$T/g.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && echo "ok: $(tail -1 "$T/g.txt")" || { no "grid sweep: exit $rc"; cat "$T/g.txt"; }
grep -q "4 cells x 2 seeds = 8 runs, 0 failed" "$T/g.txt" || no "grid summary line"

python3 - "$T/g" <<'PY' || fail=1
import csv, json, math, os, re, statistics, sys
d = sys.argv[1]
bad = []
rows = list(csv.DictReader(open(os.path.join(d, "sweep.csv"))))
hdr = open(os.path.join(d, "sweep.csv")).readline().strip().split(",")
figs = ["iterations.success", "iterations.success_rate", "latency.p99_ms", "time.to_accuracy_s"]
want = ["run", "cell", "cluster.config.start_fl_job_threshold", "cluster.server_num", "seed", "exit", "ok"] + figs
if hdr != want:
    bad.append("sweep.csv header %s" % hdr)
if len(rows) != 8:
    bad.append("sweep.csv: %d rows, 8 expected" % len(rows))
cells = {}
for r in rows:
    key = (r["cluster.config.start_fl_job_threshold"], r["cluster.server_num"])
    cells.setdefault(key, []).append(r)
    # the row's figures are its run's: summary.json of that run, with the override in force
    s = json.load(open(os.path.join(d, "cell-%s" % r["cell"], "seed-%s" % r["seed"], "summary.json")))
    res = s["scenario_resolved"]
    if str(res["cluster"]["server_num"]) != r["cluster.server_num"] or \
       str(res["cluster"]["config"]["start_fl_job_threshold"]) != r["cluster.config.start_fl_job_threshold"]:
        bad.append("run %s: the override did not reach the run (%s)" % (r["run"], res["cluster"]))
    m = s["metrics"]
    if float(r["iterations.success"]) != m["iterations.success"]:
        bad.append("run %s: iterations.success %s, summary.json %s" % (r["run"], r["iterations.success"], m["iterations.success"]))
    p99 = max(m["latency.%s.p99_ms" % k] for k in ("startFLJob", "updateModel", "getModel"))
    if abs(float(r["latency.p99_ms"]) - p99) > 1e-6 * max(1, p99):
        bad.append("run %s: latency.p99_ms %s, summary.json max p99 %s" % (r["run"], r["latency.p99_ms"], p99))
    if r["time.to_accuracy_s"] != "":
        bad.append("run %s: time to accuracy without real training" % r["run"])
if sorted(cells) != [("100", "2"), ("100", "4"), ("50", "2"), ("50", "4")] or any(
        sorted(x["seed"] for x in v) != ["1", "2"] for v in cells.values()):
    bad.append("the grid is not 2 x 2 cells x seeds 1, 2: %s" % sorted(cells))
# the per-cell statistics in summary.json are those of the rows
s = json.load(open(os.path.join(d, "summary.json")))
for c in s["cells"]:
    key = (c["params"]["cluster.config.start_fl_job_threshold"], c["params"]["cluster.server_num"])
    v = [float(x["iterations.success"]) for x in cells.get(key, [])]
    g = c["figures"].get("iterations.success", {})
    if len(v) != 2 or abs(g.get("mean", -1) - statistics.mean(v)) > 1e-9 or abs(g.get("sd", -1) - statistics.stdev(v)) > 1e-9:
        bad.append("summary.json cell %s: %s, rows %s" % (c["cell"], g, v))
# the page: one plot per figure with data, one line per server_num, a note for the rest
h = open(os.path.join(d, "sweep.html")).read()
with_data = [f for f in figs if any(r[f] != "" for r in rows)]
svgs = re.findall(r"<svg.*?</svg>", h, re.S)
if len(svgs) != len(with_data) or len(with_data) != 3:
    bad.append("sweep.html: %d plots for %d figures with data" % (len(svgs), len(with_data)))
for f in with_data:
    if "%s against cluster.config.start_fl_job_threshold" % f not in h:
        bad.append("sweep.html: no plot titled for %s" % f)
for sv in svgs:
    if "cluster.server_num=2" not in sv or "cluster.server_num=4" not in sv:
        bad.append("a plot lacks a line per cluster.server_num")
if "not drawn: no run has this figure (the scenario does not train a real model)" not in h:
    bad.append("sweep.html does not say why time.to_accuracy_s is not drawn")
for b in bad:
    print("FAIL: " + b)
if not bad:
    print("ok: sweep.csv: 8 rows = 4 cells x 2 seeds, figures = the runs' summary.json; per-cell mean/sd; "
          "sweep.html: %d plots (one per figure with data), a line per server_num" % len(svgs))
sys.exit(1 if bad else 0)
PY

# a cell's replay command (from the run's own summary) gives the run's trace
hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace_hash"])' "$T/g/cell-1/seed-2/summary.json")
"$SIM" run scenarios/quickstart.json --seed 2 --duration 20s --invariants-only --no-report --quiet \
	--param cluster.config.start_fl_job_threshold=50 --param cluster.server_num=4 --out "$T/r" >"$T/r.txt" 2>&1
grep -q "trace $hash" "$T/r.txt" && echo "ok: sim run --param replays cell 1 seed 2 (trace $hash)" || { no "replay of cell 1: want $hash"; cat "$T/r.txt"; }

# paths that do not exist, and values the scenario rejects: exit 2, saying where
"$SIM" sweep scenarios/quickstart.json --seeds 1..2 --param cluster.servers=2,4 >"$T/e.txt" 2>&1
[ $? -eq 2 ] && grep -q 'quickstart.json: \$.cluster has no key "servers" (known: server_num' "$T/e.txt" &&
	echo "ok: $(cat "$T/e.txt")" || { no "unknown path"; cat "$T/e.txt"; }
"$SIM" sweep scenarios/quickstart.json --seeds 1..2 --param cluster.config.start_fl_job_treshold=1 >"$T/e.txt" 2>&1
[ $? -eq 2 ] && grep -q 'not a server config key' "$T/e.txt" && echo "ok: unknown config key -> exit 2" || { no "unknown config key"; cat "$T/e.txt"; }
"$SIM" sweep scenarios/quickstart.json --seeds 1..2 --param cluster.server_num=4,0 --out "$T/g2" >"$T/e.txt" 2>&1
[ $? -eq 2 ] && grep -q 'server_num: expected an integer in \[1, 64\], got 0' "$T/e.txt" && echo "ok: bad value -> exit 2" || { no "bad value"; cat "$T/e.txt"; }
[ -d "$T/g2" ] && no "a bad grid started runs"
[ $fail -eq 0 ]
