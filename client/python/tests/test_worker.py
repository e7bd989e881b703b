"""The Python worker against a real cueballd: the py.greet example as a
process, concurrency up to the slots, errors as failed attempts, the step
services, cancellation, SIGTERM drains, and definitions compared."""

import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

import cueball
from conftest import ROOT, wait_until


def serve(worker):
    worker.start()
    return worker


def test_the_greet_example_runs_end_to_end_and_stops_on_sigterm(daemon, client):
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "examples/python/worker.py"), "--server", daemon.address],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Enqueue first: the type is known once the worker registered it.
        assert wait_until(lambda: any(t.name == "py.greet" for t in client.workflow_types()))
        run = client.enqueue("py.greet", {"name": "ada"})
        runs, ok = client.wait([run.id], timeout=30)
        assert ok and runs[0].status == "succeeded"
        assert runs[0].result == "HELLO, ADA"
        assert runs[0].state == {"greeting": "hello, ada"}
        bad = client.enqueue("py.greet", {})
        runs, _ = client.wait([bad.id], timeout=30)
        assert runs[0].status == "failed" and "input.name" in runs[0].error
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped worker_id=" in out


def test_steps_run_concurrently_up_to_the_slots(client):
    worker = cueball.Worker(client, slots=4, poll_wait=1.0)
    wf = worker.workflow("py.parallel")
    lock = threading.Lock()
    now = {"running": 0, "most": 0}
    release = threading.Event()

    @wf.step("hold")
    def hold(ctx):
        with lock:
            now["running"] += 1
            now["most"] = max(now["most"], now["running"])
        release.wait(30)
        with lock:
            now["running"] -= 1

    serve(worker)
    try:
        ids = [r.id for r in client.enqueue_batch([("py.parallel", {})] * 6)]
        assert wait_until(lambda: now["most"] == 4)
        release.set()
        runs, ok = client.wait(ids, timeout=60)
        assert ok and all(r.status == "succeeded" for r in runs)
        assert now["most"] == 4  # never more than the slots
    finally:
        release.set()
        worker.stop()
        worker.join()


def test_errors_are_failed_attempts_and_permanent_errors_fail_the_run(client):
    worker = cueball.Worker(client, slots=2, poll_wait=1.0)
    wf = worker.workflow("py.errors")

    @wf.step("try", retry=cueball.Retry(max_attempts=3, backoff="fixed", initial=0.05, max=0.05))
    def attempt(ctx):
        if ctx.input.get("permanent"):
            raise cueball.PermanentError("will never work")
        if ctx.attempt == 1:
            raise KeyError("boom")
        if ctx.attempt == 2:
            raise cueball.RetryableError("later", delay=0.05)
        return {"attempt": ctx.attempt}

    serve(worker)
    try:
        ok_run = client.enqueue("py.errors", {})
        bad_run = client.enqueue("py.errors", {"permanent": True})
        runs, done = client.wait([ok_run.id, bad_run.id], timeout=30)
        assert done
        assert runs[0].status == "succeeded" and runs[0].result == {"attempt": 3}
        errors = [e.data.get("error") for e in client.get(ok_run.id, history=True).history if e.kind == "step_failed"]
        assert "step raised KeyError" in errors[0] and errors[1] == "later"
        assert runs[1].status == "failed" and runs[1].error == "will never work"
    finally:
        worker.stop()
        worker.join()


def test_signals_children_blobs_and_outcomes(client):
    worker = cueball.Worker(client, slots=2, poll_wait=1.0)
    wf = worker.workflow("py.services")

    @wf.step("approve")
    def approve(ctx):
        sig = ctx.take_signal("approve")
        if sig is None:
            return cueball.WaitForSignal("approve", timeout=60)
        ctx.save_blob("note.txt", "approved by " + sig.payload["by"], "text/plain")
        ctx.state["child"] = ctx.enqueue_child("audit", "noop", {"from": ctx.run_id})
        return cueball.WaitForRuns([ctx.state["child"]]) if ctx.woke != "runs" else None

    @wf.step("finish")
    def finish(ctx):
        child = ctx.get_runs([ctx.state["child"]])[0]
        note = ctx.load_blob("note.txt")
        return cueball.Complete({"child": child.status, "note": note.data.decode()})

    serve(worker)
    try:
        run = client.enqueue("py.services")
        assert wait_until(lambda: client.get(run.id).status == "waiting")
        client.signal(run.id, "approve", {"by": "lin"})
        runs, ok = client.wait([run.id], timeout=30)
        assert ok and runs[0].status == "succeeded", runs[0].error
        assert runs[0].result == {"child": "succeeded", "note": "approved by lin"}
        assert len(client.get(run.id).children) == 1
    finally:
        worker.stop()
        worker.join()


def test_the_fraud_check_example_waits_for_its_signal(daemon, client):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "examples/python/fraud_check.py"), "--server", daemon.address],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until(lambda: any(t.name == "py.payment" for t in client.workflow_types()))
        run = client.enqueue("py.payment", {"amount_cents": 1200, "card": "4000000000000003"})
        assert wait_until(lambda: client.get(run.id).status == "waiting")
        assert client.get(run.id).wait["signal"] == "fraud_check"
        client.signal(run.id, "fraud_check", {"approved": True})
        runs, ok = client.wait([run.id], timeout=30)
        assert ok and runs[0].status == "succeeded"
        assert runs[0].result == {"payment_id": runs[0].state["payment_id"], "captured_cents": 1200, "fraud_check": "approved"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_cancel_reaches_a_running_step(client):
    worker = cueball.Worker(client, slots=1, lease=1.5, poll_wait=1.0)
    wf = worker.workflow("py.long")
    seen = {}

    @wf.step("wait")
    def wait(ctx):
        seen["started"] = True
        while not ctx.wait_cancelled(0.05):
            pass
        seen["cancelled"] = True

    serve(worker)
    try:
        run = client.enqueue("py.long")
        assert wait_until(lambda: seen.get("started"))
        client.cancel(run.id)
        assert wait_until(lambda: seen.get("cancelled"))
        assert client.get(run.id).status == "canceled"
    finally:
        worker.stop()
        worker.join()


def test_stop_drains_running_steps_and_gives_back_the_rest(client):
    worker = cueball.Worker(client, slots=2, poll_wait=1.0, grace=0.5)
    wf = worker.workflow("py.drain")
    gate = threading.Event()

    @wf.step("work")
    def work(ctx):
        if ctx.input.get("stuck"):
            gate.wait(30)  # ignores cancellation past the grace period
            return "late"
        time.sleep(0.2)
        return "done"

    serve(worker)
    quick = client.enqueue("py.drain", {})
    stuck = client.enqueue("py.drain", {"stuck": True})
    assert wait_until(lambda: client.get(stuck.id).status == "running" and client.get(quick.id).status != "enqueued")
    worker.stop()
    worker.join()
    gate.set()
    assert wait_until(lambda: client.get(quick.id).status == "succeeded")
    # Given back unstarted: enqueued again, its attempt not used.
    after = client.get(stuck.id, history=True)
    assert after.status == "enqueued"
    assert after.attempt == 0
    # A new worker finishes it.
    again = cueball.Worker(client, slots=1, poll_wait=1.0)
    wf2 = again.workflow("py.drain")
    wf2.step("work")(lambda ctx: "second")
    serve(again)
    try:
        runs, ok = client.wait([stuck.id], timeout=30)
        assert ok and runs[0].result == "second"
    finally:
        again.stop()
        again.join()


def test_a_different_definition_is_refused_while_a_live_worker_serves_the_stored_one(client):
    first = cueball.Worker(client, slots=1, poll_wait=1.0)
    wf = first.workflow("py.defs")
    wf.step("a")(lambda ctx: None)
    wf.step("b")(lambda ctx: None)
    serve(first)
    try:
        other = cueball.Worker(client, slots=1)
        wf2 = other.workflow("py.defs")
        wf2.step("a")(lambda ctx: None)
        wf2.step("c")(lambda ctx: None)
        with pytest.raises(cueball.CallError) as e:
            other.start()
        assert e.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "step 2 is 'b' in the stored definition, 'c' here" in e.value.message
        bad = cueball.Worker(client, slots=0)
        bad.workflow("py.zero").step("a")(lambda ctx: None)
        with pytest.raises(cueball.CallError) as e:
            bad.start()
        assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "slots" in e.value.message
    finally:
        first.stop()
        first.join()


def test_sleep_defer_and_a_wait_that_times_out_are_decided_by_the_engine(client):
    worker = cueball.Worker(client, slots=2, poll_wait=1.0)
    wf = worker.workflow("py.timers")
    calls = {"nap": 0}

    @wf.step("nap")
    def nap(ctx):
        calls["nap"] += 1
        return cueball.Sleep(0.3, result={"napped": True})

    @wf.step("later")
    def later(ctx):
        if not ctx.state.get("deferred"):
            ctx.state["deferred"] = True
            return cueball.Defer(0.2)
        return "after defer"

    @wf.step("sig", retry=cueball.Retry(max_attempts=1))
    def sig(ctx):
        if ctx.take_signal("never") is None:
            return cueball.WaitForSignal("never", timeout=0.3)
        return "got it"

    serve(worker)
    try:
        run = client.enqueue("py.timers")
        runs, ok = client.wait([run.id], timeout=30)
        assert ok and runs[0].status == "failed"
        assert runs[0].error == "step 'sig' timed out waiting for signal 'never'"
        history = client.get(run.id, history=True).history
        kinds = [(e.kind, e.step) for e in history]
        # The timer ends "nap" as it said, without calling it again.
        assert calls["nap"] == 1
        assert ("step_waiting", "nap") in kinds and ("run_woken", "nap") in kinds
        assert [e.data for e in history if e.kind == "step_succeeded" and e.step == "nap"] == [
            {"result": {"napped": True}}
        ]
        assert ("step_deferred", "later") in kinds and ("step_succeeded", "later") in kinds
        assert runs[0].state["deferred"] is True
    finally:
        worker.stop()
        worker.join()
