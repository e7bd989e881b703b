"""The Python client against a real cueballd: every call, and bad input."""

import time

import grpc
import pytest

import cueball
from conftest import wait_until


def test_enqueue_get_wait_and_list(client):
    run = client.enqueue("noop", {"n": 1})
    assert run.workflow_type == "noop" and run.input == {"n": 1}
    runs, ok = client.wait([run.id], timeout=30)
    assert ok and runs[0].status == "succeeded" and runs[0].finished
    got = client.get(run.id, history=True)
    kinds = [e.kind for e in got.history]
    assert kinds[0] == "enqueued" and kinds[-1] == "run_succeeded"
    page, _ = client.list(workflow_type="noop", status="succeeded")
    assert run.id in [r.id for r in page]


def test_idempotent_enqueue_and_batches(client):
    a = client.enqueue("noop", {}, idempotency_key="order-7")
    b = client.enqueue("noop", {}, idempotency_key="order-7")
    assert a.id == b.id
    batch = client.enqueue_batch([("noop", {"i": i}) for i in range(5)] + [{"workflow_type": "noop", "priority": 3}])
    assert len(batch) == 6 and batch[5].priority == 3
    runs, ok = client.wait([r.id for r in batch], timeout=30)
    assert ok and all(r.status == "succeeded" for r in runs)


def test_cancel_retry_and_signal(client):
    held = client.enqueue("noop", delay=3600)
    canceled = client.cancel(held.id, "not needed")
    assert canceled.status == "canceled"
    failing = client.enqueue("demo.flaky", {"permanent": True})
    runs, ok = client.wait([failing.id], timeout=30)
    assert ok and runs[0].status == "failed" and "permanent failure" in runs[0].error, runs[0]
    again = client.retry(failing.id)
    assert again.status == "enqueued"
    waiting = client.enqueue("demo.signal")
    assert wait_until(lambda: client.get(waiting.id).status == "waiting")
    seq, duplicate, resumed = client.signal(waiting.id, "go", {"ok": True}, idempotency_key="s1")
    assert seq >= 1 and not duplicate and resumed
    assert client.signal(waiting.id, "go", {"ok": True}, idempotency_key="s1")[1]


def test_watch_follows_the_event_stream(client):
    run = client.enqueue("noop")
    client.wait([run.id], timeout=30)
    seen = []
    for e in client.watch(after_position=0, run_id=run.id):
        seen.append(e.kind)
        if e.kind == "run_succeeded":
            break
    assert seen[0] == "enqueued" and seen[-1] == "run_succeeded"


def test_bad_input_is_a_call_error_naming_the_field(client):
    with pytest.raises(cueball.CallError) as e:
        client.enqueue("no.such.type")
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT or e.value.code == grpc.StatusCode.NOT_FOUND
    assert "workflow_type" in e.value.message
    with pytest.raises(cueball.CallError) as e:
        client.enqueue("noop", priority=5000)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "priority" in e.value.message
    with pytest.raises(cueball.CallError) as e:
        client.get("not-a-uuid")
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and "id" in e.value.message
    with pytest.raises(ValueError):
        client.list(status="sleeping")


def test_tags_bulk_actions_and_queues(client):
    failing = [client.enqueue("demo.flaky", {"permanent": True}, tags={"team": "py", "n": str(i)}) for i in range(3)]
    runs, ok = client.wait([r.id for r in failing], timeout=30)
    assert ok and all(r.status == "failed" for r in runs)
    assert client.get(failing[0].id).tags == {"team": "py", "n": "0"}
    page, _ = client.list(tags={"team": "py"}, status="failed")
    assert sorted(r.id for r in page) == sorted(r.id for r in failing)
    assert [r.id for r in client.list(tags={"team": "py", "n": "1"})[0]] == [failing[1].id]
    assert client.retry_runs(tags={"team": "py"}, dry_run=True) == 3
    assert client.retry_runs(tags={"team": "py"}, reason="from python") == 3
    history = client.get(failing[2].id, history=True).history
    assert any(e.kind == "run_retried" and e.data == {"reason": "from python"} for e in history)

    held = client.enqueue("noop", delay=3600, tags={"team": "held"})
    assert client.cancel_runs(tags={"team": "held"}) == 1
    assert client.get(held.id).status == "canceled"

    client.pause_queue("default", reason="python test")
    queues = {q.name: q for q in client.queues()}
    assert queues["default"].paused and queues["default"].pause_reason == "python test"
    parked = client.enqueue("noop")
    time.sleep(1)
    assert client.get(parked.id).status == "enqueued"
    assert not client.resume_queue("default").paused
    runs, ok = client.wait([parked.id], timeout=30)
    assert ok and runs[0].status == "succeeded"

    with pytest.raises(cueball.CallError) as e:
        client.retry_runs()
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.message.startswith("filter: empty")
    with pytest.raises(cueball.CallError) as e:
        client.cancel_runs(tags={"team": "nobody"})
    assert e.value.code == grpc.StatusCode.NOT_FOUND and e.value.message.startswith("filter:")
    with pytest.raises(cueball.CallError) as e:
        client.enqueue("noop", tags={"bad key": "x"})
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.message.startswith("tags: key")
    with pytest.raises(cueball.CallError) as e:
        client.pause_queue("nosuch")
    assert e.value.code == grpc.StatusCode.NOT_FOUND and "queue" in e.value.message
    with pytest.raises(TypeError):
        client.cancel_runs(colour="red")


def test_schedules(client):
    s = client.create_schedule("py-nightly", "30 2 * * *", "noop", {"report": True}, timezone="Europe/Berlin",
                               tags={"team": "py"})
    assert s.name == "py-nightly" and s.timezone == "Europe/Berlin" and s.catch_up == "one"
    assert s.next_at.ToDatetime().minute == 30
    assert [x.name for x in client.schedules()] == ["py-nightly"]
    assert client.pause_schedule("py-nightly").paused
    assert not client.resume_schedule("py-nightly").paused
    with pytest.raises(cueball.CallError) as e:
        client.create_schedule("py-bad", "61 * * * *", "noop")
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.message.startswith("cron: minute field")
    with pytest.raises(cueball.CallError) as e:
        client.create_schedule("py-bad", "* * * * *", "noop", timezone="Nowhere/City")
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.message.startswith("timezone:")
    client.delete_schedule("py-nightly")
    assert client.schedules() == []
    with pytest.raises(cueball.CallError) as e:
        client.delete_schedule("py-nightly")
    assert e.value.code == grpc.StatusCode.NOT_FOUND


def test_run_deadline(client):
    run = client.enqueue("demo.sleep", {"ms": 600000}, timeout=1.0, deadline_action="cancel")
    assert run.deadline is not None and run.deadline_action == "cancel"
    runs, ok = client.wait([run.id], timeout=30)
    assert ok and runs[0].status == "canceled" and runs[0].error.startswith("deadline passed")
    with pytest.raises(cueball.CallError) as e:
        client.enqueue("noop", timeout=-1)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and e.value.message.startswith("timeout:")
