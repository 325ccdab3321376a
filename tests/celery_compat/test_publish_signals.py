"""``before_task_publish``/``after_task_publish`` on the pynenc path, side by side with
Celery's: the same compat task, switched back (Celery's own ``send_task`` on memory://)
and forward (pynenc), must give handlers the same payloads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import signals
from kombu import Exchange, Queue

from pynenc_celery_compat import AsyncResult, publish, routing
from tests.celery_compat import publish_tasks as tasks

Sent = list[tuple[str, dict[str, Any]]]
#: headers whose values differ between two calls by nature (ids, clock readings)
MOVING = {"id", "root_id", "eta", "expires"}


@pytest.fixture
def sent() -> Iterator[Sent]:
    """Every publish signal sent during the test: (name, payload without ``signal``)."""
    seen: Sent = []

    def before(signal: Any = None, **payload: Any) -> None:
        seen.append(("before", payload))

    def after(signal: Any = None, **payload: Any) -> None:
        seen.append(("after", payload))

    signals.before_task_publish.connect(before, weak=False)
    signals.after_task_publish.connect(after, weak=False)
    yield seen
    signals.before_task_publish.disconnect(before)
    signals.after_task_publish.disconnect(after)


@pytest.fixture(autouse=True)
def pynenc_path() -> Iterator[None]:
    routing.reload()
    tasks.app.conf.pynenc_celery_tasks = None
    tasks.app.conf.task_always_eager = False
    yield
    tasks.app.conf.pynenc_celery_tasks = None
    tasks.app.conf.task_always_eager = False


def side_by_side(sent: Sent, call: Callable[[], Any]) -> tuple[Sent, Sent, Any, Any]:
    """The signals of ``call()`` through Celery (switched back) and through pynenc."""
    tasks.app.conf.pynenc_celery_tasks = True
    sent.clear()
    celery_result = call()
    celery_sent = list(sent)
    tasks.app.conf.pynenc_celery_tasks = None
    sent.clear()
    pynenc_result = call()
    pynenc_sent = list(sent)
    assert not isinstance(celery_result, AsyncResult) and isinstance(pynenc_result, AsyncResult)
    return celery_sent, pynenc_sent, celery_result, pynenc_result


def normalized(payload: dict[str, Any], task_id: str) -> dict[str, Any]:
    """``payload`` with the call's own id and clock readings replaced by markers."""
    out = dict(payload)
    headers = dict(out["headers"])
    assert headers["id"] == task_id
    for name in MOVING & set(headers):
        value = headers[name]
        if name in ("id", "root_id") and value == task_id:
            headers[name] = "<id>"
        elif name in ("eta", "expires") and value is not None:
            headers[name] = datetime.fromisoformat(value)
    out["headers"] = headers
    if "properties" in out:
        properties = dict(out["properties"])
        assert properties["correlation_id"] == task_id
        properties["correlation_id"] = "<id>"
        out["properties"] = properties
    return out


def assert_same(celery_sent: Sent, pynenc_sent: Sent, celery_id: str, pynenc_id: str) -> None:
    assert [name for name, _ in celery_sent] == ["before", "after"]
    assert [name for name, _ in pynenc_sent] == ["before", "after"]
    for (name, theirs), (_, ours) in zip(celery_sent, pynenc_sent, strict=True):
        theirs, ours = normalized(theirs, celery_id), normalized(ours, pynenc_id)
        assert sorted(theirs) == sorted(ours), name  # the same keyword names
        assert list(theirs["headers"]) == list(ours["headers"]), name  # same keys, order
        for key in ("eta", "expires"):
            a, b = theirs["headers"].get(key), ours["headers"].get(key)
            assert (a is None) == (b is None), key
            if a is not None:  # computed from the clock a moment apart
                assert abs(a - b) < timedelta(seconds=5), key
                theirs["headers"][key] = ours["headers"][key] = "<time>"
        if "properties" in theirs and isinstance(theirs["properties"].get("expiration"), float):
            a, b = theirs["properties"]["expiration"], ours["properties"]["expiration"]
            assert abs(a - b) < 5
            theirs["properties"]["expiration"] = ours["properties"]["expiration"] = "<secs>"
        assert theirs == ours, name


CALLS: dict[str, Callable[[], Any]] = {
    "delay": lambda: tasks.add.delay(1, 2),
    "options": lambda: tasks.add.apply_async(
        (1,), {"y": 2}, countdown=5, expires=60, queue="q", priority=3, headers={"x": 1}
    ),
    "list_args": lambda: tasks.add.apply_async([1, 2]),
    "eta_datetimes": lambda: tasks.add.apply_async(
        (1, 2),
        eta=datetime.now(UTC) + timedelta(minutes=5),
        expires=datetime.now(UTC) + timedelta(hours=1),
    ),
    "task_options": lambda: tasks.limited.delay(5),
    "ignore_result": lambda: tasks.add.apply_async((1, 2), ignore_result=True),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_payloads_match_celerys(sent: Sent, call: str) -> None:
    celery_sent, pynenc_sent, theirs, ours = side_by_side(sent, CALLS[call])
    assert_same(celery_sent, pynenc_sent, theirs.id, ours.id)


def test_a_caller_chosen_id_is_the_message_id(sent: Sent) -> None:
    result = tasks.add.apply_async((1, 2), task_id="chosen-id")
    assert result.id == "chosen-id"
    assert [payload["headers"]["id"] for _, payload in sent] == ["chosen-id", "chosen-id"]


def test_the_payload_has_celerys_shapes(sent: Sent) -> None:
    result = tasks.add.delay(1, 2)
    (_, before), (_, after) = sent
    assert set(before) == {
        "sender",
        "body",
        "exchange",
        "routing_key",
        "headers",
        "properties",
        "declare",
        "retry_policy",
    }
    assert set(after) == {"sender", "body", "exchange", "routing_key", "headers"}
    assert before["sender"] == "tests.celery_compat.publish_tasks.add"
    args, kwargs, embed = before["body"]
    assert (args, kwargs) == ((1, 2), {})
    assert embed == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    assert (before["exchange"], before["routing_key"]) == ("", "celery")
    assert before["declare"] == [Queue("celery", Exchange("celery"), routing_key="celery")]
    headers = before["headers"]
    assert headers["id"] == headers["root_id"] == result.id
    assert headers["task"] == before["sender"] and headers["lang"] == "py"
    assert headers["parent_id"] is None and headers["retries"] == 0
    assert headers["argsrepr"] == "(1, 2)" and headers["kwargsrepr"] == "{}"
    assert after["headers"] is headers  # the same dict, as Celery passes it


def test_a_call_inside_a_running_task_names_its_parent(sent: Sent) -> None:
    with tasks.app.pynenc.running_in_background():
        outer = tasks.parent.delay(5)
        child_id = outer.get(timeout=30)
    child = [
        p["headers"] for name, p in sent if name == "before" and p["headers"]["id"] == child_id
    ]
    assert len(child) == 1
    assert child[0]["parent_id"] == outer.id
    assert child[0]["root_id"] == outer.id  # the parent is the root of this workflow


def test_a_retry_publishes_with_the_same_id_and_one_more_retry(sent: Sent) -> None:
    with tasks.app.pynenc.running_in_background():
        result = tasks.retried.delay()
        assert result.get(timeout=30) == 1
    before = [p["headers"] for name, p in sent if name == "before"]
    assert [(h["id"], h["retries"]) for h in before] == [(result.id, 0), (result.id, 1)]
    # as on a Celery worker: the retry is published from inside the task, its own parent
    assert before[1]["root_id"] == before[1]["parent_id"] == result.id
    assert [name for name, _ in sent] == ["before", "after", "before", "after"]


def test_a_raising_handler_is_logged_and_the_call_goes_on(
    sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("handler bug")

    signals.before_task_publish.connect(broken, weak=False)
    try:
        for switched in (True, None):  # Celery's path first: the behaviour to match
            tasks.app.conf.pynenc_celery_tasks = switched
            sent.clear()
            with caplog.at_level(logging.ERROR):
                caplog.clear()
                result = tasks.add.delay(1, 2)
            assert result.id
            assert [name for name, _ in sent] == ["before", "after"]
            assert any("handler bug" in r.getMessage() for r in caplog.records), switched
    finally:
        signals.before_task_publish.disconnect(broken)


def test_eager_calls_send_no_publish_signals(sent: Sent) -> None:
    started: list[str] = []

    def prerun(task_id: str = "", **_: Any) -> None:
        started.append(task_id)

    signals.task_prerun.connect(prerun, weak=False)
    tasks.app.conf.task_always_eager = True
    try:
        result = tasks.add.delay(1, 2)
    finally:
        signals.task_prerun.disconnect(prerun)
    assert result.get() == 3 and started == [result.id]  # ran, through Celery's tracer
    assert sent == []


def test_without_receivers_nothing_is_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    monkeypatch.setattr(publish, "uuid", lambda: made.append("id") or "made-id")
    monkeypatch.setattr(signals.before_task_publish, "receivers", [])
    monkeypatch.setattr(signals.after_task_publish, "receivers", [])
    building: list[Any] = []
    monkeypatch.setattr(publish, "publication", lambda *a, **k: building.append(a))
    result = tasks.add.delay(1, 2)
    assert made == [] and building == []
    assert result.id != "made-id"
    monkeypatch.undo()


def test_with_a_receiver_the_id_is_made_before_publishing(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "uuid", lambda: "made-id")
    result = tasks.add.delay(1, 2)
    assert result.id == "made-id" and sent[0][1]["headers"]["id"] == "made-id"
