# Ratchet: `make demo` runs the demo loop, `make test` the whole test suite.
# Each installs what it needs on Debian 12 (scripts/setup.sh) and builds first.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build demo test bench-git bench-decision bench-timing clean

setup:
	@scripts/setup.sh

build: setup
	swift build

demo: build
	scripts/demo.sh

test:
	@scripts/setup.sh --test
	swift build --build-tests
	swift test --skip-build

bench-git: setup
	benchmarks/run-git.sh

bench-decision: setup
	swift run -c release --scratch-path .build-bench ratchet-bench-decision

# Ratchet's recorded wall time of a bench command against hyperfine's, sandbox on.
bench-timing: setup
	swift build -c release --scratch-path .build-bench --product ratchet-timer
	swift run -c release --scratch-path .build-bench ratchet-bench-timing

clean:
	rm -rf .build .build-bench
