#!/usr/bin/env bash
# Installs whatever lockstep needs that is missing, from Debian's packages.
# Idempotent: a second run installs nothing and takes about a second.
# Usage: scripts/setup.sh            (needs root, or sudo, when something is missing)
set -euo pipefail

# build and runtime
PKGS=(
	build-essential pkg-config meson ninja-build
	libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
	# tests and benchmarks: a real X server, ffprobe, valgrind, python for the
	# CI summary, GNU time for CPU/RSS figures
	xvfb ffmpeg valgrind python3 python3-numpy time procps
	# motion tests: real footage with pedestrians (examples/data/vtest.avi)
	opencv-doc
	# benchmarks: OpenCV (MOG2), the motion detector ls_motion is compared with
	python3-opencv
	# benchmarks: ZeroMQ, the copying transport lockstep's shm is compared with
	libzmq3-dev
)

missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "setup: all ${#PKGS[@]} packages present"
	exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "setup: missing packages (${missing[*]}) and not root; run as root" >&2
		exit 1
	fi
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list finds nothing: refresh it once.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
