#!/usr/bin/env bash
# [detect] overhead: lockstep's detect stage against ONNX Runtime alone on
# the same CenterNet model and the same 20 frames of vtest.avi, one camera
# per frameset and two (batched into one Run()).
# Usage: bench/detect.sh [BUILD] [ROUNDS]
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
cd "$(dirname "$0")/.."
model=.cache/models/centernet.onnx
if [[ ! -x $build/bench/bench-detect || ! -f $model ]]; then
	echo "bench/detect.sh: needs $model and $build/bench/bench-detect (run scripts/setup.sh, then reconfigure)" >&2
	exit 1
fi
tmp=$(mktemp -d /tmp/lockstep-bench-detect.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ffmpeg -loglevel error -i /usr/share/doc/opencv-doc/examples/data/vtest.avi -frames:v 20 -pix_fmt yuv420p \
	-f rawvideo "$tmp/frames.i420"
"$build/bench/bench-detect" "$model" "$tmp/frames.i420" 768x576 1 "$rounds"
"$build/bench/bench-detect" "$model" "$tmp/frames.i420" 768x576 2 "$rounds"
