#!/usr/bin/env bash
# Stream copy against re-encoding, and against gst-launch doing the same
# work: one 1280x720 @ 30 fps H.264 network camera (a gst-launch RTP sender
# on loopback, x264 4:2:0 as cameras send, keyframe every 60 frames) recorded in 10 s MPEG-TS
# segments. Three receivers, one after the other, each SECONDS long, while
# the same sender runs:
#   lockstep copy=auto  receive, decode (for the rig), copy the stream to segments
#   lockstep copy=off   receive, decode, re-encode with x264 ultrafast
#   gst-launch          udpsrc ! rtpjitterbuffer ! rtph264depay ! h264parse ! tee,
#                       one branch avdec_h264 ! fakesink, one splitmuxsink
# and two baselines without recording, to isolate what recording adds:
#   lockstep bare       the same camera, no [record]
#   gst-launch decode   udpsrc ! ... ! avdec_h264 ! fakesink
# The receiver's CPU (user+sys) is divided by the frames it recorded
# (lockstep prints them; gst-launch: frames counted with ffprobe); the
# baselines by 30 x SECONDS.
# usage: bench/record_copy.sh BUILD_DIR [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}; secs=${2:-20}; rounds=${3:-2}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/ls-bench-copy.XXXXXX)
port=$((30000 + $$ % 20000))
gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! \
	x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 ! rtph264pay config-interval=1 pt=96 ! \
	udpsink host=127.0.0.1 port=$port >/dev/null 2>&1 &
sender=$!
trap 'kill $sender 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
printf '[rig]\nrate = 30\n[camera net]\nuri = udp://127.0.0.1:%d?latency=50\n' "$port" >"$tmp/bare.ini"
for mode in auto off; do
	cat >"$tmp/$mode.ini" <<INI
[rig]
rate = 30
[camera net]
uri = udp://127.0.0.1:$port?latency=50
[record]
dir = $tmp/rec
segment-s = 10
copy = $mode
INI
done
cpu() { # user+sys CPU seconds; the command's stderr in $tmp/err
	/usr/bin/time -f "%U %S" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true
	tail -n 1 "$tmp/time" | awk '{printf "%.2f\n", $1 + $2}'
}
ms() { awk -v a="$1" -v f="$2" 'BEGIN{printf "%.2f", (f > 0 ? a/f*1000 : 0)}'; }
echo "record copy: $secs s per run, $rounds rounds, 1 RTP H.264 camera 1280x720 @ 30 fps"
declare -A tot=() frames=()
for r in $(seq 1 "$rounds"); do
	line="round $r:"
	for mode in auto off; do
		rm -rf "$tmp/rec"; mkdir -p "$tmp/rec"
		c=$(cpu "$build/lockstep" run "$tmp/$mode.ini" --duration "$secs" --quiet)
		f=$(sed -n 's/^record: wrote \([0-9]*\) frames.*/\1/p' "$tmp/err")
		tot[$mode]=$(awk -v a="${tot[$mode]:-0}" -v b="$c" 'BEGIN{print a+b}'); frames[$mode]=$((${frames[$mode]:-0} + f))
		line="$line lockstep copy=$mode $c s / $f frames ($(ms "$c" "$f") ms/frame);"
	done
	rm -rf "$tmp/gst"; mkdir -p "$tmp/gst"
	c=$(cpu timeout -s INT "$secs" gst-launch-1.0 -e -q udpsrc address=127.0.0.1 port=$port \
		caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" ! \
		rtpjitterbuffer latency=50 ! rtph264depay ! h264parse config-interval=-1 ! tee name=t ! queue ! \
		avdec_h264 ! fakesink sync=false t. ! queue ! \
		splitmuxsink muxer=mpegtsmux max-size-time=10000000000 location="$tmp/gst/seg%05d.ts")
	f=0
	for s in "$tmp"/gst/*.ts; do
		n=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$s" | awk 'NR == 1' | tr -dc 0-9)
		f=$((f + n))
	done
	tot[gst]=$(awk -v a="${tot[gst]:-0}" -v b="$c" 'BEGIN{print a+b}'); frames[gst]=$((${frames[gst]:-0} + f))
	line="$line gst-launch $c s / $f frames ($(ms "$c" "$f") ms/frame);"
	c=$(cpu "$build/lockstep" run "$tmp/bare.ini" --duration "$secs" --quiet)
	tot[lbare]=$(awk -v a="${tot[lbare]:-0}" -v b="$c" 'BEGIN{print a+b}'); frames[lbare]=$((${frames[lbare]:-0} + secs * 30))
	line="$line bare lockstep $c s;"
	c=$(cpu timeout -s INT "$secs" gst-launch-1.0 -e -q udpsrc address=127.0.0.1 port=$port \
		caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" ! \
		rtpjitterbuffer latency=50 ! rtph264depay ! h264parse ! avdec_h264 ! fakesink sync=false)
	tot[gbare]=$(awk -v a="${tot[gbare]:-0}" -v b="$c" 'BEGIN{print a+b}'); frames[gbare]=$((${frames[gbare]:-0} + secs * 30))
	echo "$line bare gst-launch $c s"
done
lb=$(ms "${tot[lbare]}" "${frames[lbare]}"); gb=$(ms "${tot[gbare]}" "${frames[gbare]}")
a=$(ms "${tot[auto]}" "${frames[auto]}"); o=$(ms "${tot[off]}" "${frames[off]}"); g=$(ms "${tot[gst]}" "${frames[gst]}")
echo "total: lockstep copy $a ms/frame, lockstep re-encode $o ms/frame, gst-launch copy+decode $g ms/frame;" \
	"copy/re-encode $(awk -v a="$a" -v b="$o" 'BEGIN{printf "%.3f", a/b}'),"
echo "baselines without recording: lockstep $lb ms/frame, gst-launch decode $gb ms/frame;" \
	"recording adds: lockstep copy $(awk -v a="$a" -v b="$lb" 'BEGIN{printf "%.2f", a-b}') ms/frame," \
	"lockstep re-encode $(awk -v a="$o" -v b="$lb" 'BEGIN{printf "%.2f", a-b}') ms/frame," \
	"gst-launch copy $(awk -v a="$g" -v b="$gb" 'BEGIN{printf "%.2f", a-b}') ms/frame"
echo "whole receivers:" \
	"lockstep copy/gst-launch $(awk -v a="$a" -v b="$g" 'BEGIN{printf "%.3f", a/b}')"
