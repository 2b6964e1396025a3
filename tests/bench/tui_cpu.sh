#!/bin/bash
# memscope-top's own CPU cost on a large table: a target with 20,000
# distinct call sites (many_sites), watched in a real terminal (tmux) at 10
# refreshes a second for 10 seconds. Prints memscope-top's CPU time as a
# share of one core, measured from /proc in this run.
#   bazel build -c opt //tests/bench:all //tui:memscope-top && tests/bench/tui_cpu.sh
set -eu
bin=$(cd "$(dirname "$0")/../.." && pwd)/bazel-bin
sites=${1:-20000}
seconds=${2:-10}
work=$(mktemp -d)
socket=/tmp/memscope-tui-cpu-$$.sock
cleanup() {
	tmux -S "$socket" kill-server 2>/dev/null || true
	[ -n "${target:-}" ] && kill "$target" 2>/dev/null || true
	rm -rf "$work" "$socket"
}
trap cleanup EXIT
export MEMSCOPE_DIR=$work

mkfifo "$work/in"
LD_PRELOAD=$bin/hooks/libmemscope.so "$bin/tests/bench/many_sites" "$sites" \
	<"$work/in" >"$work/out" &
target=$!
exec 3>"$work/in" # holds the target's stdin open until we are done
for _ in $(seq 100); do grep -q ready "$work/out" && break; sleep 0.1; done
grep -q ready "$work/out" || { echo "tui_cpu: the target did not start" >&2; exit 1; }

tmux -S "$socket" new-session -d -x 160 -y 50 \
	"exec env LANG=C.UTF-8 $bin/tui/memscope-top -d 0.1 -p $target"
top=$(tmux -S "$socket" display -p '#{pane_pid}')
sleep 2 # past start-up: symbolizing the table once
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks "$top")
sleep "$seconds"
after=$(ticks "$top")
shown=$(tmux -S "$socket" capture-pane -p | grep -c descend || true)
echo "memscope-top on $sites call sites, -d 0.1, ${seconds}s: $(( after - before )) ticks of CPU" \
	"= $(awk -v t=$(( after - before )) -v hz="$hz" -v s="$seconds" \
		'BEGIN { printf "%.1f", 100 * t / hz / s }')% of one core ($shown rows of descend on screen)"
