#!/bin/sh
# Every C file of the tree is as clang-format leaves it (.clang-format at the
# top). Prints the files that differ and how to fix them; TAP for meson.
# Usage: check_format.sh SOURCE_ROOT
root=${1:?usage: check_format.sh SOURCE_ROOT}
cd "$root" || exit 1
echo "1..1"
if ! command -v clang-format >/dev/null; then
	echo "not ok 1 - clang-format is not installed (scripts/setup.sh installs it)"
	exit 1
fi
# The files git knows, or every .c/.h where there is no git (a source tarball).
if git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find lib src clients tests bench -name '*.c' -o -name '*.h')
fi
# One process for all files: --dry-run -Werror reports each difference as
# "FILE:LINE:COL: error: code should be clang-formatted".
bad=$(clang-format --style=file --dry-run -Werror $files 2>&1 |
	sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u | tr '\n' ' ')
if [ -n "$bad" ]; then
	echo "not ok 1 - not formatted by clang-format: $bad(run: make format)"
	exit 1
fi
echo "ok 1 - $(echo $files | wc -w) files formatted by $(clang-format --version | sed -n 's/.*version \([0-9.]*\).*/clang-format \1/p')"
