#!/usr/bin/env bash
# [output rtsp], CPU of the lockstep process (user + sys, GNU time), in one run:
#  A. 4 test:// cameras 640x360 @ 30 fps served, one RTP/UDP client per mount,
#     against gst-launch-1.0 encoding the same 4 sources with the same x264
#     settings into rtph264pay ! udpsink (the closest equivalent: encoder,
#     payloader and send without RTSP's session handling);
#  B. one camera watched by 1 client, then by 8 clients of the same mount
#     (the mount encodes once: goal <= 1.15x).
# Clients run in their own processes and are not counted.
# usage: bench/rtsp_cpu.sh BUILD_DIR [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}; secs=${2:-20}; rounds=${3:-2}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((40000 + $$ % 10000))
enc="x264enc tune=zerolatency speed-preset=ultrafast bitrate=4000 key-int-max=30 bframes=0 threads=1 ! video/x-h264,profile=constrained-baseline ! rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency"
src="videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1"
cpu() { /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true; tail -n 1 "$tmp/time" | awk '{printf "%.2f %d\n", $1 + $2, $3}'; }
rig() { # rig NCAMS PORT: a config serving NCAMS test cameras
	{ printf '[rig]\nrate = 30\n'
	  for c in $(seq 1 "$1"); do printf '[camera c%d]\nuri = test://?fps=30&width=640&height=360&pattern=ball\n' "$c"; done
	  printf '[output rtsp]\nlisten = 127.0.0.1:%d\nmosaic = false\nkeyframe-s = 1\n' "$2"; } > "$tmp/rig.ini"
}
clients() { # clients PORT MOUNT N: N RTP/UDP clients of rtsp://127.0.0.1:PORT/MOUNT, started after 2 s
	(sleep 2; for i in $(seq 1 "$3"); do gst-launch-1.0 -q rtspsrc location="rtsp://127.0.0.1:$1/$2" protocols=udp \
		! fakesink sync=false >/dev/null 2>&1 & done; wait) &
}
echo "rtsp cpu: $secs s per run, $rounds rounds"
tl=0; tg=0; t1=0; t8=0
for r in $(seq 1 "$rounds"); do
	port=$((port + 1)); rig 4 $port
	for c in 1 2 3 4; do clients $port c$c 1; done
	read -r l lrss < <(cpu "$build/lockstep" run "$tmp/rig.ini" --duration "$secs" --quiet)
	pkill -f "rtspsrc location=rtsp://127.0.0.1:$port/" || true
	gst=(gst-launch-1.0 -q)
	for c in 0 1 2 3; do gst+=($src ! $enc ! udpsink host=127.0.0.1 port=$((port + 100 + 2 * c)) sync=false); done
	for c in 0 1 2 3; do (timeout $((secs + 2)) gst-launch-1.0 -q udpsrc port=$((port + 100 + 2 * c)) ! fakesink >/dev/null 2>&1 &); done
	read -r g grss < <(cpu timeout -s INT "$secs" "${gst[@]}")
	echo "round $r A: lockstep $l s (RSS $lrss KiB)  gst-launch $g s (RSS $grss KiB)  ratio $(awk -v a="$l" -v b="$g" 'BEGIN{printf "%.3f", a/b}')"
	port=$((port + 1)); rig 1 $port; clients $port c1 1
	read -r one _ < <(cpu "$build/lockstep" run "$tmp/rig.ini" --duration "$secs" --quiet)
	pkill -f "rtspsrc location=rtsp://127.0.0.1:$port/" || true
	port=$((port + 1)); rig 1 $port; clients $port c1 8
	read -r eight _ < <(cpu "$build/lockstep" run "$tmp/rig.ini" --duration "$secs" --quiet)
	pkill -f "rtspsrc location=rtsp://127.0.0.1:$port/" || true
	echo "round $r B: 1 viewer $one s  8 viewers $eight s  ratio $(awk -v a="$eight" -v b="$one" 'BEGIN{printf "%.3f", a/b}')"
	tl=$(awk -v a="$tl" -v b="$l" 'BEGIN{print a+b}'); tg=$(awk -v a="$tg" -v b="$g" 'BEGIN{print a+b}')
	t1=$(awk -v a="$t1" -v b="$one" 'BEGIN{print a+b}'); t8=$(awk -v a="$t8" -v b="$eight" 'BEGIN{print a+b}')
	sleep 1
done
echo "total A: lockstep $tl s, gst-launch $tg s, ratio $(awk -v a="$tl" -v b="$tg" 'BEGIN{printf "%.3f", a/b}') (goal <= 1.10)"
echo "total B: 1 viewer $t1 s, 8 viewers $t8 s, ratio $(awk -v a="$t8" -v b="$t1" 'BEGIN{printf "%.3f", a/b}') (goal <= 1.15)"
