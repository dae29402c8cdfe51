#!/usr/bin/env bash
# Soak: bench/eight.ini for SECONDS (default 600). Samples RSS every 10 s and
# reads latency p99 from --stats-json; prints both per minute, then first
# minute against last.
# usage: bench/soak.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:-build}; secs=${2:-600}
cd "$(dirname "$0")/.."
js=$(mktemp /tmp/ls-soak-XXXX.json); rss=$(mktemp /tmp/ls-soak-rss-XXXX)
"$build/lockstep" run bench/eight.ini --duration "$secs" --stats-json "$js" --quiet &
pid=$!
t=0
while kill -0 $pid 2>/dev/null; do
	v=$(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
	[[ -n $v ]] && echo "$t $v" >>"$rss"
	sleep 10; t=$((t + 10))
done
wait $pid
python3 - "$js" "$rss" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rss = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
mins = {}
for i, r in enumerate(recs):
    mins.setdefault(i // 60, []).append(r["latency_ms"]["p99"])
print("minute  latency_p99_ms(max of the minute's seconds)  rss_kib(last sample)")
for m in sorted(mins):
    rs = [v for t, v in rss if t // 60 == m]
    print("%6d  %8.2f  %8s" % (m, max(mins[m]), rs[-1] if rs else "-"))
last = recs[-1]
print("sets %d complete %d partial %d dropped_slots %d late %d off_slot %d superseded %d" % (
    last["sets"], last["complete"], last["partial"], last["dropped_slots"], last["late"], last["off_slot"], last["superseded"]))
print("missing per camera:", last["missing"])
print("camera drops (simulated), ring_full, pool_empty:",
      {k: (v["camera_drops"], v["ring_full"], v["pool_empty"]) for k, v in last["cameras"].items()})
first_rss = [v for t, v in rss if t < 60]; last_rss = [v for t, v in rss if t >= rss[-1][0] - 60]
print("RSS first minute max %d KiB, last minute max %d KiB" % (max(first_rss), max(last_rss)))
PY
rm -f "$js" "$rss"
