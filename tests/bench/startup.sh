#!/bin/bash
# What watching costs big programs that start and end quickly, where
# reading symbols used to dominate: node -e 1 and a JVM (java -version),
# plain, under the hook alone (LD_PRELOAD), under memscope-top -b --json
# (whose last frame waits for every name it shows) and under heaptrack;
# and node with a 1.5 s timer, whose first frame is due before its exit.
# Prints the median wall time of each and its ratio to the plain run, and
# when memscope-top's first frame (due at 0.5 s) came.
#   bazel build -c opt //tui:all //hooks:libmemscope.so && tests/bench/startup.sh [REPEAT]
set -eu
bin=$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin
repeat=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MEMSCOPE_DIR=$work

median() { # median wall time of $repeat runs of "$@", in seconds
	for _ in $(seq "$repeat"); do
		local t0 t1
		t0=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s.%N)
		awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.3f\n", z - a }'
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Seconds from start to the first byte of memscope-top's first frame,
# median (a frame is a long line: reading it is not what is timed).
first_frame() {
	for _ in $(seq "$repeat"); do
		local t0
		t0=$(date +%s.%N)
		"$bin/tui/memscope-top" -b --json -d 0.5 -- "$@" 2>/dev/null |
			{ head -c 1 >/dev/null; date +%s.%N >"$work/first"; cat >/dev/null; }
		awk -v a="$t0" 'NR == 1 { printf "%.3f\n", $1 - a }' "$work/first"
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

measure() { # name command...
	local name=$1 plain hook top ht
	shift
	plain=$(median "$@")
	hook=$(median env LD_PRELOAD="$bin/hooks/libmemscope.so" "$@")
	top=$(median "$bin/tui/memscope-top" -b --json -d 0.5 -- "$@")
	ht=-
	if command -v heaptrack >/dev/null; then
		ht=$(cd "$work" && median heaptrack -o "$work/ht" "$@")
	fi
	echo "== $name (median of $repeat)"
	printf '%-34s %9s %9s\n' run seconds "x plain"
	for row in "plain:$plain" "hook (LD_PRELOAD):$hook" "memscope-top -b --json:$top" \
		"heaptrack:$ht"; do
		awk -v name="${row%%:*}" -v t="${row#*:}" -v p="$plain" \
			'BEGIN { if (t == "-") printf "%-34s %9s %9s\n", name, "-", "-";
				 else printf "%-34s %9.3f %8.1fx\n", name, t, t / p }'
		done
	echo "memscope-top's first frame after: $(first_frame "$@") s (due at 0.5 s, or at the exit)"
}

command -v node >/dev/null && measure "node -e 1" node -e 1
# Long enough for a frame before the exit: the first one is due at 0.5 s.
command -v node >/dev/null && measure "node, a 1.5 s timer" node -e 'setTimeout(() => {}, 1500)'
command -v java >/dev/null && measure "java -version" java -version
