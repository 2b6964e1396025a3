#!/bin/bash
# What recording costs, and how big its files are, against heaptrack on the
# same runs: churn (2 threads) and python3 building a dict (PYTHONMALLOC=
# malloc), each watched by memscope-top -b at 10 Hz without and with -w,
# and with -w --events, and recorded by heaptrack. Prints the best wall time
# of each run and the file sizes per million events.
#   bazel build -c opt //tests/bench:all //tui:all //hooks:libmemscope.so && tests/bench/record_cost.sh [OPS] [REPEAT]
set -eu
bin=$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin
ops=${1:-2000000}
repeat=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MEMSCOPE_DIR=$work

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

measure() { # name command...
	local name=$1 plain live rec ev events
	shift
	rm -f "$work"/*.rec "$work"/ht*
	plain=$(best "$@")
	live=$(best "$bin/tui/memscope-top" -b -d 0.1 -- "$@")
	rec=$(best "$bin/tui/memscope-top" -b -d 0.1 -w "$work/frames.rec" -- "$@")
	ev=$(best "$bin/tui/memscope-top" -b -d 0.1 -w "$work/events.rec" --events -- "$@")
	events=$("$bin/tui/memscope-report" "$work/events.rec" --events | awk '/^events:/ { print $2 + 0 }')
	echo "== $name: $events events"
	printf '%-30s %9s %9s %12s %14s\n' run seconds "x plain" "file bytes" "bytes/M events"
	row() { # name seconds file
		local bytes=- per=-
		if [ -n "${3:-}" ]; then
			bytes=$(stat -c %s "$3")
			per=$(awk -v b="$bytes" -v e="$events" 'BEGIN { printf "%.0f", b / e * 1e6 }')
		fi
		printf '%-30s %9.3f %9.2f %12s %14s\n' "$1" "$2" \
			"$(awk -v t="$2" -v p="$plain" 'BEGIN { print t / p }')" "$bytes" "$per"
	}
	row "plain" "$plain"
	row "memscope-top -b (live)" "$live"
	row "memscope-top -b -w" "$rec" "$work/frames.rec"
	row "memscope-top -b -w --events" "$ev" "$work/events.rec"
	if command -v heaptrack >/dev/null; then
		row "heaptrack" "$(best heaptrack -o "$work/ht" "$@")" "$(ls "$work"/ht*.zst | head -1)"
	fi
	awk -v l="$live" -v r="$rec" -v e="$ev" 'BEGIN {
		printf "recording adds %.1f%% to live monitoring; with --events %.1f%%\n\n",
			100 * (r - l) / l, 100 * (e - l) / l }'
}

measure "churn, 2 threads x $ops" "$bin/tests/bench/churn" 2 "$ops"
printf 'd = {}\nfor i in range(300000):\n    d[str(i)] = [i] * 3\n' >"$work/dict.py"
PYTHONMALLOC=malloc measure "python3 building a dict of 300000" /usr/bin/python3 "$work/dict.py"
