#!/usr/bin/env python3
"""How a Slurm loop's throughput grows with nodes: a small discrete-event simulation.

One lane per node, each node runs one job at a time (`exclusive = true`). A candidate is
proposed (model latency, concurrent), prepared by the controller (apply, gate, bundle: one at
a time, the controller is one process), queued (one scheduler pass), run as a job (build +
test + measurement on the node), and recorded (ingest, one at a time). An accept moves the
best: a candidate that is then found better than a best that has moved since its job started
is rebased and runs again (its job is wasted); a reject stands.

    python3 benchmarks/scale-sim.py            # the table in docs/scale.md
    python3 benchmarks/scale-sim.py --help

Prints a table, then one JSON line with the figures.
"""
import argparse
import heapq
import json
import random


def simulate(nodes, hours, propose, prepare, ingest, schedule, job, accept_rate, seed):
    rng = random.Random(seed)
    horizon = hours * 3600.0
    events = []  # (time, order, kind, lane, data)
    order = 0

    def push(time, kind, lane, data=None):
        nonlocal order
        order += 1
        heapq.heappush(events, (time, order, kind, lane, data))

    controller_free = 0.0  # the controller prepares and records one candidate at a time
    controller_busy = 0.0
    best_version = 0
    decided = accepted = reruns = 0
    for lane in range(nodes):
        push(rng.uniform(0, 1), "proposed", lane)
    while events:
        time, _, kind, lane, data = heapq.heappop(events)
        if time > horizon:
            break
        if kind == "proposed":
            start = max(time, controller_free)
            controller_free = start + prepare
            controller_busy += prepare
            push(controller_free + schedule, "job_start", lane, {"rerun": False})
        elif kind == "job_start":
            duration = job * rng.lognormvariate(0, 0.15)
            push(time + duration, "job_end", lane, {"version": best_version})
        elif kind == "job_end":
            start = max(time, controller_free)
            controller_free = start + ingest
            controller_busy += ingest
            better = rng.random() < accept_rate
            if better and data["version"] != best_version:
                # Measured against a best that has moved: rebased, prepared and run again.
                reruns += 1
                controller_free += prepare
                controller_busy += prepare
                push(controller_free + schedule, "job_start", lane, {"rerun": True})
                continue
            decided += 1
            if better:
                accepted += 1
                best_version += 1
            push(controller_free + propose * rng.lognormvariate(0, 0.3), "proposed", lane)
    return {
        "nodes": nodes,
        "candidates_per_hour": decided / hours,
        "accepted_per_hour": accepted / hours,
        "reruns_per_hour": reruns / hours,
        "controller_utilisation": controller_busy / horizon,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--propose", type=float, default=20.0, help="seconds a model takes to propose (default 20)")
    parser.add_argument("--prepare", type=float, default=0.25, help="controller seconds per candidate: apply, gate, bundle (default 0.25)")
    parser.add_argument("--ingest", type=float, default=0.05, help="controller seconds to record a job's result (default 0.05)")
    parser.add_argument("--schedule", type=float, default=1.0, help="seconds from sbatch to the job starting (default 1, one scheduler pass)")
    parser.add_argument("--job", type=float, default=300.0, help="median seconds of a job: build + test + measurement (default 300)")
    parser.add_argument("--accept", type=float, default=0.1, help="share of candidates that are real wins (default 0.1)")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = [
        simulate(n, args.hours, args.propose, args.prepare, args.ingest, args.schedule, args.job, args.accept, args.seed)
        for n in (1, 2, 4, 8, 16, 32, 64, 100)
    ]
    base = rows[0]["candidates_per_hour"]
    print(f"job {args.job:.0f} s, propose {args.propose:.0f} s, controller {args.prepare + args.ingest:.2f} s per candidate, accept rate {args.accept:.0%}")
    print("| nodes | candidates/hour | speed-up | accepted/hour | reruns/hour | controller busy |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['nodes']} | {row['candidates_per_hour']:.0f} | {row['candidates_per_hour'] / base:.1f}x | "
            f"{row['accepted_per_hour']:.1f} | {row['reruns_per_hour']:.1f} | {row['controller_utilisation']:.1%} |"
        )
    print(json.dumps({f"speedup_{row['nodes']}": round(row["candidates_per_hour"] / base, 2) for row in rows}, sort_keys=True))


if __name__ == "__main__":
    main()
