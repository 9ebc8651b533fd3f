#!/usr/bin/env bash
# Installs what Ratchet needs on Debian 12 when it is missing, then builds it.
# Used by `make demo`, `make test` (with --test: also the browser-test tools) and the
# benchmarks; safe to run again.
set -euo pipefail

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libgit2 2>/dev/null || need+=(libgit2-dev)
command -v git >/dev/null 2>&1 || need+=(git)
command -v make >/dev/null 2>&1 || need+=(make)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ -e /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
[ -x /usr/bin/time ] || need+=(time)          # peak_memory metrics under bubblewrap
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)   # callgrind metrics
# `--test`: the review UI's browser test needs headless Chromium driven by selenium, the
# HTTPS test openssl, the Slurm tests Slurm and munge.
tests=false
[ "${1:-}" = "--test" ] && tests=true
if $tests; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    command -v openssl >/dev/null 2>&1 || need+=(openssl)   # the HTTPS test makes its certificate
    python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
    # The Slurm tests start a real single-node cluster (Tests/TestSupport/SlurmCluster.swift);
    # the daemons live in /usr/sbin, which a non-root PATH may lack.
    { [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && command -v sbatch >/dev/null 2>&1; } || need+=(slurm-wlm)
    [ -x /usr/sbin/munged ] || need+=(munge)
fi

if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${need[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if $tests && ! python3 -c 'import selenium' >/dev/null 2>&1; then
    echo "setup: installing selenium (PyPI) for the browser test" >&2
    python3 -m pip install --quiet selenium 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages selenium \
        || { echo "setup: could not install selenium with pip; the browser test will fail" >&2; }
fi

if ! command -v swift >/dev/null 2>&1; then
    for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH" && break
    done
fi
command -v swift >/dev/null 2>&1 || { echo "setup: Swift 6 is required (https://swift.org/install); 'swift' is not on PATH" >&2; exit 1; }
