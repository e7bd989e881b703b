#!/usr/bin/env python3
"""Drain rate of a Python remote worker (the cueball package) on no-op
steps: enqueues N runs of py.bench_noop held a few seconds ahead, serves
them with one cueball.Worker, and reports runs/s from the first start to
the last finish (the runs' own timestamps, database clock).

    PYTHONPATH=build/python /usr/bin/python3 tests/bench/python_worker_bench.py \
        --server 127.0.0.1:7420 --runs 20000 --slots 256
"""

import argparse
import datetime as dt
import json
import sys
import time

import cueball


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="127.0.0.1:7420")
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--slots", type=int, default=256)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds the runs are held while enqueued")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    client = cueball.Client(args.server, timeout=120)
    worker = cueball.Worker(client, slots=args.slots, identity="python-bench", poll_wait=5.0)
    wf = worker.workflow("py.bench_noop", "one no-op step (tests/bench/python_worker_bench.py)")

    @wf.step("noop")
    def noop(ctx):
        return None

    worker.start()
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=args.hold)
    ids = []
    t0 = time.monotonic()
    for lo in range(0, args.runs, 1000):
        n = min(1000, args.runs - lo)
        runs = client.enqueue_batch([{"workflow_type": "py.bench_noop", "run_at": due}] * n)
        ids.extend(r.id for r in runs)
    enqueue_s = time.monotonic() - t0
    if dt.datetime.now(dt.timezone.utc) > due:
        print("note: enqueueing took longer than the hold", file=sys.stderr)
    first, last = None, None
    for lo in range(0, len(ids), 1000):
        runs, ok = client.wait(ids[lo : lo + 1000], timeout=600)
        if not ok:
            print("runs did not finish in 10 minutes", file=sys.stderr)
            return 1
        for r in runs:
            if r.status != "succeeded":
                print(f"run {r.id} ended {r.status}: {r.error}", file=sys.stderr)
                return 1
            first = r.started_at if first is None or r.started_at < first else first
            last = r.finished_at if last is None or r.finished_at > last else last
    worker.stop()
    worker.join()
    seconds = max(1e-6, (last - first).total_seconds())
    out = {
        "runs": args.runs,
        "slots": args.slots,
        "drain_runs_per_s": round(args.runs / seconds),
        "enqueue_seconds": round(enqueue_s, 2),
        "refused": worker.outcomes_refused,
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k:18} {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
