#!/usr/bin/env bash
# CPU seconds of `lockstep run` with 8 test:// cameras (bench/eight.ini)
# against gst-launch-1.0 running the same 8 sources (videotestsrc, live,
# same pattern, size and rate) into fakesink, one after the other in one run.
# usage: bench/cpu_vs_gst.sh BUILD_DIR [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}; secs=${2:-30}; rounds=${3:-3}
cd "$(dirname "$0")/.."
gst=(gst-launch-1.0 -q)
for i in $(seq 0 7); do
	gst+=(videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! fakesink sync=false)
done
cpu() { # prints user+sys CPU seconds and max RSS (KiB) of the command
	/usr/bin/time -f "%U %S %M" -o /tmp/ls-bench-time "$@" >/dev/null 2>&1 || true
	tail -n 1 /tmp/ls-bench-time | awk '{printf "%.2f %d\n", $1 + $2, $3}'
}
echo "cpu: $secs s per run, $rounds rounds, 8 cameras 640x360 @ 30 fps"
tl=0; tg=0
for r in $(seq 1 "$rounds"); do
	read -r l lrss < <(cpu "$build/lockstep" run bench/eight.ini --duration "$secs" --quiet)
	read -r g grss < <(cpu timeout -s INT "$secs" "${gst[@]}")
	echo "round $r: lockstep $l s (RSS $lrss KiB)  gst-launch $g s (RSS $grss KiB)  ratio $(awk -v a="$l" -v b="$g" 'BEGIN{printf "%.3f", a/b}')"
	tl=$(awk -v a="$tl" -v b="$l" 'BEGIN{print a+b}'); tg=$(awk -v a="$tg" -v b="$g" 'BEGIN{print a+b}')
done
echo "total: lockstep $tl s, gst-launch $tg s, ratio $(awk -v a="$tl" -v b="$tg" 'BEGIN{printf "%.3f", a/b}') (goal <= 1.10)"
