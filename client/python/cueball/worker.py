"""The cueball worker: runs workflow steps in this process for cueballd,
over cueball.v1.Workers.

A worker registers the workflow types it serves (their steps, retry
policies and timeouts), long-polls for attempts up to its free slots, runs
each step function on a thread of its own (up to `slots` at once), sends
outcomes in batches, and heartbeats the leases it holds on a thread of its
own: a run canceled meanwhile, or a lease lost, sets the step's
ctx.cancelled. A step function's exception is a failed attempt, never a
dead worker. On SIGTERM or SIGINT (or stop()), it stops polling, gives the
attempts it has not started back, lets running steps finish for a grace
period, then gives theirs back too.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import grpc

from cueball.client import (
    Blob,
    CallError,
    Client,
    Run,
    Signal,
    _duration,
    _json_text,
    _parse,
    _time,
    _timestamp,
)
from cueball.outcomes import (
    Complete,
    Defer,
    Next,
    PermanentError,
    Release,
    RetryableError,
    Sleep,
    WaitForRuns,
    WaitForSignal,
    _until,
)
from cueball.v1 import workers_pb2, workflows_pb2

log = logging.getLogger("cueball.worker")

StepFunction = Callable[["StepContext"], Any]


@dataclass
class Retry:
    """A step's retry policy: `max_attempts` in all (1: no retry), with
    exponential backoff (full jitter, from `initial` seconds doubling up to
    `max`) or fixed (`initial` seconds every time)."""

    max_attempts: int = 3
    backoff: str = "exponential"
    initial: float = 1.0
    max: float = 60.0

    def to_proto(self) -> workflows_pb2.RetryPolicy:
        p = workflows_pb2.RetryPolicy(max_attempts=self.max_attempts, backoff=self.backoff)
        p.initial_delay.CopyFrom(_duration(self.initial))
        p.max_delay.CopyFrom(_duration(self.max))
        return p


class StepContext:
    """What a step function gets: its run's input, the state it may change
    (saved with its outcome, seen by the next step), the attempt, whether
    it was cancelled, and the step services (signals, child runs, other
    runs, blobs), each fenced by the attempt's lease."""

    def __init__(self, worker: "Worker", attempt: workers_pb2.StepAttempt, cancelled: threading.Event):
        self._worker = worker
        self._attempt = attempt
        self._cancelled = cancelled
        self.run_id: str = attempt.run_id
        self.workflow_type: str = attempt.workflow_type
        self.queue: str = attempt.queue
        self.step: str = attempt.step
        self.step_index: int = attempt.step_index
        self.attempt: int = attempt.attempt
        self.priority: int = attempt.priority
        self.woke: str = attempt.woke  # "signal" or "runs" after a wait; else ""
        self.deadline: float = attempt.deadline.seconds + attempt.deadline.nanos / 1e9
        self.input: Any = _parse(attempt.input)
        state = _parse(attempt.state)
        self.state: Any = state if state is not None else {}

    @property
    def lease_token(self) -> str:
        return self._attempt.lease_token

    @property
    def cancelled(self) -> bool:
        """True once the run was canceled, the lease lost, the step's
        deadline passed, or the worker is stopping: finish soon."""
        return self._cancelled.is_set() or time.time() > self.deadline

    def wait_cancelled(self, timeout: float) -> bool:
        """Sleeps up to `timeout` seconds, waking early on cancellation."""
        return self._cancelled.wait(max(0.0, min(timeout, self.deadline - time.time())))

    def _call(self, method: Any, name: str, request: Any) -> Any:
        return self._worker.client.call(method, name, request)

    def take_signal(self, name: str) -> Optional[Signal]:
        """The signal `name` bound to this step (the oldest one buffered,
        bound for good; the same one when the step runs again), or None
        when none has arrived: then return WaitForSignal(name)."""
        w = self._worker.client.workers
        resp = self._call(
            w.TakeSignal, "TakeSignal", workers_pb2.TakeSignalRequest(lease_token=self.lease_token, name=name)
        )
        if not resp.found:
            return None
        return Signal(resp.seq, resp.name, _parse(resp.payload), _time(resp.received_at))

    def enqueue_child(
        self, key: str, workflow_type: str, input: Any = None, queue: str = "", priority: int = 0
    ) -> str:
        """Enqueues a child run of this run, once per key (a step that runs
        again gets the same child). Returns its id."""
        w = self._worker.client.workers
        resp = self._call(
            w.EnqueueChild,
            "EnqueueChild",
            workers_pb2.EnqueueChildRequest(
                lease_token=self.lease_token,
                key=key,
                workflow_type=workflow_type,
                input="" if input is None else _json_text(input),
                queue=queue,
                priority=priority,
            ),
        )
        return resp.run_id

    def get_runs(self, run_ids: Sequence[str]) -> List[Run]:
        w = self._worker.client.workers
        resp = self._call(
            w.GetRuns, "GetRuns", workers_pb2.GetRunsRequest(lease_token=self.lease_token, run_ids=list(run_ids))
        )
        return [Run.from_proto(r) for r in resp.runs]

    def save_blob(self, name: str, data: Any, content_type: str = "application/octet-stream") -> None:
        """Saves (or replaces) the run's artifact `name` (bytes or text)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        w = self._worker.client.workers
        self._call(
            w.SaveBlob,
            "SaveBlob",
            workers_pb2.SaveBlobRequest(
                lease_token=self.lease_token, name=name, data=data, content_type=content_type
            ),
        )

    def load_blob(self, name: str) -> Optional[Blob]:
        w = self._worker.client.workers
        resp = self._call(
            w.LoadBlob, "LoadBlob", workers_pb2.LoadBlobRequest(lease_token=self.lease_token, name=name)
        )
        if not resp.found:
            return None
        return Blob(resp.name, resp.content_type, resp.data, _time(resp.updated_at))


class Workflow:
    """A workflow type this worker serves: its steps, in the order they
    are declared. For a type a daemon's workflow file defines, declare only
    its `kind: remote` steps (by name; leave retry and timeout to the file)."""

    def __init__(self, name: str, description: str = ""):
        self.name = name
        self.description = description
        self.steps: List[tuple] = []  # (name, fn, retry, timeout)

    def step(
        self, name: Optional[str] = None, *, retry: Optional[Retry] = None, timeout: Optional[float] = None
    ) -> Callable[[StepFunction], StepFunction]:
        """Declares the next step: `@wf.step("charge", retry=Retry(5), timeout=30)`.
        The name defaults to the function's."""

        def register(fn: StepFunction) -> StepFunction:
            step_name = name or fn.__name__
            if any(s[0] == step_name for s in self.steps):
                raise ValueError(f"workflow {self.name!r}: step {step_name!r} is declared twice")
            self.steps.append((step_name, fn, retry, timeout))
            return fn

        return register

    def to_proto(self) -> workers_pb2.WorkflowDefinition:
        d = workers_pb2.WorkflowDefinition(name=self.name, description=self.description)
        for name, _, retry, timeout in self.steps:
            s = d.steps.add(name=name)
            if retry is not None:
                s.retry.CopyFrom(retry.to_proto())
            if timeout is not None:
                s.timeout.CopyFrom(_duration(timeout))
        return d


class _Held:
    __slots__ = ("cancelled", "given_back")

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.given_back = False


def _backoff(failures: int) -> float:
    return random.uniform(0, min(5.0, 0.1 * (2 ** min(failures, 6))))


class Worker:
    """Serves workflow steps for cueballd.

    slots: steps run at once (threads). lease: seconds an attempt's lease
    lasts without a heartbeat (heartbeats come every third of it). grace:
    seconds running steps get to finish when the worker stops.
    """

    def __init__(
        self,
        client: Client,
        *,
        identity: Optional[str] = None,
        queues: Sequence[str] = (),
        slots: int = 8,
        lease: float = 30.0,
        poll_wait: float = 20.0,
        grace: float = 10.0,
        complete_batch: int = 500,
    ):
        self.client = client
        self.identity = identity or f"python@{socket.gethostname()}/{os.getpid()}"
        self.queues = list(queues)
        self.slots = slots
        self.lease = lease
        self.poll_wait = poll_wait
        self.grace = grace
        self.complete_batch = complete_batch
        self.worker_id = ""
        self.steps_done = 0
        self.outcomes_refused = 0
        self._workflows: Dict[str, Workflow] = {}
        self._functions: Dict[tuple, StepFunction] = {}
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)  # slots freed, or stopping
        self._busy = 0  # attempts waiting for a thread or running
        self._held: Dict[str, _Held] = {}
        self._work: "queue.SimpleQueue[Optional[workers_pb2.StepAttempt]]" = queue.SimpleQueue()
        self._outcomes: "queue.SimpleQueue[Optional[workers_pb2.StepOutcome]]" = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._poll_future: Any = None
        self._threads: List[threading.Thread] = []
        self._heartbeat_interval = lease / 3

    # -- declaring ---------------------------------------------------------------

    def workflow(self, name: str, description: str = "") -> Workflow:
        """A workflow type to serve; declare its steps with @wf.step(...)."""
        if name in self._workflows:
            return self._workflows[name]
        wf = Workflow(name, description)
        self._workflows[name] = wf
        return wf

    def add(self, wf: Workflow) -> Workflow:
        """Serves a Workflow declared on its own."""
        self._workflows[wf.name] = wf
        return wf

    # -- running -----------------------------------------------------------------

    def start(self) -> None:
        """Registers and starts serving on threads of its own; returns at once."""
        if not self._workflows:
            raise ValueError("declare at least one workflow before starting")
        for wf in self._workflows.values():
            if not wf.steps:
                raise ValueError(f"workflow {wf.name!r} has no steps")
            for name, fn, _, _ in wf.steps:
                self._functions[(wf.name, name)] = fn
        req = workers_pb2.RegisterWorkerRequest(identity=self.identity, queues=self.queues, slots=self.slots)
        req.lease.CopyFrom(_duration(self.lease))
        for wf in self._workflows.values():
            req.types.append(wf.to_proto())
        resp = self.client.call(self.client.workers.RegisterWorker, "RegisterWorker", req)
        self.worker_id = resp.worker_id
        hb = resp.heartbeat_interval.seconds + resp.heartbeat_interval.nanos / 1e9
        if hb > 0:
            self._heartbeat_interval = hb
        log.info("registered worker_id=%s identity=%s slots=%d", self.worker_id, self.identity, self.slots)
        targets = [self._poll_loop, self._heartbeat_loop, self._complete_loop, self._complete_loop]
        targets += [self._step_loop] * self.slots
        for i, t in enumerate(targets):
            th = threading.Thread(target=t, name=f"cueball-worker-{i}", daemon=True)
            th.start()
            self._threads.append(th)

    def run(self) -> None:
        """start(), then serve until SIGTERM or SIGINT (when called from the
        main thread) or stop(); then drain and return."""
        self.start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        while not self._stopping.wait(0.2):
            pass
        self.join()

    def stop(self) -> None:
        """Stops polling; join() (or run()) then drains. Safe from a signal handler."""
        self._stopping.set()
        f = self._poll_future
        if f is not None:
            f.cancel()
        with self._free:
            self._free.notify_all()

    def join(self) -> None:
        """After stop(): gives back what has not started, waits up to the
        grace period for running steps, gives back the rest, and ends."""
        self._stopping.wait()
        if self._stopped.is_set():
            return
        give_back: List[str] = []
        while True:  # attempts not started: back at once
            try:
                a = self._work.get_nowait()
            except queue.Empty:
                break
            if a is None:
                continue
            give_back.append(a.lease_token)
            with self._lock:
                self._busy -= 1
                h = self._held.get(a.lease_token)
                if h:
                    h.given_back = True
        deadline = time.monotonic() + self.grace
        with self._free:
            while self._busy > 0 and time.monotonic() < deadline:
                self._free.wait(deadline - time.monotonic())
            for token, h in self._held.items():
                if self._busy > 0 and not h.given_back:
                    h.cancelled.set()
        # Outcomes of finished steps go out before the rest is given back.
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            with self._lock:
                pending = [t for t, h in self._held.items() if not h.given_back]
                running = self._busy
            if not pending or (running > 0 and len(pending) <= running):
                break
            time.sleep(0.01)
        with self._lock:
            for token, h in self._held.items():
                if not h.given_back:
                    h.given_back = True
                    give_back.append(token)
        try:
            resp = self.client.call(
                self.client.workers.StopWorker,
                "StopWorker",
                workers_pb2.StopWorkerRequest(worker_id=self.worker_id, lease_tokens=give_back),
            )
            log.info("stopped worker_id=%s released=%d", self.worker_id, resp.released)
        except CallError as e:
            log.warning("StopWorker failed (the leases expire on their own): %s", e)
        self._stopped.set()
        for _ in range(self.slots):
            self._work.put(None)
        self._outcomes.put(None)
        self._outcomes.put(None)
        with self._free:
            self._free.notify_all()
        for th in self._threads:
            th.join(timeout=5.0)

    # -- threads -----------------------------------------------------------------

    def _poll_loop(self) -> None:
        failures = 0
        stub = self.client.workers
        while not self._stopping.is_set():
            with self._free:
                while self._busy >= self.slots and not self._stopping.is_set():
                    self._free.wait()
                if self._stopping.is_set():
                    return
                free = self.slots - self._busy
            req = workers_pb2.PollStepsRequest(worker_id=self.worker_id, max_steps=free)
            req.wait.CopyFrom(_duration(self.poll_wait))
            fut = stub.PollSteps.future(req, timeout=self.poll_wait + 10.0, metadata=self.client.metadata)
            self._poll_future = fut
            if self._stopping.is_set():
                fut.cancel()
            try:
                resp = fut.result()
            except grpc.FutureCancelledError:
                return
            except grpc.RpcError as e:
                if self._stopping.is_set():
                    return
                failures += 1
                log.warning("PollSteps failed: %s: %s", e.code().name, e.details())
                self._stopping.wait(_backoff(failures))
                continue
            finally:
                self._poll_future = None
            failures = 0
            if not resp.attempts:
                continue
            with self._lock:
                for a in resp.attempts:
                    self._held[a.lease_token] = _Held()
                self._busy += len(resp.attempts)
            for a in resp.attempts:
                self._work.put(a)

    def _step_loop(self) -> None:
        while True:
            a = self._work.get()
            if a is None:
                return
            with self._lock:
                h = self._held.get(a.lease_token)
            if h is None:
                h = _Held()
            outcome = self._run_step(a, h.cancelled)
            with self._free:
                self._busy -= 1
                self._free.notify_all()
                if h.cancelled.is_set() or h.given_back:
                    # Canceled, lost, or given back: its outcome would be refused.
                    self._held.pop(a.lease_token, None)
                    continue
            self._outcomes.put(outcome)

    def _run_step(self, a: workers_pb2.StepAttempt, cancelled: threading.Event) -> workers_pb2.StepOutcome:
        o = workers_pb2.StepOutcome(lease_token=a.lease_token)
        fn = self._functions.get((a.workflow_type, a.step))
        if fn is None:
            o.fail.error = f"this worker has no function for step {a.step!r} of {a.workflow_type!r}"
            return o
        ctx = StepContext(self, a, cancelled)
        try:
            value = fn(ctx)
            self._set_outcome(o, value)
        except RetryableError as e:
            o.retry.error = str(e) or type(e).__name__
            if e.delay is not None:
                o.retry.delay.CopyFrom(_duration(e.delay))
        except PermanentError as e:
            o.fail.error = str(e) or type(e).__name__
        except Exception as e:  # any other error is a failed attempt
            o.retry.error = f"step raised {type(e).__name__}: {e}"
        try:
            before = _parse(a.state)
            if ctx.state != (before if before is not None else {}):
                o.state = _json_text(ctx.state)
        except (TypeError, ValueError) as e:
            o.ClearField("outcome")
            o.fail.error = f"the step's state is not JSON: {e}"
        return o

    @staticmethod
    def _set_outcome(o: workers_pb2.StepOutcome, value: Any) -> None:
        try:
            if isinstance(value, Next) or not isinstance(
                value, (Complete, Defer, Sleep, WaitForSignal, WaitForRuns, Release)
            ):
                result = value.result if isinstance(value, Next) else value
                o.next.result = "" if result is None else _json_text(result)
            elif isinstance(value, Complete):
                o.complete.result = "" if value.result is None else _json_text(value.result)
            elif isinstance(value, Defer):
                o.defer.until.CopyFrom(_timestamp(_until(value.until)))
            elif isinstance(value, Sleep):
                o.sleep.until.CopyFrom(_timestamp(_until(value.until)))
                o.sleep.result = "" if value.result is None else _json_text(value.result)
            elif isinstance(value, WaitForSignal):
                o.wait_signal.name = value.name
                if value.timeout is not None:
                    o.wait_signal.timeout.CopyFrom(_duration(value.timeout))
            elif isinstance(value, WaitForRuns):
                o.wait_runs.run_ids.extend(value.run_ids)
                o.wait_runs.any = value.any
                if value.timeout is not None:
                    o.wait_runs.timeout.CopyFrom(_duration(value.timeout))
            elif isinstance(value, Release):
                o.release.reason = value.reason
        except (TypeError, ValueError) as e:
            o.ClearField("outcome")
            o.fail.error = f"the step's result is not JSON: {e}"

    def _complete_loop(self) -> None:
        stub = self.client.workers
        while True:
            first = self._outcomes.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.complete_batch:
                try:
                    nxt = self._outcomes.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._outcomes.put(None)  # for the other sender
                    break
                batch.append(nxt)
            req = workers_pb2.CompleteStepsRequest(worker_id=self.worker_id, outcomes=batch)
            resp = None
            for failures in range(9):
                try:
                    resp = stub.CompleteSteps(req, timeout=self.client.timeout, metadata=self.client.metadata)
                    break
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.UNAVAILABLE:
                        log.error("CompleteSteps refused: %s: %s", e.code().name, e.details())
                        break
                    time.sleep(_backoff(failures))
            with self._lock:
                for i, o in enumerate(batch):
                    self._held.pop(o.lease_token, None)
                    if resp is not None and i < len(resp.results) and resp.results[i].accepted:
                        self.steps_done += 1
                    else:
                        # Its lease expires; the daemons' rescuer retries the step.
                        self.outcomes_refused += 1
                        if resp is not None and i < len(resp.results):
                            log.warning("outcome refused: %s", resp.results[i].error)

    def _heartbeat_loop(self) -> None:
        stub = self.client.workers
        while not self._stopped.wait(self._heartbeat_interval):
            with self._lock:
                tokens = [t for t, h in self._held.items() if not h.given_back]
            req = workers_pb2.HeartbeatRequest(worker_id=self.worker_id, lease_tokens=tokens, in_flight=len(tokens))
            try:
                resp = stub.Heartbeat(req, timeout=self._heartbeat_interval, metadata=self.client.metadata)
            except grpc.RpcError as e:
                log.warning("Heartbeat failed: %s: %s", e.code().name, e.details())
                continue
            with self._lock:
                for c in resp.cancelled:
                    h = self._held.get(c.lease_token)
                    if h is not None:
                        h.cancelled.set()
                        log.info("attempt cancelled run=%s reason=%s", c.run_id, c.reason)
