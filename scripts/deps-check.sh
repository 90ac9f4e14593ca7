#!/bin/sh
# The layering lint: within a module directory, every file-to-file arrow (A -> B: an undefined
# symbol of A's object that B's object defines, measured with nm) must point down the layered
# list in the module's internal header: the lines under the comment that names this script, one
# layer a line, top first. A file may call only files on lower lines; none on its own line or
# above, so there is no cycle. A .c file missing from the list fails too (place it first).
#   scripts/deps-check.sh [DIR:HEADER ...]     (default: the modules below)
# Objects are compiled here at -O0 into a temporary directory (no build tree needed).
set -eu
cd "$(dirname "$0")/.."
mods=${*:-"node/sched:node/sched/sched_int.h sim/fleet:sim/fleet/fleet_int.h sim/live:sim/live/live_int.h"}
CC=${CC:-cc}
INC="-D_GNU_SOURCE -I. -Inode -I${LLHTTP_INC:-/usr/share/include/llhttp}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
for m in $mods; do
	dir=${m%%:*}; hdr=${m#*:}
	# the layers: "<n> file.c file.c" from the comment lines after the one naming this script
	awk '/deps-check\.sh/ {on=1; next}
	     on && /^ \*   +[A-Za-z0-9_]+\.c( +[A-Za-z0-9_]+\.c)* *$/ {n++; sub(/^ \* +/, ""); print n, $0; next}
	     on && n {exit}' "$hdr" > "$tmp/layers"
	if [ ! -s "$tmp/layers" ]; then
		echo "deps: $hdr: no layered list after a line naming scripts/deps-check.sh" >&2
		bad=1; continue
	fi
	mkdir -p "$tmp/$dir"
	for c in "$dir"/*.c; do
		f=$(basename "$c" .c)
		if ! awk -v f="$f.c" '{for (i = 2; i <= NF; i++) if ($i == f) found = 1} END {exit !found}' "$tmp/layers"; then
			echo "deps: $c is not in the layers of $hdr" >&2; bad=1
		fi
		$CC -std=c11 -O0 $INC -c "$c" -o "$tmp/$dir/$f.o"
		nm --defined-only -g "$tmp/$dir/$f.o" | awk '{print $3}' | sort -u > "$tmp/$dir/$f.def"
		nm --undefined-only "$tmp/$dir/$f.o" | awk '{print $2}' | sort -u > "$tmp/$dir/$f.und"
	done
	n=0
	for a in "$tmp/$dir"/*.und; do
		fa=$(basename "$a" .und)
		la=$(awk -v f="$fa.c" '{for (i = 2; i <= NF; i++) if ($i == f) print $1}' "$tmp/layers")
		for d in "$tmp/$dir"/*.def; do
			fb=$(basename "$d" .def)
			[ "$fa" = "$fb" ] && continue
			syms=$(comm -12 "$a" "$d" | tr '\n' ' ')
			[ -z "$syms" ] && continue
			n=$((n + 1))
			lb=$(awk -v f="$fb.c" '{for (i = 2; i <= NF; i++) if ($i == f) print $1}' "$tmp/layers")
			if [ -n "$la" ] && [ -n "$lb" ] && [ "$la" -ge "$lb" ]; then
				echo "deps: $dir: $fa.c -> $fb.c against the layers of $hdr ($syms)" >&2
				bad=1
			fi
		done
	done
	echo "deps: $dir: $n arrows, $(wc -l < "$tmp/layers") layers"
done
if [ $bad -ne 0 ]; then
	echo "deps: FAILED (move the shared function down to a leaf, or call up through a callback the core sets; see docs/CONTRIBUTING.md)" >&2
	exit 1
fi
echo "deps: ok"
