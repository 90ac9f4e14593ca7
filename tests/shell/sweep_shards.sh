#!/bin/sh
# sweep_shards.sh — a sweep split into shards and merged equals the unsharded sweep: the
# failing-seed list (with replay commands), summary.json, junit.xml and sweep.csv byte for byte;
# a replay command reproduces its seed's failure; a missing, doubled or foreign shard is refused
# (exit 2, saying which); --shard auto reads JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID.
# Uses the binaries in $BIN. Short runs (15 s simulated): a few seconds of CI.
set -u
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
SIM="$BIN/sim"
T=$(mktemp -d "${TMPDIR:-/tmp}/sweep_shards.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
fail=0
no() { echo "FAIL: $*"; fail=1; }

# quickstart with one expectation that some seeds miss at 15 s, so the list is not empty
python3 - "$T/s.json" <<'PY'
import json, sys
d = json.load(open("scenarios/quickstart.json"))
d["name"] = "sweep-shards"
d["expect"] = [{"metric": "iterations.success", "min": 6}]
json.dump(d, open(sys.argv[1], "w"), indent=1)
PY
ARGS="--seeds 1..9 --duration 15s --swarm --jobs 2 --quiet"
# shellcheck disable=SC2086
"$SIM" sweep "$T/s.json" $ARGS --out "$T/u" >"$T/u.txt" 2>&1
rc=$?
[ $rc -eq 1 ] || { no "unsharded sweep: exit $rc (1 expected: some seeds fail)"; cat "$T/u.txt"; }
nf=$(wc -l <"$T/u/failing.txt")
[ "$nf" -gt 0 ] && [ "$nf" -lt 9 ] && echo "ok: unsharded: $(tail -1 "$T/u.txt")" ||
	no "unsharded: $nf failing seeds of 9 (want some, not all)"
for i in 0 1 2; do
	# shellcheck disable=SC2086
	"$SIM" sweep "$T/s.json" $ARGS --shard $i/3 --out "$T/s" >"$T/s$i.txt" 2>&1
	rc=$?
	[ $rc -le 1 ] && [ -s "$T/s/shard-$i/sweep.json" ] || { no "shard $i/3: exit $rc"; cat "$T/s$i.txt"; }
done
"$SIM" sweep-merge "$T/s" --out "$T/m" >"$T/m.txt" 2>&1
rc=$?
[ $rc -eq 1 ] || { no "merge: exit $rc"; cat "$T/m.txt"; }
for f in failing.txt summary.json junit.xml sweep.csv; do
	cmp -s "$T/u/$f" "$T/m/$f" || { no "merged $f differs from the unsharded sweep's"; diff "$T/u/$f" "$T/m/$f" | head -5; }
done
[ $fail -eq 0 ] && echo "ok: 3 shards merged = the unsharded sweep, byte for byte ($nf failing seeds)"
# the merge printed the same failing lines the file has, then the summary
head -n "$nf" "$T/m.txt" | cmp -s - "$T/m/failing.txt" || no "sweep-merge did not print failing.txt"
grep -q "^sweep $T/s.json: 9 seeds, $nf failed" "$T/m.txt" || no "merge summary line: $(tail -1 "$T/m.txt")"
grep -q "<testsuite name=\"sweep sweep-shards\" tests=\"9\" failures=\"$nf\"" "$T/m/junit.xml" || no "junit.xml counts"

# the first failing seed's replay command reproduces its failure
line=$(head -1 "$T/u/failing.txt")
cmd=$(echo "$line" | sed -n 's/.*  replay: //p')
why=$(echo "$line" | sed -n 's/^seed [0-9]*: FAIL (exit 1) \(.*\)  replay: .*/\1/p')
case "$cmd" in
"bin/sim run $T/s.json --seed "*" --swarm --duration 15s") ;;
*) no "replay command: '$cmd'" ;;
esac
# shellcheck disable=SC2086 # the command's words
out=$("$SIM" ${cmd#bin/sim } --quiet --no-report --out "$T/replay" 2>&1)
rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -qF "$why" && echo "ok: replay reproduces: $why" ||
	no "replay '$cmd': exit $rc, wanted '$why': $out"

# shards that do not make one sweep are refused, naming what is wrong
"$SIM" sweep-merge "$T/s/shard-0" "$T/s/shard-2" --out "$T/x" >"$T/x.txt" 2>&1
[ $? -eq 2 ] && grep -q "shard 1/3 is missing" "$T/x.txt" && echo "ok: missing shard -> exit 2" || { no "missing shard"; cat "$T/x.txt"; }
"$SIM" sweep-merge "$T/s" "$T/s/shard-1" --out "$T/x" >"$T/x.txt" 2>&1
[ $? -eq 2 ] && grep -q "shard 1/3 is given twice" "$T/x.txt" && echo "ok: doubled shard -> exit 2" || { no "doubled shard"; cat "$T/x.txt"; }
# shellcheck disable=SC2086
"$SIM" sweep "$T/s.json" --seeds 1..2 --duration 5s --swarm --quiet --shard 1/3 --out "$T/o" >/dev/null 2>&1
"$SIM" sweep-merge "$T/s/shard-0" "$T/o/shard-1" "$T/s/shard-2" --out "$T/x" >"$T/x.txt" 2>&1
[ $? -eq 2 ] && grep -q "is not the same sweep" "$T/x.txt" && echo "ok: foreign shard -> exit 2" || { no "foreign shard"; cat "$T/x.txt"; }

# --shard auto: the index from the engine's environment (5 s runs: only the split is looked at)
SMALL="--seeds 1..9 --duration 5s --quiet"
JOB_COMPLETION_INDEX=2 "$SIM" sweep "$T/s.json" $SMALL --shard auto/3 --out "$T/k" >"$T/k.txt" 2>&1
seeds_of() { python3 -c 'import json,sys; print(*[r["seed"] for r in json.load(open(sys.argv[1]))["runs"]])' "$1" 2>/dev/null; }
[ "$(seeds_of "$T/k/shard-2/sweep.json")" = "3 6 9" ] && [ "$(seeds_of "$T/s/shard-2/sweep.json")" = "3 6 9" ] && echo "ok: JOB_COMPLETION_INDEX=2 -> shard 2/3 (seeds 3, 6, 9)" ||
	{ no "JOB_COMPLETION_INDEX"; cat "$T/k.txt"; }
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=3 "$SIM" sweep "$T/s.json" $SMALL --shard auto --out "$T/l" >"$T/l.txt" 2>&1
[ "$(seeds_of "$T/l/shard-1/sweep.json")" = "2 5 8" ] &&
	echo "ok: SLURM_ARRAY_TASK_ID=5 of an array 4-6 -> shard 1/3 (seeds 2, 5, 8)" || { no "SLURM_ARRAY_TASK_ID"; cat "$T/l.txt"; }
"$SIM" sweep "$T/s.json" --seeds 1..3 --shard auto >"$T/e.txt" 2>&1
[ $? -eq 2 ] && grep -q "JOB_COMPLETION_INDEX" "$T/e.txt" && echo "ok: --shard auto without an engine -> exit 2" || { no "auto without env"; cat "$T/e.txt"; }
"$SIM" sweep "$T/s.json" --seeds 1..3 --shard 3/3 >"$T/e.txt" 2>&1
[ $? -eq 2 ] && grep -q "not below the count" "$T/e.txt" && echo "ok: --shard 3/3 -> exit 2" || { no "shard 3/3"; cat "$T/e.txt"; }
[ $fail -eq 0 ]
