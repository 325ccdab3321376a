"""Task options and members at work: the same assertion on a real Celery worker (threads
pool, memory:// + cache+memory://) and on a pynenc thread runner."""

from __future__ import annotations

import functools
import logging
import operator
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import _state, signals, states
from celery.contrib.testing.worker import start_worker
from celery.exceptions import TimeLimitExceeded

from tests.celery_compat import options_bodies as bodies
from tests.celery_compat import options_tasks as tasks

TIMEOUT = 60


@pytest.fixture(scope="module")
def celery_side() -> Iterator[SimpleNamespace]:
    """``CELERY``'s tasks with a real Celery worker (threads pool) consuming them."""
    with start_worker(
        tasks.celery_app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        shutdown_timeout=30,
    ):
        yield tasks.CELERY


@pytest.fixture(scope="module")
def pynenc_side() -> Iterator[SimpleNamespace]:
    """``COMPAT``'s tasks with a pynenc thread runner consuming them.

    A runner starting makes its Celery app the default app, as a Celery worker does. The
    Celery side's worker runs in this process too, and its threads pool finds each task it
    receives in the default app: the default app stays the Celery side's (else that worker
    would run the compat app's task of the same name).
    """
    default = _state.default_app
    with tasks.pynenc_app.running_in_background(stop_timeout=60):
        _state.set_default_app(default)
        yield tasks.COMPAT


@pytest.fixture(params=["celery", "pynenc"])
def side(request: pytest.FixtureRequest) -> SimpleNamespace:
    """Each side in turn: the same assertion on a Celery worker and a pynenc runner."""
    found: SimpleNamespace = request.getfixturevalue(f"{request.param}_side")
    return found


def test_delay_apply_async_and_apply(side: SimpleNamespace) -> None:
    assert side.add.delay(1, 2).get(timeout=TIMEOUT) == 3
    assert side.add.apply_async((1,), {"y": 5}).get(timeout=TIMEOUT) == 6
    assert side.add.apply((2, 2)).get() == 4  # inline, through Celery's tracer


def test_signatures_go_through_apply_async(side: SimpleNamespace) -> None:
    assert side.add.s(2).delay(1).get(timeout=TIMEOUT) == 3  # new args are prepended
    assert side.add.si(2, 2).apply_async((100,)).get(timeout=TIMEOUT) == 4  # immutable
    assert side.add.signature((3,), {"y": 3}).apply_async().get(timeout=TIMEOUT) == 6
    assert type(side.add.s(1, 1).delay()) is type(side.add.delay(1, 1))


def test_map_and_starmap_are_one_call_over_the_items(side: SimpleNamespace) -> None:
    assert side.double.map([1, 2, 3]).delay().get(timeout=TIMEOUT) == [2, 4, 6]
    assert side.add.starmap([(1, 2), (3, 4)]).apply_async().get(timeout=TIMEOUT) == [3, 7]


def test_chunks_return_a_list_of_lists(side: SimpleNamespace) -> None:
    result = side.add.chunks(zip(range(5), range(5), strict=True), 2).apply_async()
    assert result.get(timeout=TIMEOUT) == [[0, 2], [4, 6], [8]]
    assert side.add.chunks([(1, 1)], 5)().get(timeout=TIMEOUT) == [[2]]


def test_request_fields_on_a_worker(side: SimpleNamespace) -> None:
    result = side.request_fields.apply_async((1, 2), {"k": 3}, expires=600)
    fields = result.get(timeout=TIMEOUT)
    assert fields["id"] == result.id
    assert (fields["args"], fields["kwargs"]) == ([1, 2], {"k": 3})
    assert fields["retries"] == 0
    assert fields["is_eager"] is False and fields["called_directly"] is False
    assert fields["parent_id"] is None and fields["root_id"] == result.id
    assert fields["eta"] is None and fields["expires"] is not None
    assert fields["delivery_info"] == ["exchange", "priority", "redelivered", "routing_key"]
    assert fields["hostname_set"] and fields["current_task_is_self"]
    assert fields["group"] is None and fields["chord"] is None
    assert fields["callbacks"] is None and fields["errbacks"] is None
    assert fields["timelimit"] == [None, None]
    assert fields["correlation_id"] == result.id and fields["task"] == "options.request_fields"
    assert fields["max_retries"] == 3 and fields["conf_default_queue"] == "celery"
    assert fields["name"] == "options.request_fields"


def test_called_directly_runs_inline_with_a_request(side: SimpleNamespace) -> None:
    fields = side.request_fields(7)
    assert fields["called_directly"] is True and fields["id"] is None
    assert fields["args"] == (7,) and fields["current_task_is_self"]
    assert side.add.run(1, 1) == 2


def test_a_base_class_call_wraps_every_run(side: SimpleNamespace) -> None:
    """Flask's ContextTask: the base's ``__call__`` runs on the worker, and its
    ``super().__call__`` keeps the worker's request."""
    result = side.in_context.delay()
    task_id, called_directly, context = result.get(timeout=TIMEOUT)
    assert (task_id, called_directly, context) == (result.id, False, "entered")


def test_max_retries_none_retries_forever(side: SimpleNamespace) -> None:
    assert side.flaky_forever.delay(5).get(timeout=TIMEOUT) == 5  # past Celery's default 3


def test_autoretry_backoff_delays_follow_celerys_formula(side: SimpleNamespace) -> None:
    """``retry_backoff=True`` without jitter: countdowns 1, 2 (factor 1 * 2**retries); the
    original exception is raised once the retries are spent."""
    token = uuid.uuid4().hex
    countdowns: list[Any] = []

    def on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        if request is not None and request.args == [token]:
            countdowns.append(reason.when)

    signals.task_retry.connect(on_retry, weak=False)
    try:
        result = side.backoff.delay(token)
        with pytest.raises(KeyError):
            result.get(timeout=TIMEOUT)
    finally:
        signals.task_retry.disconnect(on_retry)
    assert countdowns == [1, 2]
    assert len(bodies.SEEN[token]) == 3  # max_retries=2: three attempts


def test_typing_false_sends_a_bad_call_that_fails_on_the_worker(side: SimpleNamespace) -> None:
    with pytest.raises(TypeError):
        side.add.delay(1, 2, 3)  # typing on (the default): refused at call time
    result = side.untyped.delay(1, 2, 3)
    with pytest.raises(TypeError):
        result.get(timeout=TIMEOUT)
    assert result.state == states.FAILURE


def test_ignore_result_get_returns_none_at_once(side: SimpleNamespace) -> None:
    assert side.ignored.delay(1, 2).get(timeout=TIMEOUT) is None
    assert side.add.apply_async((1, 2), ignore_result=True).get(timeout=TIMEOUT) is None


def test_throws_fails_the_task_and_logs_without_traceback(
    side: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    result = side.expected.delay(4)
    with pytest.raises(LookupError):
        result.get(timeout=TIMEOUT)
    assert result.state == states.FAILURE
    lines = [r for r in caplog.records if "expected 4" in r.getMessage()]
    deadline = time.monotonic() + TIMEOUT  # the worker may log just after storing
    while not lines and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = [r for r in caplog.records if "expected 4" in r.getMessage()]
    assert lines and all(r.levelno == logging.INFO and r.exc_info is None for r in lines)


def test_track_started_shows_started_while_running(side: SimpleNamespace) -> None:
    token = uuid.uuid4().hex
    gate = bodies.GATES.setdefault(token, threading.Event())
    result = side.started.delay(token)
    try:
        deadline = time.monotonic() + TIMEOUT
        while result.state != states.STARTED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert result.state == states.STARTED
    finally:
        gate.set()
    assert result.get(timeout=TIMEOUT) == token


def test_a_waiter_of_a_hard_time_limit_gets_time_limit_exceeded(
    pynenc_side: SimpleNamespace,
) -> None:
    """pynenc only: Celery's threads pool enforces no time limit (celery#9203); a pynenc
    thread runner gives up on the attempt and records Celery's ``TimeLimitExceeded``."""
    result = pynenc_side.hard_limited.delay(30)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=TIMEOUT)
    assert result.state == states.FAILURE


def test_async_result_member_and_chunks_group(side: SimpleNamespace) -> None:
    result = side.add.delay(2, 2)
    again = side.add.AsyncResult(result.id)
    assert type(again) is type(result) and again.get(timeout=TIMEOUT) == 4
    assert side.add.chunks([(1, 1)], 1).group().delay().get(timeout=TIMEOUT) == [[2]]


def test_a_task_serializer_carries_what_json_cannot(side: SimpleNamespace) -> None:
    """``serializer="pickle"`` on one task (the app accepting pickle) passes a callable."""
    conf = tasks.pynenc_app.conf
    saved = conf.accept_serializers
    conf.accept_serializers = ("pickle",)
    try:
        double = functools.partial(operator.mul, 2)
        assert side.pickled.delay(double, 21).get(timeout=TIMEOUT) == 42
    finally:
        conf.accept_serializers = saved


def test_headers_and_a_priority_above_nine_per_call(side: SimpleNamespace) -> None:
    assert side.add.apply_async((1, 1), priority=200).get(timeout=TIMEOUT) == 2
    result = side.request_fields.apply_async((1,), headers={"tenant": "a"}, priority=200)
    assert result.get(timeout=TIMEOUT)["headers"] == {"tenant": "a"}
