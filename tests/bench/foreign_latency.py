#!/usr/bin/python3
"""Enqueue-to-start latency as a client cueball did not write sees it.

Python's grpcio (Debian's python3-grpcio) loads proto/ through stubs made
here with protoc and grpc_python_plugin, then sends Enqueue calls open loop:
every send time is drawn before the first call (exponential gaps, fixed
seed), and calls are asynchronous, so a slow answer never delays the next
call. Afterwards each run's started_at (the daemon's record) is read back.
Prints p50, p99 and max of the Enqueue call and of enqueue-to-start, in ms,
and enqueue-to-start split at the run's created_at (the enqueue statement's
start, by the database's clock, which is this machine's): before it the
client, gRPC and the daemon's handler; after it the insert, its commit, the
notification and the claim.

  /usr/bin/python3 tests/bench/foreign_latency.py --server 127.0.0.1:7420 \\
      --rate 20 --seconds 120
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stubs(out_dir):
    subprocess.run(
        ["protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + out_dir,
         "--grpc_out=" + out_dir, "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         os.path.join(ROOT, "proto/cueball/v1/workflows.proto")],
        check=True)
    sys.path.insert(0, out_dir)
    from cueball.v1 import workflows_pb2, workflows_pb2_grpc  # noqa: E402
    return workflows_pb2, workflows_pb2_grpc


def pct(values, p):
    v = sorted(values)
    if not v:
        return 0.0
    rank = max(1, min(len(v), int(-(-p * len(v) // 1))))
    return v[rank - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="127.0.0.1:7420")
    ap.add_argument("--rate", type=float, default=20.0, help="calls per second")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--type", default="noop")
    ap.add_argument("--seed", type=int, default=20261206)
    a = ap.parse_args()

    import grpc
    pb, rpc = stubs(tempfile.mkdtemp(prefix="cueball-py-"))
    channel = grpc.insecure_channel(a.server)
    stub = rpc.WorkflowsStub(channel)
    stub.ListWorkflowTypes(pb.ListWorkflowTypesRequest(), timeout=10)  # connected

    rng = random.Random(a.seed)
    at, t = [], 0.0
    while True:
        t += rng.expovariate(a.rate)
        if t > a.seconds and at:
            break
        at.append(t)
    n = len(at)
    sent = [0.0] * n
    rpc_ms = [0.0] * n
    ids = [None] * n
    errors = []
    done = threading.Semaphore(0)

    def finished(i, fut):
        rpc_ms[i] = (time.monotonic() - sent_mono[i]) * 1000
        try:
            ids[i] = fut.result().run.id
        except grpc.RpcError as e:  # reported at the end
            errors.append("%s: %s" % (e.code(), e.details()))
        done.release()

    sent_mono = [0.0] * n
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + at[i] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent_mono[i] = time.monotonic()
        sent[i] = time.time()
        fut = stub.Enqueue.future(pb.EnqueueRequest(workflow_type=a.type), timeout=30)
        fut.add_done_callback(lambda f, i=i: finished(i, f))
    for _ in range(n):
        done.acquire()
    if errors:
        print("foreign_latency: %d calls failed, first: %s" % (len(errors), errors[0]), file=sys.stderr)
        return 1

    start_ms, to_created_ms, created_to_start_ms = [], [], []
    for k in range(0, n, 500):
        chunk = ids[k:k + 500]
        resp = stub.Wait(pb.WaitRequest(ids=chunk, timeout={"seconds": 60}), timeout=70)
        if not resp.satisfied:
            print("foreign_latency: runs did not finish", file=sys.stderr)
            return 1
        by_id = {run.id: run for run in resp.runs}
        for j, run_id in enumerate(chunk):
            run = by_id[run_id]
            started = run.started_at.seconds + run.started_at.nanos / 1e9
            created = run.created_at.seconds + run.created_at.nanos / 1e9
            start_ms.append((started - sent[k + j]) * 1000)
            # Where the time went: up to the enqueue statement's start (the
            # client, gRPC, the daemon's handler), and from there to the
            # claim (the insert, its commit, the notification, the claim).
            to_created_ms.append((created - sent[k + j]) * 1000)
            created_to_start_ms.append((started - created) * 1000)

    print("client                 python grpcio %s, open loop, Poisson %.1f/s for %.0f s"
          % (grpc.__version__, a.rate, a.seconds))
    print("calls                  %d" % n)
    for name, v in (("enqueue_rpc", rpc_ms), ("start", start_ms),
                    ("  send_to_insert", to_created_ms), ("  insert_to_start", created_to_start_ms)):
        print("%-22s p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              % (name, pct(v, 0.5), pct(v, 0.99), max(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
