#!/bin/bash
# What recording costs, and how big its files are, against heaptrack on the
# same run: churn (2 threads) watched by memscope-top -b at 10 Hz, without
# and with -w, and with -w --events; heaptrack recording the same program.
# Prints the best wall time of each and the file sizes per million events.
#   bazel build -c opt //tests/bench:all //tui:all //hooks:libmemscope.so && tests/bench/record_cost.sh [OPS] [REPEAT]
set -eu
bin=$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin
ops=${1:-2000000}
repeat=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MEMSCOPE_DIR=$work
churn=("$bin/tests/bench/churn" 2 "$ops")

best() { # best wall time of $repeat runs of "$@", in seconds
	local b=
	for _ in $(seq "$repeat"); do
		local t0 t1
		t0=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s.%N)
		b=$(awk -v a="$t0" -v z="$t1" -v b="$b" 'BEGIN { t = z - a; print (b == "" || t < b) ? t : b }')
	done
	echo "$b"
}
size() { stat -c %s "$1"; }

plain=$(best "${churn[@]}")
live=$(best "$bin/tui/memscope-top" -b -d 0.1 -- "${churn[@]}")
rec=$(best "$bin/tui/memscope-top" -b -d 0.1 -w "$work/frames.rec" -- "${churn[@]}")
ev=$(best "$bin/tui/memscope-top" -b -d 0.1 -w "$work/events.rec" --events -- "${churn[@]}")
events=$("$bin/tui/memscope-report" "$work/events.rec" --events | awk '/^events:/ { print $2 + 0 }')

printf '%-34s %9s %9s %12s %14s\n' run seconds "x plain" "file bytes" "bytes/M events"
row() { # name seconds file
	local bytes=- per=-
	if [ -n "${3:-}" ]; then
		bytes=$(size "$3")
		per=$(awk -v b="$bytes" -v e="$events" 'BEGIN { printf "%.0f", b / e * 1e6 }')
	fi
	printf '%-34s %9.3f %9.2f %12s %14s\n' "$1" "$2" "$(awk -v t="$2" -v p="$plain" 'BEGIN { print t / p }')" "$bytes" "$per"
}
row "plain" "$plain"
row "memscope-top -b (live)" "$live"
row "memscope-top -b -w" "$rec" "$work/frames.rec"
row "memscope-top -b -w --events" "$ev" "$work/events.rec"
if command -v heaptrack >/dev/null; then
	ht=$(best heaptrack -o "$work/ht" "${churn[@]}")
	row "heaptrack" "$ht" "$(ls "$work"/ht*.zst | head -1)"
fi
echo "events in the stream: $events (2 threads x $ops malloc+free, plus start-up)"
awk -v l="$live" -v r="$rec" -v e="$ev" 'BEGIN {
	printf "recording adds %.1f%% to live monitoring; with --events %.1f%%\n",
		100 * (r - l) / l, 100 * (e - l) / l }'
