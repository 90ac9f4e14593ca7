#!/bin/sh
# Run every Check program in DIR (or only the one named), then print one summary line.
set -u
dir=$1; only=${2:-}
pass=0; fail=0; failed=""
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -n "$only" ] && [ "$name" != "$only" ] && [ "$name" != "test_$only" ] && continue
	echo "== $name"
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
done
echo "unit test programs: $pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "failed:$failed"; exit 1; }
