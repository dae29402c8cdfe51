#!/usr/bin/env bash
# Redaction at 1920x1080 on this machine's cores: lockstep's redactor fed
# live (frames due at FPS, skipped when it is behind, like a screen) against
# naive full-frame Tesseract on every frame, same frames, same run.
#   bench/redact_compare.sh [BUILD] [SECONDS] [FPS] [NAIVE_FRAMES]
# Each workload runs twice: at FPS (a screen's rate: output is capped by it)
# and at 240 fps due (capacity: how many frames it sustains when they come
# as fast as it can take them).
set -euo pipefail
build=${1:-build}
secs=${2:-20}
fps=${3:-30}
naive=${4:-6}
cd "$(dirname "$0")/.."
export OMP_THREAD_LIMIT=1 # (nproc honours it and would say 1: getconf below)
cores=$(getconf _NPROCESSORS_ONLN)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/corpus/gen_corpus.py --out "$tmp" --scenario form --scenario typing --scenario scroll \
	--scenario fullchange --video >/dev/null
for s in form typing scroll fullchange; do
	ffmpeg -loglevel error -y -i "$tmp/$s.mkv" -pix_fmt yuv420p -f rawvideo "$tmp/$s.yuv"
done
echo "workload | lockstep fps | latency p50 / p99 ms | naive fps | ratio | CPU ms per frame lockstep / naive | CPU ratio | frames with unread text masked | OCR jobs / cache hits"
for s in form typing scroll fullchange; do
	n=$("$build/bench/bench-redact" "$tmp/$s.yuv" 1920 1080 --naive "$naive" --workers "$cores")
	for f in "$fps" 240; do
	name="$s @ $f fps"
	[ "$s" = form ] && name="static (form) @ $f fps"
	r=$("$build/bench/bench-redact" "$tmp/$s.yuv" 1920 1080 --fps "$f" --seconds "$secs" --rules rules/pii.rules \
		--workers "$cores")
	echo "# $s redact: $r"
	echo "# $s naive:  $n"
	/usr/bin/python3 - "$name" "$r" "$n" <<'PY'
import json, sys
name, r, n = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
# CPU per delivered frame: the work each approach spends on one frame,
# which a screen's frame rate does not cap
lc, nc = 1000.0 * r["cpu_s"] / r["frames_out"], 1000.0 * n["cpu_s"] / n["frames"]
print("%s | %.1f | %.1f / %.1f | %.3f | %.0fx | %.1f / %.0f | %.0fx | %.0f%% | %d / %d" % (
    name, r["fps"], r["latency_p50_ms"], r["latency_p99_ms"], n["fps"], r["fps"] / n["fps"], lc, nc, nc / lc,
    100.0 * r["frames_with_pending"] / r["frames_out"], r["ocr_jobs"], r["cache_hits"]))
PY
	done
done
