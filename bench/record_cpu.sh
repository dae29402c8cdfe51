#!/usr/bin/env bash
# CPU time per recorded frame of one 1280x720 @ 30 fps camera: `lockstep
# run` with [record] (x264 ultrafast/zerolatency, 10 s MPEG-TS segments,
# keyframe every 30 slots) against the equivalent gst-launch-1.0 pipeline
# ending in splitmuxsink, one after the other, in the same run. Each side's
# CPU (user+sys) is divided by the frames it recorded (lockstep prints them;
# gst-launch records secs*30), so lockstep's 2 s camera start-up, which
# records nothing, is not counted against it.
# Then: clip export time of 1 minute x 4 cameras at 720p (no re-encoding).
# usage: bench/record_cpu.sh BUILD_DIR [SECONDS] [ROUNDS] [CLIP:0|1]
set -euo pipefail
build=${1:-build}; secs=${2:-30}; rounds=${3:-3}; clip=${4:-1}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/ls-bench-rec.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
enc="x264enc speed-preset=ultrafast tune=zerolatency key-int-max=30 option-string=scenecut=0"
mkdir -p "$tmp/rec" "$tmp/gst"
cat >"$tmp/one.ini" <<INI
[rig]
rate = 30
[camera cam]
uri = test://?width=1280&height=720&pattern=smpte
[record]
dir = $tmp/rec
segment-s = 10
INI
cpu() { # user+sys CPU seconds; the command's stderr in $tmp/err
	/usr/bin/time -f "%U %S" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
	tail -n 1 "$tmp/time" | awk '{printf "%.2f\n", $1 + $2}'
}
echo "record cpu: $secs s per run, $rounds rounds, 1 camera 1280x720 @ 30 fps, x264 ultrafast/zerolatency"
tl=0; tg=0; fl=0; fg=0
for r in $(seq 1 "$rounds"); do
	rm -rf "$tmp/rec"/* "$tmp/gst"/*
	l=$(cpu "$build/lockstep" run "$tmp/one.ini" --duration "$secs" --quiet)
	lf=$(sed -n 's/^record: wrote \([0-9]*\) frames.*/\1/p' "$tmp/err")
	g=$(cpu gst-launch-1.0 -q videotestsrc is-live=true pattern=smpte num-buffers=$((secs * 30)) ! \
		video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! $enc ! h264parse ! \
		splitmuxsink muxer=mpegtsmux max-size-time=10000000000 location="$tmp/gst/seg%05d.ts")
	gf=$((secs * 30))
	echo "round $r: lockstep $l s for $lf frames ($(awk -v a="$l" -v f="$lf" 'BEGIN{printf "%.2f", a/f*1000}') ms/frame)" \
		" gst-launch+splitmuxsink $g s for $gf frames ($(awk -v a="$g" -v f="$gf" 'BEGIN{printf "%.2f", a/f*1000}') ms/frame)" \
		" ratio $(awk -v a="$l" -v b="$g" -v x="$lf" -v y="$gf" 'BEGIN{printf "%.3f", (a/x)/(b/y)}')"
	tl=$(awk -v a="$tl" -v b="$l" 'BEGIN{print a+b}'); tg=$(awk -v a="$tg" -v b="$g" 'BEGIN{print a+b}')
	fl=$((fl + lf)); fg=$((fg + gf))
done
echo "total: lockstep $(awk -v a="$tl" -v f="$fl" 'BEGIN{printf "%.2f", a/f*1000}') ms/frame," \
	"gst-launch $(awk -v a="$tg" -v f="$fg" 'BEGIN{printf "%.2f", a/f*1000}') ms/frame," \
	"ratio $(awk -v a="$tl" -v b="$tg" -v x="$fl" -v y="$fg" 'BEGIN{printf "%.3f", (a/x)/(b/y)}') (goal <= 1.05)"

[ "$clip" = 1 ] || exit 0
echo "clip export: 1 minute x 4 cameras 1280x720 (recording 75 s first)"
rm -rf "$tmp/rec"/*
{
	printf '[rig]\nrate = 30\n'
	for c in 1 2 3 4; do printf '[camera c%d]\nuri = test://?width=1280&height=720&pattern=ball\n' "$c"; done
	printf '[record]\ndir = %s\nsegment-s = 10\n' "$tmp/rec"
} >"$tmp/four.ini"
"$build/lockstep" run "$tmp/four.ini" --duration 75 --quiet 2>/dev/null
first=$(sqlite3 "$tmp/rec/index.sqlite3" "SELECT min(first_slot) FROM segments WHERE first_slot % 300 = 0")
start=$(date +%s.%N)
"$build/lockstep" clip --config "$tmp/four.ini" --from "$first" --to $((first + 1799)) --out "$tmp/clip"
end=$(date +%s.%N)
echo "clip export: $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s wall for 4 x 1800 frames," \
	"$(du -sm "$tmp/clip" | cut -f1) MiB written"
