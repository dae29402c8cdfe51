# Thin wrapper over Meson: the two commands a new user needs are
#   make run    install what is missing, build, run the demo rig until Ctrl-C
#   make test   install what is missing, build, run the whole suite
BUILD ?= build
CONFIG ?= examples/demo.ini

.PHONY: all setup build run test test-asan bench clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/lockstep run $(CONFIG)

test: build
	meson test -C $(BUILD) --print-errorlogs

# The suite under AddressSanitizer + UBSan (valgrind runs in `make test`).
test-asan: setup
	[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 meson test -C build-asan --print-errorlogs --no-suite valgrind

bench: build
	bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
