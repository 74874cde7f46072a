# synack — the two commands of the README, and a few more.
#   make demo    build, then run the main job on the in-memory wire
#   make check   build, then every test, then again under ASan+UBSan (all but
#                those labelled plain_only: see tests/CMakeLists.txt), then
#                each libFuzzer target for FUZZ_SECONDS when clang is there
#   make fuzz-check  only the libFuzzer targets (fuzz/, clang, build-fuzz)
#   make conformance  build, then the packetdrill conformance tiers of ../shared
#                     against tests/conformance/expectations.txt (also a ctest test)
#   make bench   Release (-O2) build, then synack vs Linux loopback vs lwIP
#   make interop build, then synack against the Linux kernel over TUN (root)
#   make docs    the API reference from the public headers (Doxygen), build/docs
#   make deb     Debian packages (libsynack0, libsynack-dev, synack) in build/deb
#   make deb-check  make deb, then lintian and a scratch-root install test
#   make install installs into PREFIX (default /usr/local)
# Both install what they need from Debian's packages first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
RELEASE_BUILD ?= build-release
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := fuzz_input fuzz_script_parse fuzz_analyze fuzz_trace
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G Ninja

.PHONY: all deps deps-test build demo check test asan-test fuzz-check conformance interop clean bench docs deb deb-check \
        install

all: build

deps:
	@sh scripts/install-deps.sh build

deps-test:
	@sh scripts/install-deps.sh test

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/synack demo

test: deps-test build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSYNACK_SANITIZE=ON

asan-test: deps-test $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE plain_only

# Exit 77 means ../shared is absent: reported as skipped, not as a failure.
conformance: build
	@rc=0; ./$(BUILD)/synack-conformance --shared ../shared \
	    --expect tests/conformance/expectations.txt || rc=$$?; \
	[ $$rc -eq 0 ] || [ $$rc -eq 77 ]

check: test asan-test fuzz-check

# Each target runs FUZZ_SECONDS over a scratch copy of its committed seed
# corpus (fuzz/corpus/NAME) and its regression inputs (fuzz/regress/NAME),
# so the tree is not written to.  A crash stops
# make, leaves the input as $(FUZZ_BUILD)/crash-* and the report on stderr.
# Without clang and libFuzzer (Debian: clang, libclang-rt-14-dev; the test
# deps install them) it says so and passes.
fuzz-check: deps-test
	@if ! command -v clang >/dev/null 2>&1; then \
	    echo "fuzz-check: skipped: clang is not installed (apt-get install clang libclang-rt-14-dev)"; exit 0; fi; \
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then \
	    echo "fuzz-check: skipped: clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)"; exit 0; fi; \
	set -e; \
	[ -f $(FUZZ_BUILD)/build.ninja ] || cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=clang -DSYNACK_FUZZ=ON; \
	cmake --build $(FUZZ_BUILD) -j $(JOBS); \
	for t in $(FUZZ_TARGETS); do \
	    c=$(FUZZ_BUILD)/corpus-$$t; rm -rf $$c; mkdir -p $$c; cp fuzz/corpus/$${t#fuzz_}/* $$c/; \
	    r=fuzz/regress/$${t#fuzz_}; [ -d $$r ] || r=; \
	    echo "fuzz-check: $$t for $(FUZZ_SECONDS) s"; \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(FUZZ_BUILD)/ -print_final_stats=1 $$c $$r 2>$(FUZZ_BUILD)/$$t.log || \
	        { tail -n 60 $(FUZZ_BUILD)/$$t.log >&2; echo "fuzz-check: $$t FAILED, input in $(FUZZ_BUILD)/" >&2; exit 1; }; \
	    grep -E "^#[0-9]+[[:space:]]+DONE" $(FUZZ_BUILD)/$$t.log | sed "s/^/fuzz-check: $$t: /"; \
	done

# Exit 77 means "cannot run here" (not root, no /dev/net/tun): reported, not an error.
interop: deps-test build
	@sh tests/interop/run.sh $(BUILD)/synack; rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

# Not part of `make check`: figures for BENCHMARKS.md and build/bench.json.
bench: deps
	@sh scripts/bench.sh --deps
	cmake -S . -B $(RELEASE_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG"
	cmake --build $(RELEASE_BUILD) -j $(JOBS) --target bench_all
	sh scripts/bench.sh $(RELEASE_BUILD) $(BUILD)/bench.json

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Configured again so a doxygen installed after the first configure is found.
docs: build
	@sh scripts/install-deps.sh docs
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) --target docs
	@echo "API reference: $(BUILD)/docs/html/index.html"

# Not part of `make check` (two minutes: a full build and test run inside
# dpkg-buildpackage).
deb:
	@sh scripts/install-deps.sh deb
	sh scripts/deb.sh $(BUILD)/deb

deb-check: deb
	sh scripts/deb-check.sh $(BUILD)/deb

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
