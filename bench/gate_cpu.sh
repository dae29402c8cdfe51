#!/usr/bin/env bash
# Motion gating on a real, mostly idle rig: `lockstep run` of 8 cameras at
# 10 Hz, 768x576 — camera 0 plays vtest.avi (people walking), cameras 1-7
# are still test patterns — with [detect] (the CenterNet model, classes
# person, 2 sessions) and motion-gate=off, then motion-gate=on, then without
# [detect] at all (the sources and the aligner alone), one after the other
# in the same run. Each side's process CPU time (user+sys, /usr/bin/time)
# over SECONDS of wall time is printed as cores; the detect stage's own
# summary (framesets detected, gated, dropped while behind) follows.
# usage: bench/gate_cpu.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:-build}; secs=${2:-20}
cd "$(dirname "$0")/.."
model=.cache/models/centernet.onnx
video=/usr/share/doc/opencv-doc/examples/data/vtest.avi
if [[ ! -f $model || ! -f $video ]]; then
	echo "bench/gate_cpu.sh: needs $model and $video (scripts/setup.sh)" >&2
	exit 1
fi
tmp=$(mktemp -d /tmp/ls-bench-gate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rig() { # $1: the [detect] group (may be empty)
	echo "[rig]"
	echo "rate = 10"
	echo "queue = 8"
	echo "[camera c0]"
	echo "uri = file://$video?realtime=true"
	for i in 1 2 3 4 5 6 7; do
		echo "[camera c$i]"
		echo "uri = test://?fps=10&width=768&height=576&pattern=smpte"
	done
	printf '%s' "$1"
}
det="[detect]
model = $model
classes = person
threshold = 0.45
threads = 2
"
rig "$det
motion-gate = off
" >"$tmp/off.ini"
rig "$det
motion-gate = on
" >"$tmp/on.ini"
rig "" >"$tmp/none.ini"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for side in off on none; do
	/usr/bin/time -f "%U %S %e" -o "$tmp/time" "$build/lockstep" run "$tmp/$side.ini" --duration "$secs" \
		>/dev/null 2>"$tmp/err" || true
	read -r u s e <"$tmp/time"
	awk -v side="$side" -v u="$u" -v s="$s" -v e="$e" 'BEGIN {
		printf "motion-gate=%s: CPU %.1f s (user %.1f + sys %.1f) in %.1f s wall = %.2f cores\n",
			side == "none" ? "(no [detect])" : side, u + s, u, s, e, (u + s) / e }'
	grep -E '^\[detect\] [0-9]+ framesets|motion gate:' "$tmp/err" | sed 's/^/    /' || true
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
