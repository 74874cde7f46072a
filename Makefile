# synack — the two commands of the README, and a few more.
#   make demo    build, then run the main job on the in-memory wire
#   make check   build, then every test, then again under ASan+UBSan
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
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G Ninja

.PHONY: all deps deps-test build demo check test asan-test conformance interop clean bench docs deb deb-check install

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
	    ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Exit 77 means ../shared is absent: reported as skipped, not as a failure.
conformance: build
	@rc=0; ./$(BUILD)/synack conformance --shared ../shared \
	    --expect tests/conformance/expectations.txt || rc=$$?; \
	[ $$rc -eq 0 ] || [ $$rc -eq 77 ]

check: test asan-test

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
	rm -rf $(BUILD) $(ASAN_BUILD)
