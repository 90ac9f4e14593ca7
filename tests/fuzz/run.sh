#!/bin/sh
# Run the libFuzzer targets (tests/fuzz/README in docs/CONTRIBUTING.md, "Fuzzing").
#
#   run.sh --check CC            exit 0 when CC can build a libFuzzer target, else 1
#   run.sh BIN_DIR SECONDS NAME...  run each target BIN_DIR/NAME for SECONDS seconds on a copy of
#                                its corpus tests/fuzz/corpus/NAME (the seeds stay as committed;
#                                what the run found goes to build/fuzz/corpus/NAME)
# A crash, a leak or a sanitizer report fails the run; the reproducer is named in the output
# (build/fuzz/artifacts/). Prints executions per target.
set -eu
if [ "${1:-}" = --check ]; then
	cc=${2:-clang}
	command -v "$cc" >/dev/null 2>&1 || exit 1
	tmp=$(mktemp -d)
	printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$tmp/t.c"
	ok=0
	"$cc" -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" 2>/dev/null || ok=1
	rm -rf "$tmp"
	exit $ok
fi
bindir=$1
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
work=$(dirname "$bindir")
mkdir -p "$work/artifacts"
fail=0
total=0
for name in "$@"; do
	seeds="$here/corpus/${name#fuzz_}"
	found="$work/corpus/${name#fuzz_}"
	mkdir -p "$found"
	log="$work/$name.log"
	# -rss_limit_mb: four agents share the machine; -timeout: a slow input is a bug too
	if "$bindir/$name" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$name-" "$found" "$seeds" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		echo "fuzz: $name: ok, ${execs:-?} executions in ${secs}s"
		total=$((total + ${execs:-0}))
	else
		echo "fuzz: $name: FAILED (log $log):"
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error|deadly' "$log" | head -20
		fail=1
	fi
done
echo "fuzz: $# targets, $total executions"
exit $fail
