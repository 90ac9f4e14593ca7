#!/bin/sh
# Run every tests/shell/*.sh against the binaries in $BIN; print one summary line.
set -u
cd "$(dirname "$0")/.."
only=${1:-}
pass=0; fail=0; failed=""
for t in tests/shell/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ -n "$only" ] && [ "$name" != "$only" ] && continue
	echo "== shell: $name"
	if timeout 600 sh "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
done
echo "shell tests: $pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "failed:$failed"; exit 1; }
