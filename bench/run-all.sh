#!/usr/bin/env bash
# `make bench`: every benchmark of docs/benchmarks.md, in one run.
# SOAK_SECONDS (default 600) shortens the soak for a quick look.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(date -u +%F)"
echo "== aligner cost per frame (100 cameras x 30 fps, simulated)"
"$build/bench/bench-aligner" 100 30 120
echo "== schedule wake skew, 8 threads at 30 Hz for 60 s"
"$build/lockstep" bench schedule --threads 8 --rate 30 --seconds 60
"$build/lockstep" bench schedule --threads 8 --rate 30 --seconds 60 --rt
"$build/lockstep" bench schedule --threads 8 --rate 30 --seconds 60 --rt --spin-us 300
echo "== CPU: lockstep vs gst-launch-1.0, 8 x 640x360 @ 30 fps"
bench/cpu_vs_gst.sh "$build" 30 3
echo "== recording: CPU per recorded 720p30 camera vs gst-launch ... ! splitmuxsink; clip export 1 min x 4 cameras"
bench/record_cpu.sh "$build" 30 3 1
echo "== recording by stream copy: one 720p30 RTP H.264 camera, copy vs re-encode vs gst-launch"
bench/record_copy.sh "$build" 30 2
echo "== motion gating and tracking: ls_motion per frame, ls_tracker per update, idle 8 x 1080p rig"
# DET_MS: the object detector's cost per camera frame in ms; default 84, the
# CenterNet best-of-3 of bench/detect.sh (docs/benchmarks.md, 1 camera)
"$build/bench/bench-motion" 60 "${DET_MS:-84}"
echo "== motion gating for real: lockstep run, 8 cameras (vtest.avi + 7 still), [detect] motion-gate off vs on"
bench/gate_cpu.sh "$build" 20
echo "== motion detection: ls_motion vs OpenCV MOG2 on vtest.avi and a still, flickering frame"
bench/motion_peer.sh "$build" 150
echo "== soak"
bench/soak.sh "$build" "${SOAK_SECONDS:-600}"
echo "== shared-memory hand-off: lockstep vs shmsink/shmsrc vs ZeroMQ, 4 x 1920x1080 I420"
bench/shm_compare.sh "$build" 10 2
echo "== personal-data rules: ls_pii_scan per OCR'd line vs a plain POSIX regex set"
"$build/bench/bench-pii" rules/pii.rules 20000
echo "== [detect]: lockstep's detect stage vs ONNX Runtime alone, CenterNet on vtest.avi"
bench/detect.sh "$build" 3
echo "== redaction: lockstep's redactor vs naive full-frame Tesseract, 1920x1080 screens"
bench/redact_compare.sh "$build" 20 30 6
echo "== redaction an agent can work with: text that is not personal data hidden at steady state, leaks, time to readable"
/usr/bin/python3 bench/redact_overmask.py "$build" || true
echo "== [output rtsp]: CPU against gst-launch encoding the same sources; 1 viewer against 8"
bench/rtsp_cpu.sh "$build" 20 3
echo "== WHEP in Chromium: glass-to-glass latency against the encoder+decoder floor; CPU with 1 viewer against 8"
/usr/bin/python3 bench/whep.py "$build" 20 2
echo "== console: recordings timeline click to every one of 4 tiles painted with that slot, 30 clicks"
/usr/bin/python3 bench/console_seek.py "$build" 30 30
echo "== console: lockstep's CPU with 8 cameras, without and with the console (Health, Live) open in Chromium"
/usr/bin/python3 bench/console_cpu.py "$build" 15 2
echo "== [bus] on NATS JetStream: 100 cameras at 30 fps, framesets + detections: latency, CPU per message vs a bare libnats publisher, bytes; spool replay after a 60 s outage"
/usr/bin/python3 bench/bus_bench.py "$build" 20
echo "== lockstep join at scale: 100 cameras across 4 nodes, then a simulated join of 100..1,000 cameras (metadata only); docs/join-scale.png"
/usr/bin/python3 bench/join_scale.py "$build" 30 20
echo "== the redacted remote desktop at 1920x1080: fps, CPU and key to echo against a plain stream of the same screen"
/usr/bin/python3 bench/remote_bench.py "$build" 15 30
