#!/usr/bin/env bash
# Frameset hand-off between two processes, side by side in one run: lockstep's
# shared memory (bench-shm) against GStreamer shmsink/shmsrc (bench-gstshm)
# and ZeroMQ ipc:// PUSH/PULL (bench-zmq), all with 4 cameras x 1920x1080
# I420 per set (12,441,600 bytes) and the same parameters. Builds nothing:
# it runs the binaries in BUILD_DIR/bench (see the harness in shm_bench.h).
#
#   latency rows: a paced writer (each of RATES), a reader that sleeps until
#     woken; p50/p99/max of publish -> reader wake-up, in µs. lockstep's
#     headline is the futex wake-up; "spin" (a reader polling, one core
#     busy) and "futex floor" (a bare futex wake, no lockstep code: what the
#     machine itself costs) are there to read it against.
#   throughput rows: an unpaced writer; sets/s delivered to the reader.
#     "row": the writer writes only the first row of each plane (the
#     hand-off alone); "full": it writes every byte of every set (a producer
#     that renders whole frames).
#
# usage: bench/shm_compare.sh [BUILD_DIR] [SECONDS] [ROUNDS] [RESULTS_FILE]
#   RATES="30 100" (env) the paced rates, Hz; every run is SECONDS long after
#   a 1 s warm-up. RESULTS_FILE gets every raw result line (default: a file
#   in /tmp, named at the end).
set -uo pipefail
build=${1:-build}; secs=${2:-10}; rounds=${3:-2}
results=${4:-$(mktemp /tmp/shm-compare.XXXXXX)}
rates=${RATES:-30 100}
cd "$(dirname "$0")/.."
b=$build/bench
for exe in bench-shm bench-gstshm; do
	[[ -x $b/$exe ]] || { echo "shm_compare: $b/$exe missing (build it first: ninja -C $build)" >&2; exit 1; }
done
have_zmq=0; [[ -x $b/bench-zmq ]] && have_zmq=1
: >"$results"

n=0
# run ROUND MODE LABEL COPIES BINARY ARGS...: one measurement, one tagged line in $results
run() {
	local round=$1 mode=$2 label=$3 copies=$4 exe=$5; shift 5
	n=$((n + 1))
	local out
	out=$(timeout $((secs + 40)) "$b/$exe" --seconds "$secs" --name "lsbench-$$-$n" "$@" 2>/tmp/shm-compare-err.$$)
	local rc=$?
	if [[ $rc -ne 0 || -z $out ]]; then
		echo "round=$round mode=$mode label=${label// /_} copies=$copies FAILED rc=$rc $(tr '\n' ' ' </tmp/shm-compare-err.$$)" >>"$results"
	else
		echo "round=$round mode=$mode label=${label// /_} copies=$copies $out" >>"$results"
	fi
	rm -f /tmp/shm-compare-err.$$
}

# table ROUND: the rows of one round, or of "all" rounds (min-max ranges)
table() {
	awk -v want="$1" '
	{
		delete f
		for (i = 1; i <= NF; i++) if ((j = index($i, "=")) > 0) f[substr($i, 1, j - 1)] = substr($i, j + 1)
		if (want != "all" && f["round"] != want) next
		k = f["mode"] SUBSEP f["label"]
		if (!(k in cnt)) { cnt[k] = 0; order[++nk] = k; copies[k] = f["copies"] }
		if ($0 ~ / FAILED /) { failed[k]++; next }
		c = ++cnt[k]
		lost[k] += f["lost"] + f["torn"] + f["bad"]
		keep(k, c, "p50", f["p50_us"]); keep(k, c, "p99", f["p99_us"]); keep(k, c, "sps", f["sets_per_s"])
		if (f["max_us"] + 0 > mx[k]) mx[k] = f["max_us"] + 0
		wcpu[k] += f["writer_cpu_pct"]; rcpu[k] += f["reader_cpu_pct"]
		if ("memcpy_writer" in f)
			zc[k] = zc[k] sprintf("\n    memcpy in writer %s, in reader %s (calls/bytes); planes read in place %s",
					      f["memcpy_writer"], f["memcpy_reader"], f["in_place"])
	}
	function keep(k, c, what, v) {
		v += 0
		if (c == 1 || v < lo[k, what]) lo[k, what] = v
		if (c == 1 || v > hi[k, what]) hi[k, what] = v
	}
	function range(k, what, fmt) {
		return lo[k, what] == hi[k, what] ? sprintf(fmt, lo[k, what]) : sprintf(fmt "-" fmt, lo[k, what], hi[k, what])
	}
	function name(s) { gsub("_", " ", s); return s }
	END {
		printf "%-8s %-26s %15s %15s %9s %15s %9s %6s %9s\n", "mode", "method", "p50 us", "p99 us", "max us",
		       "sets/s", "lost+torn", "copies", "cpu w/r %"
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, part, SUBSEP)
			if (!cnt[k]) { printf "%-8s %-26s FAILED (%d runs)\n", part[1], name(part[2]), failed[k]; continue }
			printf "%-8s %-26s %15s %15s %9.1f %15s %9d %6s %4.0f/%-4.0f\n", part[1], name(part[2]),
			       range(k, "p50", "%.1f"), range(k, "p99", "%.1f"), mx[k], range(k, "sps", "%.0f"), lost[k],
			       copies[k], wcpu[k] / cnt[k], rcpu[k] / cnt[k]
			if (want != "all" && zc[k] != "") zcl = zcl sprintf("  %s %s:%s\n", part[1], name(part[2]), zc[k])
			mid[part[1], part[2]] = (lo[k, "p50"] + hi[k, "p50"]) / 2
			if (part[1] ~ /Hz$/ && !(part[1] in israte)) { israte[part[1]] = 1; rates[++nr] = part[1] }
		}
		for (i = 1; i <= nr; i++) {
			m = rates[i]; base = mid[m, "lockstep_(futex)"]
			if (base <= 0) continue
			printf "p50 ratios at %s:", m
			if ((m, "shmsink_(appsrc_copy)") in mid) printf "  shmsink/lockstep %.1fx", mid[m, "shmsink_(appsrc_copy)"] / base
			if ((m, "shmsink_(shm_allocator)") in mid)
				printf "  shmsink-zero-copy/lockstep %.1fx", mid[m, "shmsink_(shm_allocator)"] / base
			if ((m, "zmq_ipc_PUSH/PULL") in mid) printf "  zmq/lockstep %.1fx", mid[m, "zmq_ipc_PUSH/PULL"] / base
			if ((m, "futex_floor_(no_lockstep)") in mid)
				printf "  [lockstep minus bare futex: %+.1f us]", base - mid[m, "futex_floor_(no_lockstep)"]
			printf "\n"
		}
		if (zcl != "") printf "zero-copy check, lockstep runs:\n%s", zcl
		if (want == "all") printf "(ranges: min-max over the rounds; ratios: of the midpoints)\n"
	}' "$results"
}

echo "shm hand-off: 4 cams x 1920x1080 I420 = 12,441,600 B/set, depth 4, $secs s per run (+1 s warm-up), $rounds rounds, rates: $rates Hz, unpaced"
echo "host: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for r in $(seq 1 "$rounds"); do
	for hz in $rates; do
		run "$r" "${hz}Hz" "lockstep (futex)" 0 bench-shm --rate "$hz"
		run "$r" "${hz}Hz" "lockstep (spin, 1 core)" 0 bench-shm --rate "$hz" --spin
		run "$r" "${hz}Hz" "futex floor (no lockstep)" - bench-shm --rate "$hz" --floor
		run "$r" "${hz}Hz" "shmsink (appsrc copy)" 1 bench-gstshm --rate "$hz"
		run "$r" "${hz}Hz" "shmsink (shm allocator)" 0 bench-gstshm --rate "$hz" --alloc shm
		((have_zmq)) && run "$r" "${hz}Hz" "zmq ipc PUSH/PULL" 3 bench-zmq --rate "$hz"
	done
	for touch in row full; do
		run "$r" "max-$touch" "lockstep (futex)" 0 bench-shm --rate 0 --touch "$touch"
		run "$r" "max-$touch" "shmsink (appsrc copy)" 1 bench-gstshm --rate 0 --touch "$touch"
		run "$r" "max-$touch" "shmsink (shm allocator)" 0 bench-gstshm --rate 0 --touch "$touch" --alloc shm
		((have_zmq)) && run "$r" "max-$touch" "zmq ipc PUSH/PULL" 3 bench-zmq --rate 0 --touch "$touch"
	done
	echo
	echo "round $r:"
	table "$r"
done
if ((rounds > 1)); then
	echo
	echo "all rounds:"
	table all
fi
((have_zmq)) || echo "(bench-zmq not built: libzmq missing; apt-get install libzmq3-dev)"
echo "goals: lockstep p50 <= 5 us; >= 10x lower p50 than shmsink/shmsrc"
echo "raw results: $results"
