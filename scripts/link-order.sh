#!/usr/bin/env bash
# Remakes scripts/link-order.txt, the order in which lld lays out the functions of the release
# `ratchet` (Makefile, RELEASE): every function of the binary that an idle `ratchet daemon`
# runs (start-up, two loops whose window is closed, the HTTP server listening, SIGTERM), in the
# order callgrind first lists them. Packed together they take a few hundred pages instead of
# 64 KB fault-around chunks scattered over the whole text (benchmarks/README.md, daemon
# memory). A stale list only costs memory, never correctness: run this after large changes.
# Usage: scripts/link-order.sh [path to a release ratchet binary]
set -euo pipefail
cd "$(dirname "$0")/.."
ratchet=${1:-.build-bench/release/ratchet}
command -v valgrind >/dev/null || { echo "link-order: needs valgrind (scripts/setup.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# valgrind cannot read the DWARF of the statically linked binary: profile a copy without it.
strip --strip-debug -o "$work/ratchet" "$ratchet"
python3 - "$work" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("bench", "benchmarks/daemon-memory.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
for name in ("a", "b"):
    bench.make_loop(f"{sys.argv[1]}/{name}", f"loop-{name}")
PY
(cd "$work" && exec valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --callgrind-out-file="$work/profile" \
    ./ratchet daemon --host 127.0.0.1 --port 0 --config a/ratchet.toml --config b/ratchet.toml >"$work/out" 2>"$work/err") &
pid=$!
for _ in $(seq 1 300); do grep -q "review UI and API on" "$work/err" && break; sleep 1; done
grep -q "review UI and API on" "$work/err" || { cat "$work/err" >&2; echo "link-order: the daemon did not start" >&2; exit 1; }
sleep 5
kill -TERM "$pid"
wait "$pid" || true
python3 - "$work/profile" scripts/link-order.txt <<'PY'
import sys
objects, names, seen = None, [], set()
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("ob="):
        objects = line[3:].strip()
    elif line.startswith("fn=") and objects and objects.endswith("/ratchet"):
        name = line[3:].strip()
        if name not in seen:
            seen.add(name)
            names.append(name)
open(sys.argv[2], "w").write("\n".join(names) + "\n")
print(f"link-order: {len(names)} functions in {sys.argv[2]}", file=sys.stderr)
PY
