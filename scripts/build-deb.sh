#!/usr/bin/env bash
# build-deb.sh OUTDIR: the Debian package, built by dpkg-buildpackage (dh with
# Meson, debian/) in OUTDIR/src, a copy of the files git tracks (what a clone
# has, uncommitted changes included) and of new files git does not ignore,
# plus .cache/ort/include, the ONNX
# Runtime headers scripts/setup.sh fetched (build time only: not packaged).
# The .deb ends in OUTDIR.
set -euo pipefail
OUT=${1:?usage: build-deb.sh OUTDIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[[ -f .cache/ort/include/onnxruntime_c_api.h ]] || { echo "build-deb: no .cache/ort/include (run scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/src" "$OUT"/lockstep_* "$OUT"/lockstep-dbgsym_*
mkdir -p "$OUT/src/.cache/ort"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$OUT/src" 2>/dev/null || true
git ls-files -z --cached | (cd "$OUT/src" && xargs -0 ls -d >/dev/null)   # every tracked file got there
cp -r .cache/ort/include "$OUT/src/.cache/ort/"
cd "$OUT/src"
dpkg-buildpackage -b -us -uc -j"$(nproc)"
ls -l "$OUT"/lockstep_*.deb
