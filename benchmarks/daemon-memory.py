#!/usr/bin/env python3
"""The idle daemon's resident memory (`make bench-daemon`).

Starts the release `ratchet daemon` on 127.0.0.1, port 0, with two loops whose schedule
window is closed (so it only serves), waits until it listens, and samples `VmRSS`, the
thread count and the anonymous/file split from /proc/<pid>/status a few times over a few
seconds. The reference, measured in the same run: the peak RSS of `ratchet --version`
(the same binary and libraries, loaded and left idle) through GNU time. Then one
`GET /api/loops` with a viewer token checks that the daemon serves both loops, and SIGTERM
must stop it with exit 0.

    python3 benchmarks/daemon-memory.py --ratchet .build-bench/release/ratchet
    python3 benchmarks/daemon-memory.py --help

Prints a table (and where the daemon's resident pages are: its binary, the Swift and
system libraries, anonymous memory, thread stacks), then one JSON line with the figures.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TARGET_MB = 40.0


def progress(text):
    print(text, file=sys.stderr, flush=True)


def git(folder, *arguments):
    environment = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    identity = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", "-C", folder, *identity, *arguments], check=True, env=environment, stdout=subprocess.DEVNULL)


def make_loop(folder, name):
    """A git repository with one commit and a loop config whose window opens in 12 hours."""
    os.makedirs(folder + "/src")
    os.makedirs(folder + "/patches")
    with open(folder + "/src/f0.c", "w") as out:
        out.write("int main(void) { return 0; }\n")
    opening = time.localtime(time.time() + 12 * 3600)
    window = "%02d:%02d-%02d:%02d" % (opening.tm_hour, 0, opening.tm_hour, 1)
    with open(folder + "/ratchet.toml", "w") as out:
        out.write(f"""[loop]
name = "{name}"
base = "main"
scope = ["src/**"]
state_dir = "state"

[commands.bench]
run = "true"

[metric]
source = "wall_time"
direction = "lower"
min_effect = 0.03

[proposer]
kind = ["patches"]

[proposer.patches]
dir = "patches"

[schedule]
windows = ["{window}"]
""")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "bench")
    return folder + "/ratchet.toml"


def status(pid):
    """Fields of /proc/<pid>/status in kB (Threads as a count)."""
    fields = {}
    with open(f"/proc/{pid}/status") as text:
        for line in text:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                fields[key] = int(value.split()[0])
    return fields


def breakdown(pid, binary):
    """Resident kB per kind of mapping, from /proc/<pid>/smaps."""
    parts = {}
    kind = None
    stack_re = re.compile(r"^\[stack")
    with open(f"/proc/{pid}/smaps") as text:
        for line in text:
            head = line.split()
            if head and re.match(r"^[0-9a-f]+-[0-9a-f]+$", head[0]):
                path = head[5] if len(head) > 5 else ""
                if os.path.realpath(path) == os.path.realpath(binary):
                    kind = "the ratchet binary (code, data)"
                elif "/swift/" in path:
                    kind = "Swift runtime and Foundation (.so)"
                elif path.startswith("/"):
                    kind = "system libraries (.so)"
                elif path == "[heap]":
                    kind = "anonymous: [heap] (main arena)"
                elif stack_re.match(path):
                    kind = "anonymous: main stack"
                elif path == "":
                    kind = "anonymous: mmap (thread stacks, arenas)"
                else:
                    kind = "other " + path
            elif head and head[0] == "Rss:":
                parts[kind] = parts.get(kind, 0) + int(head[1])
    return parts


def reference_rss(ratchet, folder):
    """Peak RSS (kB) of `ratchet --version`, through GNU time like bench-store."""
    out = folder + "/version-rss.txt"
    peaks = []
    for _ in range(3):
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out, ratchet, "--version"], check=True, stdout=subprocess.DEVNULL)
        with open(out) as text:
            peaks.append(int(text.read().split()[-1]))
    return statistics.median(peaks)


def start_daemon(ratchet, folder, configs):
    err_path = folder + "/daemon.err"
    arguments = [ratchet, "daemon", "--host", "127.0.0.1", "--port", "0"]
    for config in configs:
        arguments += ["--config", config]
    daemon = subprocess.Popen(arguments, cwd=folder, stdin=subprocess.DEVNULL, stdout=open(folder + "/daemon.out", "w"), stderr=open(err_path, "w"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(err_path) as text:
            match = re.search(r"review UI and API on http://127\.0\.0\.1:(\d+)/", text.read())
        if match:
            return daemon, int(match.group(1)), time.monotonic()
        if daemon.poll() is not None:
            break
        time.sleep(0.05)
    daemon.kill()
    daemon.wait()
    with open(err_path) as text:
        raise SystemExit(f"the daemon did not report its port within 60 s (exit {daemon.returncode}):\n{text.read()}")


def check_serves(ratchet, folder, configs, port, names):
    token = subprocess.run(
        [ratchet, "token", "add", "bench", "--role", "viewer", "--config", configs[0]], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.strip().split()[-1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/loops", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    text = json.dumps(body)
    missing = [name for name in names if name not in text]
    if missing:
        raise SystemExit(f"GET /api/loops does not list {missing}: {text[:400]}")
    return text.count('"sleeping"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratchet", default=".build-bench/release/ratchet", help="the ratchet binary (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=5, help="RSS samples (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default: %(default)s)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after the daemon listens before the first sample (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    ratchet = os.path.abspath(options.ratchet)
    if not os.access(ratchet, os.X_OK):
        raise SystemExit(f"no ratchet binary at {ratchet}: build it (swift build -c release --product ratchet) or pass --ratchet")
    folder = tempfile.mkdtemp(prefix="ratchet-bench-daemon-")
    try:
        names = ["alpha", "beta"]
        configs = [make_loop(f"{folder}/{name}", name) for name in names]
        reference = reference_rss(ratchet, folder)
        daemon, port, listening = start_daemon(ratchet, folder, configs)
        try:
            time.sleep(options.settle)
            samples = []
            for index in range(options.samples):
                if index:
                    time.sleep(options.interval)
                samples.append(status(daemon.pid))
            parts = breakdown(daemon.pid, ratchet)
            sleeping = check_serves(ratchet, folder, configs, port, names)
            after_request = status(daemon.pid)
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = daemon.wait()
        if code != 0:
            with open(folder + "/daemon.err") as text:
                raise SystemExit(f"the daemon exited {code} on SIGTERM:\n{text.read()[-2000:]}")
        report(options, reference, samples, parts, sleeping, after_request)
    finally:
        if options.keep:
            progress(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def report(options, reference, samples, parts, sleeping, after_request):
    mb = lambda kb: kb / 1024
    rss = statistics.median(sample["VmRSS"] for sample in samples)
    figures = {
        "daemon_idle_rss_mb": round(mb(rss), 1),
        "daemon_idle_rss_max_mb": round(mb(max(sample["VmRSS"] for sample in samples)), 1),
        "daemon_idle_hwm_mb": round(mb(max(sample["VmHWM"] for sample in samples)), 1),
        "daemon_idle_anon_mb": round(mb(statistics.median(sample["RssAnon"] for sample in samples)), 1),
        "daemon_idle_file_mb": round(mb(statistics.median(sample["RssFile"] for sample in samples)), 1),
        "daemon_idle_threads": max(sample["Threads"] for sample in samples),
        "daemon_rss_after_request_mb": round(mb(after_request["VmRSS"]), 1),
        "reference_rss_mb": round(mb(reference), 1),
        "daemon_over_reference_mb": round(mb(rss - reference), 1),
        "loops_sleeping": sleeping,
        "target_mb": TARGET_MB,
    }
    print(f"Idle `ratchet daemon`, two loops (window closed), 127.0.0.1: {options.samples} samples {options.interval:g} s apart")
    print(f"{'':44}{'MB':>8}")
    rows = [
        ("daemon VmRSS (median of samples)", figures["daemon_idle_rss_mb"]),
        ("daemon VmRSS (highest sample)", figures["daemon_idle_rss_max_mb"]),
        ("daemon VmHWM (peak since exec)", figures["daemon_idle_hwm_mb"]),
        ("  of it anonymous (RssAnon)", figures["daemon_idle_anon_mb"]),
        ("  of it file-backed (RssFile)", figures["daemon_idle_file_mb"]),
        ("reference: `ratchet --version` peak RSS", figures["reference_rss_mb"]),
        ("daemon over the reference", figures["daemon_over_reference_mb"]),
        ("daemon VmRSS after one GET /api/loops", figures["daemon_rss_after_request_mb"]),
    ]
    for label, value in rows:
        print(f"{label:44}{value:8.1f}")
    print(f"{'threads':44}{figures['daemon_idle_threads']:8d}")
    print("Where the resident pages are (smaps, last idle sample; a library's relocated data counts with it):")
    for kind, kb in sorted(parts.items(), key=lambda item: -item[1]):
        if kb >= 50:
            print(f"  {kind:42}{mb(kb):8.1f}")
    verdict = "PASS" if figures["daemon_idle_rss_mb"] <= TARGET_MB else "FAIL"
    print(f"target: idle VmRSS <= {TARGET_MB:g} MB: {verdict}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
