# Thin wrapper over Meson: the two commands a new user needs are
#   make run    install what is missing, build, run the demo rig until Ctrl-C
#   make test   install what is missing, build, run the whole suite
BUILD ?= build
CONFIG ?= examples/demo.ini

.PHONY: all setup build run test test-noort test-asan bench format clean deb deb-test

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/lockstep run $(CONFIG)

# The whole suite, then the build without ONNX Runtime (what a machine
# without npm gets): it must compile, and its unit and [detect] tests pass.
test: build
	meson test -C $(BUILD) --print-errorlogs; rc=$$?; $(MAKE) --no-print-directory test-noort || rc=1; exit $$rc

test-noort: setup
	[ -f build-noort/build.ninja ] || meson setup build-noort -Donnxruntime=disabled
	ninja -C build-noort
	meson test -C build-noort --print-errorlogs --suite unit --suite detect

# The suite under AddressSanitizer + UBSan (valgrind runs in `make test`).
test-asan: setup
	[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 meson test -C build-asan --print-errorlogs --suite unit --suite shm
	# The whole program end to end: memory errors and UB are still fatal, but
	# not leak checking. Leak stacks need the slow unwinder (the fast one
	# stops in GLib, which has no frame pointers), and the slow one deadlocks
	# in _Unwind_Find_FDE while GStreamer and X libraries run. Leaks of the
	# program are covered by valgrind (make test) and the unit suites above.
	ASAN_OPTIONS=detect_leaks=0 meson test -C build-asan --print-errorlogs --suite integration --suite redact --suite record --suite detect

# Rewrites every C file as clang-format leaves it; `make test` checks it.
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The Debian package (debian/, dh with Meson), built from a copy of the
# committed tree plus the ONNX Runtime headers setup fetched: out/deb/.
deb: setup
	scripts/build-deb.sh out/deb

# The package installed and tried as a user would, then removed (root; meant
# for a new Debian 12: ../shared/tools/fresh-debian deb-test).
deb-test: deb
	scripts/test-deb.sh out/deb

bench: build
	bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-noort
