#!/usr/bin/env bash
# Builds ratchet-bench-git in release mode (in its own scratch folder, so it never competes
# with a development build) and runs it, passing every argument through.
# Usage: benchmarks/run-git.sh [--quick] [--sizes 1000,20000] [--help]
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-bench
# --static-swift-stdlib as the Makefile's release builds, which share the scratch folder.
swift build -c release --scratch-path "$scratch" --static-swift-stdlib --product ratchet-bench-git >&2
exec "$scratch/release/ratchet-bench-git" "$@"
