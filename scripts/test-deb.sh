#!/usr/bin/env bash
# test-deb.sh DEBDIR: the package in DEBDIR (scripts/build-deb.sh) installed
# with apt-get and tried as a user would, from the installed files alone
# (from a directory outside the source tree, with no build tree on any
# path), then removed and purged, checking that it leaves only configs and
# recordings behind. Root; it changes the system, so it is meant for a new
# Debian 12 root: ../shared/tools/fresh-debian deb-test. Ends with
# "N passed, N failed" and exits 1 if any failed.
set -uo pipefail
DEBDIR=$(cd "${1:?usage: test-deb.sh DEBDIR}" && pwd)
DEB=$(ls "$DEBDIR"/lockstep_*.deb | head -n1)
[[ -f $DEB ]] || { echo "test-deb: no lockstep_*.deb in $DEBDIR" >&2; exit 2; }
[[ $(id -u) = 0 ]] || { echo "test-deb: needs root (it installs the package)" >&2; exit 2; }
if dpkg -s lockstep >/dev/null 2>&1; then
	echo "test-deb: lockstep is installed already; run this on a machine without it" >&2
	exit 2
fi
export DEBIAN_FRONTEND=noninteractive
W=$(mktemp -d /tmp/test-deb.XXXXXX)
chmod 755 "$W" # the lockstep user reads configs here
LOG=$DEBDIR/test-deb.log
: >"$LOG"
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
bad() { echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; failed=$((failed + 1)); }
# run NAME CMD...: a check, its output kept in the log
run() {
	local name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$(echo "$out" | tail -n 5)"; fi
	{ echo "== $name"; echo "$out"; } >>"$LOG"
}

# the tools the checks use (not the package's own dependencies)
apt-get install -y -qq --no-install-recommends systemd lintian man-db gcc libc6-dev pkg-config python3 \
	>>"$LOG" 2>&1 || { echo "test-deb: cannot install the test tools (see $LOG)" >&2; exit 2; }

# The package's dependencies first, then the package alone: what is on the
# disk before it is the baseline its removal must get back to.
run "apt-get install ./lockstep_*.deb (with its Depends)" apt-get install -y -qq "$DEB"
dpkg --purge lockstep >>"$LOG" 2>&1
[[ -d /var/lib/lockstep ]] && rmdir /var/lib/lockstep 2>/dev/null
snapshot() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run -o -path /var/log \
		-o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /root -o -path "$DEBDIR" \
		-o -path /var/tmp \) -prune -o -print 2>/dev/null | sort
}
snapshot >"$W/before"
run "the package installs" apt-get install -y -qq "$DEB"
dpkg -L lockstep >"$W/files"

cd "$W" || exit 2
export PATH=/usr/sbin:/usr/bin:/sbin:/bin OMP_THREAD_LIMIT=1
EX=/usr/share/doc/lockstep/examples

run "lockstep version" lockstep version
run "lockstep check $EX/demo.ini" lockstep check "$EX/demo.ini"
run "no path into a source or build tree in the binary" \
	bash -c '! strings /usr/bin/lockstep | grep -E "^/(work|root|home|build)/|obj-x86_64|/\.cache/"'

# a 5 s run from the installed files alone
run "a 5 s run of the demo rig" bash -c "lockstep run $EX/demo.ini --duration 5 --quiet --stats-json $W/demo.json &&
	python3 -c 'import json,sys; s=json.loads(open(\"$W/demo.json\").read().split(chr(10))[-2]); n=s[\"sets\"]; sys.exit(0 if n >= 100 else \"only %d sets\" % n)' &&
	test -s out/demo.mp4"

# the rules are found by default: a redacted camera needs them and Tesseract
cat >"$W/redact.ini" <<'EOF'
[rig]
rate = 10
[camera screen]
uri = test://?fps=10&width=640&height=360&pattern=smpte
redact = on
[redact]
workers = 1
[output file]
camera = screen
file = out/redacted.y4m
EOF
run "the default rules (/usr/share/lockstep/rules) and Tesseract load" lockstep check --no-probe "$W/redact.ini"
run "a redacted run" bash -c "lockstep run $W/redact.ini --duration 3 --quiet && test -s out/redacted.y4m"

# the C client through pkg-config, reading a running rig's frames
cat >"$W/shm.ini" <<'EOF'
[rig]
rate = 30
[camera a]
uri = test://?fps=30&width=320&height=240
[camera b]
uri = test://?fps=30&width=320&height=240&pattern=ball
[output shm]
name = deb-test
EOF
cat >"$W/reader.c" <<'EOF'
#include <lockstep_shm.h>
#include <stdio.h>

int main(void)
{
	lsr_reader *r = NULL;
	char err[256];
	for (int i = 0; i < 100 && lsr_open("deb-test", &r, err, sizeof err) < 0; i++) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	if (!r) {
		fprintf(stderr, "reader: %s\n", err);
		return 1;
	}
	int got = 0;
	int64_t last = -1;
	while (got < 30) {
		lsr_frameset set;
		int rc = lsr_next(r, 2000, &set);
		if (rc != LSR_OK && rc != LSR_OVERRUN && rc != LSR_REATTACHED) {
			fprintf(stderr, "reader: %s\n", lsr_result_name(rc));
			return 1;
		}
		if (set.ncams != 2 || set.frames[0].width != 320 || set.n <= last) {
			fprintf(stderr, "reader: bad set: %u cameras, width %d, slot %lld after %lld\n", set.ncams,
				set.frames[0].width, (long long)set.n, (long long)last);
			return 1;
		}
		last = set.n;
		if (lsr_release(r, &set) == LSR_OK)
			got++;
	}
	printf("read %d framesets, last slot %lld\n", got, (long long)last);
	lsr_close(&r);
	return 0;
}
EOF
run "a C program builds with pkg-config lockstep-shm" \
	bash -c "gcc -std=gnu11 -Wall -Werror -include time.h reader.c -o reader \$(pkg-config --cflags --libs lockstep-shm)"
lockstep run "$W/shm.ini" --duration 8 --quiet >"$W/shm.log" 2>&1 &
rig=$!
run "the C program reads a running rig's framesets" ./reader
run "python3 -c 'import lockstep_shm' reads them too" python3 -c '
import lockstep_shm, sys
r = lockstep_shm.Reader("deb-test")
s = r.next(timeout=2)
sys.exit(0 if s is not None and len(s.frames) == 2 else "no set")'
wait $rig

run "man -w lockstep finds the page" man -w lockstep
run "the man page renders without warnings" bash -c '! man --warnings -l "$(man -w lockstep)" 2>&1 >/dev/null | grep .'
run "systemd-analyze verify the units" bash -c "mkdir -p /etc/lockstep && cp $EX/demo.ini /etc/lockstep/deb-test.ini &&
	printf 'LISTEN=127.0.0.1:8080\nTOKEN=t\n' >/etc/lockstep/redact-9.env &&
	systemd-analyze verify lockstep@deb-test.service lockstep-redact@9.service; rc=\$?;
	rm -f /etc/lockstep/deb-test.ini /etc/lockstep/redact-9.env; exit \$rc"
run "the service user exists, in the video group" bash -c 'id lockstep && id -nG lockstep | grep -qw video'

# the service's command as the service's user in its state directory; SIGTERM
# ends it with the recording finished (a complete MP4: its moov box written)
cp "$EX/demo.ini" "$W/svc.ini"
run "as the lockstep user: SIGTERM ends a run with its file finished" bash -c "
	cd /var/lib/lockstep && runuser -u lockstep -- lockstep run $W/svc.ini --quiet & pid=\$!; sleep 4;
	kill -TERM \$(pgrep -u lockstep -x lockstep); wait \$pid; rc=\$?;
	test \$rc = 0 && python3 - /var/lib/lockstep/out/demo.mp4 <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
boxes, i = [], 0
while i + 8 <= len(data):
    size, kind = struct.unpack('>I4s', data[i:i + 8])
    if size == 1:
        size = struct.unpack('>Q', data[i + 8:i + 16])[0]
    boxes.append(kind.decode(errors='replace'))
    if size < 8:
        break
    i += size
sys.exit(0 if 'moov' in boxes else 'no moov box: %s' % boxes)
PY"

# models: not in the package; check names the way to get them
cat >"$W/detect.ini" <<'EOF'
[rig]
rate = 10
[camera a]
uri = test://?fps=10&width=640&height=360
[detect]
model = centernet.onnx
[output file]
camera = a
file = out/detect.y4m
EOF
run "without models, check says to run lockstep fetch-models" \
	bash -c "out=\$(lockstep check --no-probe $W/detect.ini 2>&1); rc=\$?; echo \"\$out\";
		[ \$rc != 0 ] && echo \"\$out\" | grep -q 'lockstep fetch-models'"
if [[ ${FETCH:-1} = 1 ]]; then
	apt-get install -y -qq --no-install-recommends npm python3-numpy python3-onnx >>"$LOG" 2>&1
	run "lockstep fetch-models fills /var/lib/lockstep" lockstep fetch-models
	# without --no-probe: a session on the model, as `run` makes it
	run "with them, check loads the model and ONNX Runtime" lockstep check "$W/detect.ini"
	run "and the service's user reads them" runuser -u lockstep -- lockstep check "$W/detect.ini"
fi

run "lintian: no errors" bash -c "lintian -I -E --pedantic --tag-display-limit 0 '$DEB' >'$DEBDIR/lintian.txt' 2>&1; ! grep -q '^E:' '$DEBDIR/lintian.txt'"
sed 's/^/# lintian: /' "$DEBDIR/lintian.txt"

# remove, then purge: every file of the package gone; what is new on the
# disk since the baseline is the recordings (/var/lib/lockstep/out) only
mkdir -p /etc/lockstep && echo "# a user's config" >/etc/lockstep/mine.ini
run "apt-get remove" apt-get remove -y -qq lockstep
run "after remove: no file of the package is left but configs" bash -c "
	left=\$(while read -r f; do [ -f \"\$f\" ] && echo \"\$f\"; done <$W/files | grep -v '^/etc/'); [ -z \"\$left\" ] || { echo \"\$left\"; exit 1; }"
run "apt-get purge" apt-get purge -y -qq lockstep
snapshot >"$W/after"
run "after purge: only the user's config and the recordings are left" bash -c "
	new=\$(comm -13 $W/before $W/after | grep -vE '^/etc/lockstep(/mine.ini)?\$|^/var/lib/lockstep(/out(/.*)?)?\$' |
		grep -vE '^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?\$');
	echo \"recordings: \$(ls /var/lib/lockstep/out 2>/dev/null | tr '\n' ' ')\";
	[ -z \"\$new\" ] || { echo \"left behind: \$new\"; exit 1; }"
rm -rf /etc/lockstep /var/lib/lockstep
userdel lockstep 2>/dev/null

cd / && rm -rf "$W"
echo "$passed passed, $failed failed"
[[ $failed = 0 ]]
