"""The cueball client: enqueue, read, wait for, list, cancel, retry and
signal runs, and follow the event stream, over cueball.v1.Workflows.

JSON documents (input, state, results, payloads) go in and come out as
Python values. A refused call raises CallError with the daemon's status
code and message (which names the field at fault).
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from cueball.v1 import workers_pb2_grpc, workflows_pb2, workflows_pb2_grpc

_STATUS_NAMES = {
    workflows_pb2.RUN_STATUS_ENQUEUED: "enqueued",
    workflows_pb2.RUN_STATUS_RUNNING: "running",
    workflows_pb2.RUN_STATUS_WAITING: "waiting",
    workflows_pb2.RUN_STATUS_SUCCEEDED: "succeeded",
    workflows_pb2.RUN_STATUS_FAILED: "failed",
    workflows_pb2.RUN_STATUS_CANCELED: "canceled",
}
_STATUS_VALUES = {name: value for value, name in _STATUS_NAMES.items()}


class CallError(Exception):
    """A call the daemon refused (or could not be reached for)."""

    def __init__(self, method: str, error: grpc.RpcError):
        self.method = method
        self.code: grpc.StatusCode = error.code()
        self.message: str = error.details() or ""
        super().__init__(f"{method}: {self.code.name}: {self.message}")


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _time(ts: timestamp_pb2.Timestamp, present: bool = True) -> Optional[_dt.datetime]:
    if not present:
        return None
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, _dt.timezone.utc)


def _timestamp(when: Union[_dt.datetime, float, int]) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            raise ValueError("use an aware datetime (with tzinfo)")
        ts.FromDatetime(when.astimezone(_dt.timezone.utc).replace(tzinfo=None))
    else:
        ts.FromDatetime(
            (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=float(when))).replace(
                tzinfo=None
            )
        )
    return ts


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(float(seconds) * 1e9)))
    return d


@dataclass
class Event:
    seq: int
    position: int
    run_id: str
    kind: str
    step: str
    attempt: int
    data: Any
    created_at: Optional[_dt.datetime]
    workflow_type: str = ""

    @classmethod
    def from_proto(cls, e: workflows_pb2.Event) -> "Event":
        return cls(
            seq=e.seq,
            position=e.position,
            run_id=e.run_id,
            kind=e.kind,
            step=e.step,
            attempt=e.attempt,
            data=_parse(e.data),
            created_at=_time(e.created_at, e.HasField("created_at")),
            workflow_type=e.workflow_type,
        )


@dataclass
class Run:
    """A run as the daemon returned it."""

    id: str
    workflow_type: str
    queue: str
    priority: int
    status: str  # enqueued, running, waiting, succeeded, failed, canceled
    step: str
    step_index: int
    step_count: int
    attempt: int
    input: Any
    state: Any
    result: Any
    error: str
    idempotency_key: str
    created_at: Optional[_dt.datetime]
    updated_at: Optional[_dt.datetime]
    run_at: Optional[_dt.datetime]
    started_at: Optional[_dt.datetime]
    finished_at: Optional[_dt.datetime]
    parent_id: str = ""
    wait: Any = None
    unserved: bool = False
    tags: Dict[str, str] = field(default_factory=dict)
    deadline: Optional[_dt.datetime] = None
    deadline_action: str = ""
    history: List[Event] = field(default_factory=list)
    children: List[Tuple[str, str, str]] = field(default_factory=list)  # (id, type, status)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "canceled")

    @classmethod
    def from_proto(cls, r: workflows_pb2.Run) -> "Run":
        return cls(
            id=r.id,
            workflow_type=r.workflow_type,
            queue=r.queue,
            priority=r.priority,
            status=_STATUS_NAMES.get(r.status, "unknown"),
            step=r.step,
            step_index=r.step_index,
            step_count=r.step_count,
            attempt=r.attempt,
            input=_parse(r.input),
            state=_parse(r.state),
            result=_parse(r.result),
            error=r.error,
            idempotency_key=r.idempotency_key,
            created_at=_time(r.created_at, r.HasField("created_at")),
            updated_at=_time(r.updated_at, r.HasField("updated_at")),
            run_at=_time(r.run_at, r.HasField("run_at")),
            started_at=_time(r.started_at, r.HasField("started_at")),
            finished_at=_time(r.finished_at, r.HasField("finished_at")),
            parent_id=r.parent_id,
            wait=_parse(r.wait),
            unserved=r.unserved,
            tags=dict(r.tags),
            deadline=_time(r.deadline, r.HasField("deadline")),
            deadline_action=r.deadline_action,
            history=[Event.from_proto(e) for e in r.history],
            children=[(c.id, c.workflow_type, _STATUS_NAMES.get(c.status, "unknown")) for c in r.children],
        )


@dataclass
class Signal:
    seq: int
    name: str
    payload: Any
    received_at: Optional[_dt.datetime]


@dataclass
class Blob:
    name: str
    content_type: str
    data: bytes
    updated_at: Optional[_dt.datetime]


class Client:
    """A connection to a cueballd (thread-safe).

    target: HOST:PORT. token: a bearer token sent on every call. tls: use
    TLS (root_certificates: PEM bytes of the CA; client certificate and key
    for mutual TLS). timeout: seconds each call may take (Wait and the
    event stream have their own).
    """

    def __init__(
        self,
        target: str = "localhost:7420",
        *,
        token: Optional[str] = None,
        tls: bool = False,
        root_certificates: Optional[bytes] = None,
        certificate_chain: Optional[bytes] = None,
        private_key: Optional[bytes] = None,
        timeout: float = 30.0,
        options: Sequence[Tuple[str, Any]] = (),
    ):
        opts = [("grpc.max_receive_message_length", 64 << 20)] + list(options)
        if tls or root_certificates or certificate_chain:
            creds = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self.channel = grpc.secure_channel(target, creds, options=opts)
        else:
            self.channel = grpc.insecure_channel(target, options=opts)
        self.timeout = timeout
        self.metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", "Bearer " + token),) if token else ()
        )
        self.workflows = workflows_pb2_grpc.WorkflowsStub(self.channel)
        self.workers = workers_pb2_grpc.WorkersStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- calls -------------------------------------------------------------

    def call(self, stub_method: Any, name: str, request: Any, timeout: Optional[float] = None) -> Any:
        """One unary call with this client's metadata and deadline;
        CallError when refused."""
        try:
            return stub_method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as e:
            raise CallError(name, e) from None

    @staticmethod
    def _enqueue_request(
        workflow_type: str,
        input: Any = None,
        *,
        queue: str = "",
        priority: int = 0,
        idempotency_key: str = "",
        run_at: Union[_dt.datetime, None] = None,
        delay: Optional[float] = None,
        tags: Optional[Dict[str, str]] = None,
        deadline: Union[_dt.datetime, None] = None,
        timeout: Optional[float] = None,
        deadline_action: str = "",
    ) -> workflows_pb2.EnqueueRequest:
        req = workflows_pb2.EnqueueRequest(
            workflow_type=workflow_type,
            input="" if input is None else _json_text(input),
            queue=queue,
            priority=priority,
            idempotency_key=idempotency_key,
            tags=tags or {},
        )
        if run_at is not None:
            req.run_at.CopyFrom(_timestamp(run_at))
        if delay is not None:
            req.delay.CopyFrom(_duration(delay))
        if deadline is not None:
            req.deadline.CopyFrom(_timestamp(deadline))
        if timeout is not None:
            req.timeout.CopyFrom(_duration(timeout))
        req.deadline_action = deadline_action
        return req

    def enqueue(self, workflow_type: str, input: Any = None, **kwargs: Any) -> Run:
        """Enqueues one run. kwargs: queue, priority, idempotency_key,
        run_at (aware datetime), delay (seconds), tags (dict of str),
        deadline (aware datetime) or timeout (seconds) for the whole run, and
        deadline_action ("fail" or "cancel"). With an idempotency key, the
        same key returns the same run."""
        resp = self.call(
            self.workflows.Enqueue, "Enqueue", self._enqueue_request(workflow_type, input, **kwargs)
        )
        return Run.from_proto(resp.run)

    def enqueue_batch(self, runs: Iterable[Union[Dict[str, Any], Tuple[str, Any]]]) -> List[Run]:
        """Enqueues 1..1000 runs in one transaction (all or none). Each is
        a (type, input) pair or a dict of enqueue's arguments."""
        req = workflows_pb2.EnqueueBatchRequest()
        for r in runs:
            if isinstance(r, dict):
                r = dict(r)
                req.runs.append(self._enqueue_request(r.pop("workflow_type"), r.pop("input", None), **r))
            else:
                req.runs.append(self._enqueue_request(r[0], r[1] if len(r) > 1 else None))
        resp = self.call(self.workflows.EnqueueBatch, "EnqueueBatch", req)
        return [Run.from_proto(e.run) for e in resp.runs]

    def get(self, run_id: str, history: bool = False) -> Run:
        resp = self.call(
            self.workflows.Get, "Get", workflows_pb2.GetRequest(id=run_id, include_history=history)
        )
        return Run.from_proto(resp.run)

    def wait(
        self, run_ids: Sequence[str], *, any: bool = False, timeout: float = 60.0
    ) -> Tuple[List[Run], bool]:
        """Blocks until all (or any) of the runs finished, or `timeout`
        seconds passed. Returns the runs and whether the wait was satisfied."""
        req = workflows_pb2.WaitRequest(
            ids=list(run_ids),
            mode=workflows_pb2.WAIT_MODE_ANY if any else workflows_pb2.WAIT_MODE_ALL,
        )
        req.timeout.CopyFrom(_duration(timeout))
        resp = self.call(self.workflows.Wait, "Wait", req, timeout=timeout + self.timeout)
        return [Run.from_proto(r) for r in resp.runs], resp.satisfied

    @staticmethod
    def _filter(message: Any, filters: Dict[str, Any]) -> Any:
        """Fills a ListRequest's or RunFilter's filter fields: workflow_type,
        status (a name or names), queue, created_after, created_before (aware
        datetimes), tags (dict), idempotency_key."""
        unknown = set(filters) - {
            "workflow_type", "status", "queue", "created_after", "created_before", "tags",
            "idempotency_key",
        }
        if unknown:
            raise TypeError(f"unknown filter field(s): {', '.join(sorted(unknown))}")
        message.workflow_type = filters.get("workflow_type", "")
        message.queue = filters.get("queue", "")
        message.idempotency_key = filters.get("idempotency_key", "")
        status = filters.get("status")
        for s in [status] if isinstance(status, str) else list(status or []):
            if s not in _STATUS_VALUES:
                raise ValueError(f"status: {s!r} is not one of {', '.join(_STATUS_VALUES)}")
            message.statuses.append(_STATUS_VALUES[s])
        if filters.get("created_after") is not None:
            message.created_after.CopyFrom(_timestamp(filters["created_after"]))
        if filters.get("created_before") is not None:
            message.created_before.CopyFrom(_timestamp(filters["created_before"]))
        message.tags.update(filters.get("tags") or {})
        return message

    def list(self, *, page_size: int = 0, page_token: str = "", **filters: Any) -> Tuple[List[Run], str]:
        """One page of runs, newest first, and the token of the next page
        ("" at the end). Filters: workflow_type, status, queue,
        created_after, created_before, tags, idempotency_key."""
        req = self._filter(workflows_pb2.ListRequest(page_size=page_size, page_token=page_token), filters)
        resp = self.call(self.workflows.List, "List", req)
        return [Run.from_proto(r) for r in resp.runs], resp.next_page_token

    def cancel_runs(
        self, *, all: bool = False, dry_run: bool = False, reason: str = "", timeout: float = 3600,
        **filters: Any,
    ) -> int:
        """Cancels every unfinished run the filters match (all=True with no
        filter: every one), in batches; returns how many (a dry run only
        counts). CallError NOT_FOUND when none matches."""
        req = workflows_pb2.CancelRunsRequest(all=all, dry_run=dry_run, reason=reason)
        self._filter(req.filter, filters)
        return self.call(self.workflows.CancelRuns, "CancelRuns", req, timeout=timeout).count

    def retry_runs(
        self, *, all: bool = False, dry_run: bool = False, reason: str = "", timeout: float = 3600,
        **filters: Any,
    ) -> int:
        """Retries every failed run the filters match, as cancel_runs does."""
        req = workflows_pb2.RetryRunsRequest(all=all, dry_run=dry_run, reason=reason)
        self._filter(req.filter, filters)
        return self.call(self.workflows.RetryRuns, "RetryRuns", req, timeout=timeout).count

    def queues(self) -> List[Any]:
        """Every known queue (cueball.v1.Queue): depth, running, waiting,
        paused state."""
        return list(self.call(self.workflows.ListQueues, "ListQueues", workflows_pb2.ListQueuesRequest()).queues)

    def pause_queue(self, queue: str, reason: str = "") -> Any:
        """Pauses a queue: nothing of it starts, on any daemon or worker."""
        req = workflows_pb2.PauseQueueRequest(queue=queue, reason=reason)
        return self.call(self.workflows.PauseQueue, "PauseQueue", req).queue

    def resume_queue(self, queue: str) -> Any:
        req = workflows_pb2.ResumeQueueRequest(queue=queue)
        return self.call(self.workflows.ResumeQueue, "ResumeQueue", req).queue

    def create_schedule(
        self,
        name: str,
        cron: str,
        workflow_type: str,
        input: Any = None,
        *,
        timezone: str = "UTC",
        queue: str = "",
        priority: int = 0,
        tags: Optional[Dict[str, str]] = None,
        catch_up: str = "one",
    ) -> Any:
        """A cron schedule: each tick enqueues exactly one run of
        workflow_type (cueball.v1.Schedule back, with next_at)."""
        schedule = workflows_pb2.Schedule(
            name=name, cron=cron, timezone=timezone, workflow_type=workflow_type,
            input="" if input is None else _json_text(input), queue=queue, priority=priority,
            tags=tags or {}, catch_up=catch_up,
        )
        req = workflows_pb2.CreateScheduleRequest(schedule=schedule)
        return self.call(self.workflows.CreateSchedule, "CreateSchedule", req).schedule

    def schedules(self) -> List[Any]:
        req = workflows_pb2.ListSchedulesRequest()
        return list(self.call(self.workflows.ListSchedules, "ListSchedules", req).schedules)

    def pause_schedule(self, name: str) -> Any:
        req = workflows_pb2.PauseScheduleRequest(name=name)
        return self.call(self.workflows.PauseSchedule, "PauseSchedule", req).schedule

    def resume_schedule(self, name: str) -> Any:
        req = workflows_pb2.ResumeScheduleRequest(name=name)
        return self.call(self.workflows.ResumeSchedule, "ResumeSchedule", req).schedule

    def delete_schedule(self, name: str) -> None:
        req = workflows_pb2.DeleteScheduleRequest(name=name)
        self.call(self.workflows.DeleteSchedule, "DeleteSchedule", req)

    def cancel(self, run_id: str, reason: str = "") -> Run:
        resp = self.call(
            self.workflows.Cancel, "Cancel", workflows_pb2.CancelRequest(id=run_id, reason=reason)
        )
        return Run.from_proto(resp.run)

    def retry(self, run_id: str, reason: str = "") -> Run:
        resp = self.call(
            self.workflows.Retry, "Retry", workflows_pb2.RetryRequest(id=run_id, reason=reason)
        )
        return Run.from_proto(resp.run)

    def signal(
        self, run_id: str, name: str, payload: Any = None, idempotency_key: str = ""
    ) -> Tuple[int, bool, bool]:
        """Sends a signal. Returns (seq, duplicate, resumed)."""
        resp = self.call(
            self.workflows.Signal,
            "Signal",
            workflows_pb2.SignalRequest(
                run_id=run_id,
                name=name,
                payload="" if payload is None else _json_text(payload),
                idempotency_key=idempotency_key,
            ),
        )
        return resp.seq, resp.duplicate, resp.resumed

    def workflow_types(self) -> List[Any]:
        return list(
            self.call(
                self.workflows.ListWorkflowTypes,
                "ListWorkflowTypes",
                workflows_pb2.ListWorkflowTypesRequest(),
            ).types
        )

    def watch(
        self,
        *,
        after_position: Optional[int] = None,
        from_now: bool = False,
        subscription: str = "",
        run_id: str = "",
        workflow_type: str = "",
        kinds: Sequence[str] = (),
        reconnect: bool = True,
    ) -> Iterator[Event]:
        """Follows the event stream: every event in position order, history
        then live, with no gap and no duplicate. With `reconnect`, a broken
        stream is reopened after the last position seen. Stop by leaving the
        loop (or closing the generator)."""
        position = after_position
        backoff = 0.1
        while True:
            req = workflows_pb2.WatchEventsRequest(
                run_id=run_id, workflow_type=workflow_type, kinds=list(kinds)
            )
            if position is not None:
                req.after_position = position
            elif subscription:
                req.subscription = subscription
            elif from_now:
                req.from_now = True
            stream = self.workflows.WatchEvents(req, metadata=self.metadata)
            try:
                for batch in stream:
                    backoff = 0.1
                    for e in batch.events:
                        yield Event.from_proto(e)
                    position = batch.through
            except grpc.RpcError as e:
                if not reconnect or e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise CallError("WatchEvents", e) from None
                time.sleep(random.uniform(0, backoff))
                backoff = min(5.0, backoff * 2)
            finally:
                stream.cancel()

    def ack(self, subscription: str, position: int) -> None:
        """Records that a durable subscription processed events up to `position`."""
        self.call(
            self.workflows.AckEvents,
            "AckEvents",
            workflows_pb2.AckEventsRequest(subscription=subscription, position=position),
        )
