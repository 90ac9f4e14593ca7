#!/bin/sh
# The determinism lint: node code (outside node/rt/ and the entry points in node/main/) and fleet
# code (sim/fleet/) reach time, randomness, sleeping, threads and libuv only through node/rt/rt.h.
# Comments are stripped first (gcc -fpreprocessed), so prose may name the calls.
set -eu
cd "$(dirname "$0")/.."
files=$(find node sim/fleet -name '*.[ch]' 2>/dev/null | grep -v -e '^node/rt/' -e '^node/main/' | sort)
pattern='(^|[^A-Za-z0-9_.>])(time|clock_gettime|gettimeofday|rand|random|srand|srandom|drand48|lrand48|sleep|usleep|nanosleep|pthread_create|randombytes_[a-z_]*)[[:space:]]*\(|(^|[^A-Za-z0-9_])uv_[a-z_0-9]+[[:space:]]*\('
bad=0
for f in $files; do
	out=$(gcc -fpreprocessed -dD -E -P "$f" 2>/dev/null | grep -nE "$pattern" || true)
	if [ -n "$out" ]; then
		echo "$out" | sed "s|^|lint: $f: forbidden call outside rt.h: |" >&2
		bad=1
	fi
done
if [ $bad -ne 0 ]; then
	echo "lint: FAILED (use rt_now_ns/rt_wall_ms/rt_timer_*/rt_rand_*/rt streams instead)" >&2
	exit 1
fi
echo "lint: ok ($(echo "$files" | grep -c . || true) files checked)"
