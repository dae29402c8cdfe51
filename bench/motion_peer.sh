#!/usr/bin/env bash
# ls_motion against OpenCV's MOG2 (python3-opencv, one thread) on the same
# gray frames, in one run:
#   people  - opencv-doc's vtest.avi (pedestrians), 768x576 and scaled to 1080p
#   still   - its first frame repeated at 1080p with sensor noise (sigma 5)
#             and +-10% flicker: any "motion" is a false alarm
# usage: bench/motion_peer.sh [BUILD] [FRAMES (150)]
set -euo pipefail
build=${1:-build}
frames=${2:-150}
cd "$(dirname "$0")/.."
vt=/usr/share/doc/opencv-doc/examples/data/vtest.avi
[[ -f $vt ]] || { echo "motion_peer: $vt missing (scripts/setup.sh installs opencv-doc)" >&2; exit 1; }
/usr/bin/python3 -c 'import cv2' 2>/dev/null || { echo "motion_peer: python3-opencv missing (scripts/setup.sh)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/lockstep-motion-peer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ffmpeg -v error -nostdin -i "$vt" -frames:v "$frames" -f rawvideo -pix_fmt gray "$tmp/people576.gray"
ffmpeg -v error -nostdin -i "$vt" -frames:v "$frames" -vf scale=1920:1080 -f rawvideo -pix_fmt gray "$tmp/people1080.gray"
/usr/bin/python3 - "$tmp/people1080.gray" "$tmp/still1080.gray" "$frames" <<'EOF'
import sys
import numpy as np
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
first = np.fromfile(src, np.uint8, 1920 * 1080).astype(np.float32).reshape(1080, 1920)
rng = np.random.default_rng(1)
with open(dst, "wb") as f:
    for i in range(n):
        g = 1 + 0.10 * np.sin(2 * np.pi * (0.02 * i + 0.0015 * i * i))
        f.write(np.clip(first * g + rng.normal(0, 5, first.shape), 0, 255).astype(np.uint8).tobytes())
EOF
for clip in "people576.gray 768 576" "people1080.gray 1920 1080" "still1080.gray 1920 1080"; do
	set -- $clip
	"$build/bench/bench-motion" raw "$tmp/$1" "$2" "$3"
	/usr/bin/python3 bench/motion_peer.py "$tmp/$1" "$2" "$3"
done
