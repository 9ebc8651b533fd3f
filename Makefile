# Ratchet: `make demo` runs the demo loop, `make test` the whole test suite.
# Each installs what it needs on Debian 12 (scripts/setup.sh) and builds first.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
# `ratchet --version` names the commit it was built from (see Package.swift).
export RATCHET_GIT_DESCRIBE := $(shell git describe --tags --always --dirty 2>/dev/null)

# Release builds (benchmarks, installs): the Swift runtime and Foundation linked statically, and,
# with lld (Package.swift), the functions an idle `ratchet daemon` runs laid out together in the
# order of scripts/link-order.txt (remade by scripts/link-order.sh) and packed relative
# relocations: the idle daemon touches fewer code pages (benchmarks/README.md, daemon memory).
RELEASE := -c release --scratch-path .build-bench --static-swift-stdlib \
	-Xlinker --symbol-ordering-file=$(CURDIR)/scripts/link-order.txt -Xlinker --no-warn-symbol-ordering \
	-Xlinker -z -Xlinker pack-relative-relocs

.PHONY: setup build demo test lint format bench-git bench-decision bench-timing bench-store bench-parallel bench-daemon clean

setup:
	@scripts/setup.sh

build: setup
	swift build

demo: build
	scripts/demo.sh

test:
	@scripts/setup.sh --test
	$(MAKE) --no-print-directory lint
	swift build --build-tests
	swift test --skip-build

# swift-format with the repository's .swift-format (`make format` rewrites the tree to match),
# and no file in Sources over 450 lines or 8 types.
lint:
	swift format lint --strict --parallel --recursive Sources Tests benchmarks Package.swift
	@scripts/check-sizes.sh

format:
	swift format format --in-place --parallel --recursive Sources Tests benchmarks Package.swift

bench-git: setup
	benchmarks/run-git.sh

bench-decision: setup
	swift run $(RELEASE) ratchet-bench-decision

# Ratchet's recorded wall time of a bench command against hyperfine's, sandbox on.
bench-timing: setup
	swift build $(RELEASE) --product ratchet-timer
	swift run $(RELEASE) ratchet-bench-timing

# The read-only verbs, the queue page and /api/loops against a store of 100 000 candidates
# (and 1 000), with the release `ratchet` binary; arguments in BENCH_ARGS.
bench-store: setup
	swift build $(RELEASE) --product ratchet
	swift build $(RELEASE) --product ratchet-bench-store
	.build-bench/release/ratchet-bench-store $(BENCH_ARGS)

# Candidates per hour with 1, 2 and 4 in flight, through Slurm on a single-node cluster it
# starts, and A/A false accepts with two in flight (release `ratchet`; about 5 minutes).
bench-parallel:
	@scripts/setup.sh --test
	swift build $(RELEASE) --product ratchet
	swift build $(RELEASE) --product ratchet-timer
	swift build $(RELEASE) --product ratchet-bench-parallel
	.build-bench/release/ratchet-bench-parallel

# The idle daemon's resident memory (two loops, window closed) against `ratchet --version`'s,
# with the release `ratchet` binary (about 20 s after the build); arguments in BENCH_ARGS.
bench-daemon: setup
	swift build $(RELEASE) --product ratchet
	python3 benchmarks/daemon-memory.py --ratchet .build-bench/release/ratchet $(BENCH_ARGS)

clean:
	rm -rf .build .build-bench
