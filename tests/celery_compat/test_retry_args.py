"""``self.retry(args=, kwargs=)`` and ``retry(throw=False)`` on a pynenc runner.

``throw=True`` retries the same invocation with the new arguments (stored with the retry,
so a countdown's scheduler and recovery send them too); ``throw=False`` sends each retry
as a new call of the task (a new id, ``retries + 1``) and the current run goes on. Real
runners: ``start_worker`` on ``memory://``, on Redis, and a prefork pool on Redis.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import celery
import pytest
from celery import exceptions
from celery.contrib.testing.app import setup_default_app

from pynenc_celery_compat import Celery, states
from pynenc_celery_compat.contrib.testing.worker import start_worker
from pynenc_celery_compat.retrying import retry_call
from tests.celery_compat import retry_args_tasks as tasks
from tests.servers import Server

WAIT = 30.0


@pytest.fixture
def memory_app() -> Iterator[Any]:
    """A real ``celery.Celery`` app holding the compat shared tasks, on ``memory://``."""
    app = celery.Celery("retryargs", broker="memory://", backend="cache+memory://")
    with setup_default_app(app):
        app.set_current()
        yield app


@pytest.fixture
def worker(memory_app: Any) -> Iterator[Any]:
    with start_worker(memory_app, pool="threads", concurrency=4, perform_ping_check=False):
        yield memory_app


@pytest.fixture(autouse=True)
def _fresh_runs() -> Iterator[None]:
    """Every test reads the attempts of its own calls only."""
    tasks.RUNS.clear()
    yield
    tasks.RUNS.clear()


def _pynenc(app: Any) -> Any:
    from pynenc_celery_compat.bridge import pynenc_app_for

    return pynenc_app_for(app)


# -- throw=True: the same invocation, new arguments ------------------------------------------


@pytest.mark.parametrize("countdown", [None, 0.2])
def test_a_retry_runs_with_its_new_arguments(worker: Any, countdown: float | None) -> None:
    """Only the failed half runs again (same id, retries 1); with a countdown the retry
    waits SCHEDULED and the scheduler sends the stored (new) arguments."""
    result = tasks.process.delay(["ok1", "bad1", "ok2", "bad2"], countdown)
    info = result.get(timeout=WAIT)
    assert info == {"id": result.id, "retries": 1, "items": ["bad1", "bad2"]}
    assert [run[1:] for run in tasks.RUNS if run[0] == result.id] == [
        (0, ["ok1", "bad1", "ok2", "bad2"]),
        (1, ["bad1", "bad2"]),
    ]
    assert result.state == states.SUCCESS
    # the history says the retry changed the arguments (what `pynenc status ID` shows)
    history = _pynenc(worker).state_backend.history(result.id)
    reasons = [entry.reason or "" for entry in history]
    # `countdown` too: args= stands for all the positional arguments, as in Celery
    changed = "with new arguments (countdown, items)"
    assert any("retry 1: " in why and changed in why for why in reasons), reasons
    record = _pynenc(worker).state_backend.get(result.id)
    assert record is not None and record.arguments["items"] == '["bad1", "bad2"]'


def test_kwargs_replace_a_positional_argument_by_name(worker: Any) -> None:
    result = tasks.process_by_name.delay(["ok", "bad"], tag="t")
    info = result.get(timeout=WAIT)
    # Celery's rule: the positional `items` takes its new value in place; kwargs= stands
    # for all the keyword arguments, so `tag` is back to its default
    assert info == {"args": [["bad"]], "kwargs": {}, "tag": ""}


@pytest.mark.parametrize("with_exc", [True, False])
def test_new_arguments_count_against_max_retries(worker: Any, with_exc: bool) -> None:
    result = tasks.grow.delay(["a"], with_exc)
    if with_exc:
        with pytest.raises(tasks.Undeliverable) as raised:
            result.get(timeout=WAIT)
        assert raised.value.args == ("attempt", 2)  # max_retries=2: attempts 0, 1, 2
    else:
        with pytest.raises(exceptions.MaxRetriesExceededError) as raised:
            result.get(timeout=WAIT)
        # the arguments the refused retry would have run with, as Celery words it
        assert "['a', 'more0', 'more1', 'more2']" in str(raised.value)
    ran = [run[2] for run in tasks.RUNS if run[0] == result.id]
    assert ran == [["a"], ["a", "more0"], ["a", "more0", "more1"]]


def test_a_retry_without_new_arguments_stores_nothing_more(worker: Any) -> None:
    """A retry whose arguments are the running call's: no new arguments in the history."""
    result = tasks.process.delay(["ok"])
    assert result.get(timeout=WAIT)["retries"] == 0
    reasons = [e.reason or "" for e in _pynenc(worker).state_backend.history(result.id)]
    assert not any("new arguments" in why for why in reasons)


# -- throw=False: a new call per retry --------------------------------------------------------


@pytest.mark.parametrize("countdown", [None, 0.2])
def test_each_failed_item_is_retried_once_as_its_own_call(
    worker: Any, countdown: float | None
) -> None:
    result = tasks.send_batch.delay(["ok1", "bad1", "ok2", "bad2"], countdown)
    assert result.get(timeout=WAIT) == ["ok1", "ok2"]  # the run went on and returned
    children = result.children
    assert children is not None and len(children) == 2
    assert [child.get(timeout=WAIT) for child in children] == [["bad1"], ["bad2"]]
    for item, child in (("bad1", children[0]), ("bad2", children[1])):
        assert child.id != result.id
        # run twice in all: in the batch, then once as its own call (retries 1)
        assert [run[:2] for run in tasks.runs_of(item)] == [(result.id, 0), (child.id, 1)]
        record = _pynenc(worker).state_backend.get(child.id)
        assert record is not None and record.parent_id == result.id
        assert record.num_retries == 1


@pytest.mark.parametrize("with_exc", [True, False])
def test_throw_false_honours_max_retries(worker: Any, with_exc: bool) -> None:
    """Each retry is a new call whose retries go on counting; past max_retries the retry
    raises as Celery's does, ``throw=False`` or not."""
    result = tasks.never_sent.delay(["m"], with_exc)
    assert result.get(timeout=WAIT) == "attempt 0 handed its messages on"
    [first] = result.children
    assert first.get(timeout=WAIT) == "attempt 1 handed its messages on"
    [second] = first.children
    expected = tasks.Undeliverable if with_exc else exceptions.MaxRetriesExceededError
    with pytest.raises(expected):
        second.get(timeout=WAIT)
    assert second.state == states.FAILURE
    assert [
        run[:2]
        for run in tasks.RUNS
        if run[2] == ["m"] and run[0] in {result.id, first.id, second.id}
    ] == [(result.id, 0), (first.id, 1), (second.id, 2)]


def test_throw_false_returns_the_retry(worker: Any) -> None:
    """The ``Retry`` comes back (not raised) with the new call's signature and result."""
    result = tasks.returns_retry.delay(1)
    assert result.get(timeout=WAIT) == 1
    seen = tasks.SEEN[result.id]
    assert seen["type"] is exceptions.Retry and seen["sig_args"] == (2,) and seen["when"] == 0
    assert tasks.returns_retry.AsyncResult(seen["new_id"]).get(timeout=WAIT) == 2


# -- Redis, and a prefork pool ----------------------------------------------------------------


@pytest.mark.integration
def test_on_redis(redis_server: Server) -> None:
    url = redis_server.db_url()
    app = Celery("retryargs_redis", broker=url, backend=url, set_as_current=False)
    with setup_default_app(app):
        app.set_current()
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
            result = tasks.process.delay(["ok", "bad"], 0.2)
            assert result.get(timeout=WAIT)["items"] == ["bad"]
            batch = tasks.send_batch.delay(["ok", "bad1", "bad2"])
            assert batch.get(timeout=WAIT) == ["ok"]
            assert sorted(c.get(timeout=WAIT)[0] for c in batch.children) == ["bad1", "bad2"]


@pytest.mark.integration
def test_on_a_prefork_pool(redis_server: Server) -> None:
    url = redis_server.db_url()
    app = Celery("retryargs_prefork", broker=url, backend=url, set_as_current=False)
    with setup_default_app(app):  # not importable: its processes get it pickled
        app.set_current()
        with start_worker(app, pool="prefork", concurrency=2, perform_ping_check=False):
            result = tasks.process.delay(["ok", "bad"], 0.2)
            info = result.get(timeout=60)
            assert (info["id"], info["retries"], info["items"]) == (result.id, 1, ["bad"])
            batch = tasks.send_batch.delay(["ok", "bad1", "bad2"], 0.1)
            assert batch.get(timeout=60) == ["ok"]
            children = batch.children
            assert len(children) == 2 and len({c.id for c in children} | {batch.id}) == 3
            assert sorted(c.get(timeout=60)[0] for c in children) == ["bad1", "bad2"]


# -- which arguments a retry runs with (Celery's rules) ---------------------------------------


class _Task:
    def run(self, a: Any, b: Any = None, *rest: Any, c: Any = None) -> None: ...


class _Request:
    def __init__(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (([1, 2], {"c": 3}), (None, None), ((1, 2), {"c": 3})),
        (([1, 2], {"c": 3}), ([9], None), ((9,), {"c": 3})),
        (([], {"a": 1, "b": 2}), ([9], None), ((9,), {"b": 2})),  # `a` is filled by 9
        (([1, 2], {}), (None, {"b": 8}), ((1, 8), {})),  # `b` replaced in its place
        (([1, 2], {}), (None, {"c": 8}), ((1, 2), {"c": 8})),
        (([1], {"c": 3}), ([5], {"b": 6}), ((5,), {"b": 6})),  # both given: as given
    ],
)
def test_retry_call_follows_celerys_rules(old: Any, new: Any, expected: Any) -> None:
    request = _Request(*old)
    assert retry_call(_Task(), request, *new) == expected


def test_retry_call_agrees_with_celerys_signature() -> None:
    """The rule table above is about ``run``'s signature, as Celery inspects it."""
    assert list(inspect.signature(_Task().run).parameters) == ["a", "b", "rest", "c"]


# -- signals ---------------------------------------------------------------------------------


@pytest.fixture
def sent_signals() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """``before_task_publish`` and ``task_retry`` as they are sent (name, payload)."""
    from celery import signals

    seen: list[tuple[str, dict[str, Any]]] = []

    def publish(sender: Any = None, **payload: Any) -> None:
        seen.append(("before_task_publish", payload))

    def retried(sender: Any = None, **payload: Any) -> None:
        seen.append(("task_retry", payload))

    signals.before_task_publish.connect(publish, weak=False)
    signals.task_retry.connect(retried, weak=False)
    yield seen
    signals.before_task_publish.disconnect(publish)
    signals.task_retry.disconnect(retried)


def test_signals_as_celery_sends_them(worker: Any, sent_signals: list[Any]) -> None:
    """``throw=True``: ``task_retry`` and the retry's message (same id, the new arguments);
    ``throw=False``: only the new call's message (Celery's tracer never sees the Retry)."""
    result = tasks.process.delay(["ok", "bad"])
    result.get(timeout=WAIT)
    retry = [p for name, p in sent_signals if name == "before_task_publish"][1]
    assert (retry["headers"]["id"], retry["headers"]["retries"]) == (result.id, 1)
    assert retry["body"][0] == (["bad"],)
    assert [name for name, _ in sent_signals].count("task_retry") == 1
    sent_signals.clear()
    batch = tasks.send_batch.delay(["ok", "bad"])
    assert batch.get(timeout=WAIT) == ["ok"]
    [child] = batch.children
    child.get(timeout=WAIT)
    published = [p for name, p in sent_signals if name == "before_task_publish"]
    assert [p["headers"]["id"] for p in published] == [batch.id, child.id]
    assert published[1]["headers"]["retries"] == 1
    assert published[1]["headers"]["parent_id"] == batch.id
    assert list(published[1]["body"][0]) == [["bad"]]
    assert published[1]["body"][1] == {"countdown": None}
    assert "task_retry" not in [name for name, _ in sent_signals]
