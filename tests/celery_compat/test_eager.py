"""Eager mode, side by side: every test runs once on a real ``celery.Celery`` app and once on
a ``pynenc_celery_compat.Celery`` app, both with ``task_always_eager=True``, and expects the
same behaviour (Celery 5.7's, CELERY.md §1.2 and §1.6)."""

from __future__ import annotations

import datetime
import socket
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from celery import signals, states
from celery.exceptions import Retry, TaskRevokedError
from celery.result import EagerResult
from kombu.exceptions import EncodeError

from tests.celery_compat import eager_tasks
from tests.celery_compat.eager_tasks import SEEN, build, make_app

KINDS = ["celery", "compat"]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    SEEN.clear()
    yield
    SEEN.clear()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(kind: str) -> Any:
    return make_app(kind)


@pytest.fixture
def tasks(app: Any) -> SimpleNamespace:
    return build(app)


@pytest.fixture
def fired() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every task/publish signal sent during the test, as ``(name, payload)``."""
    names = [
        "before_task_publish",
        "after_task_publish",
        "task_prerun",
        "task_postrun",
        "task_success",
        "task_failure",
        "task_retry",
    ]
    log: list[tuple[str, dict[str, Any]]] = []
    receivers: list[tuple[Any, Callable[..., None]]] = []
    for name in names:

        def receiver(sender: Any = None, _name: str = name, **payload: Any) -> None:
            log.append((_name, {"sender": sender, **payload}))

        signal = getattr(signals, name)
        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield log
    for signal, receiver in receivers:
        signal.disconnect(receiver)


# -- calling: the serialization round trip -------------------------------------------------


def test_delay_returns_a_ready_eager_result(tasks: SimpleNamespace) -> None:
    result = tasks.echo.delay(1, 2)
    assert type(result) is EagerResult
    assert result.ready() and result.successful()
    assert result.state == states.SUCCESS
    assert result.get() == [(1, 2), {}]  # the value itself is not serialized


def test_arguments_take_a_json_round_trip(tasks: SimpleNamespace) -> None:
    values = {
        "when": datetime.datetime(2024, 5, 1, 12, 30),
        "day": datetime.date(2024, 5, 1),
        "key": uuid.UUID(int=7),
        "price": Decimal("1.50"),
        "raw": b"\x00bytes",
    }
    result = tasks.echo.delay((1, 2), [3, (4,)], **values)
    args, kwargs = result.get()
    assert args == ([1, 2], [3, [4]])  # tuples inside become lists
    assert kwargs == values
    assert {name: type(value) for name, value in kwargs.items()} == {
        name: type(value) for name, value in values.items()
    }
    assert SEEN[0]["args"] == [[1, 2], [3, [4]]]  # a list on the first try


@pytest.mark.parametrize("value", [{1, 2}, object()], ids=["set", "object"])
def test_what_json_cannot_carry_raises_encode_error(tasks: SimpleNamespace, value: Any) -> None:
    with pytest.raises(EncodeError):
        tasks.echo.delay(value)
    assert SEEN == []  # never ran


def test_bad_arguments_raise_type_error_at_call_time(tasks: SimpleNamespace) -> None:
    with pytest.raises(TypeError):
        tasks.boom.delay()


# -- retries -------------------------------------------------------------------------------


def test_retries_run_at_once_with_the_same_id(tasks: SimpleNamespace) -> None:
    started = time.monotonic()
    result = tasks.flaky.delay(2, countdown=60)
    assert time.monotonic() - started < 30  # the 60 s countdown is ignored
    assert result.get() == 2
    assert [seen["retries"] for seen in SEEN] == [0, 1, 2]
    assert {seen["id"] for seen in SEEN} == {result.id}
    # a list on the first try, a tuple on the retries (the retry signature's args)
    assert [type(seen["args"]) for seen in SEEN] == [list, tuple, tuple]


def test_retries_exhausted_are_a_swallowed_failure(tasks: SimpleNamespace) -> None:
    result = tasks.flaky.delay(5)
    assert len(SEEN) == 3  # max_retries=2: three attempts
    assert result.state == states.FAILURE
    assert isinstance(result.result, KeyError)
    with pytest.raises(KeyError):
        result.get()


def test_autoretry_retries_at_once(tasks: SimpleNamespace) -> None:
    assert tasks.auto.delay(2).get() == 2
    assert [seen["retries"] for seen in SEEN] == [0, 1, 2]


def test_autoretry_exhausted_keeps_the_original_exception(tasks: SimpleNamespace) -> None:
    result = tasks.auto.delay(9)
    assert result.state == states.FAILURE
    assert isinstance(result.result, KeyError)


# -- failures: swallowed, or propagated ----------------------------------------------------


def test_a_failure_is_swallowed_into_the_result(tasks: SimpleNamespace) -> None:
    result = tasks.boom.delay("bad")
    assert type(result) is EagerResult
    assert result.state == states.FAILURE and result.failed()
    assert isinstance(result.result, ValueError)
    assert "ValueError: bad" in result.traceback
    assert isinstance(result.get(propagate=False), ValueError)
    with pytest.raises(ValueError, match="bad"):
        result.get()


def test_propagates_raises_from_delay(app: Any, tasks: SimpleNamespace) -> None:
    app.conf.task_eager_propagates = True
    with pytest.raises(ValueError, match="bad"):
        tasks.boom.delay("bad")


def test_propagates_raises_retry_on_the_first_retry(app: Any, tasks: SimpleNamespace) -> None:
    app.conf.task_eager_propagates = True
    with pytest.raises(Retry) as raised:
        tasks.flaky.delay(1, countdown=7)
    assert len(SEEN) == 1
    assert isinstance(raised.value.exc, KeyError)
    assert raised.value.when == 7


def test_propagates_raises_retry_from_autoretry(app: Any, tasks: SimpleNamespace) -> None:
    app.conf.task_eager_propagates = True
    with pytest.raises(Retry):
        tasks.auto.delay(1)
    assert len(SEEN) == 1


# -- the request ---------------------------------------------------------------------------


def test_request_fields_under_eager(tasks: SimpleNamespace) -> None:
    result = tasks.echo.apply_async((1,), {"k": 2}, priority=3)
    (seen,) = SEEN
    assert seen == {
        "id": result.id,
        "args": [1],
        "kwargs": {"k": 2},
        "retries": 0,
        "is_eager": True,
        "called_directly": False,
        "hostname": socket.gethostname(),
        "delivery_info": {"is_eager": True, "exchange": None, "routing_key": None, "priority": 3},
        "parent_id": None,
        "root_id": result.id,
    }


def test_task_id_option_is_the_request_id(tasks: SimpleNamespace) -> None:
    result = tasks.echo.apply_async((1,), task_id="chosen-id")
    assert result.id == "chosen-id" == SEEN[0]["id"] == SEEN[0]["root_id"]


def test_a_call_inside_a_task_has_parent_and_root(tasks: SimpleNamespace) -> None:
    result = tasks.parent.delay()
    assert result.get() == [("from parent",), {}]
    outer, inner = SEEN
    assert inner["parent_id"] == outer["id"] == result.id
    assert inner["root_id"] == result.id
    assert inner["id"] != result.id


def test_get_inside_an_eager_task_raises(app: Any, tasks: SimpleNamespace) -> None:
    result = tasks.joins.delay()
    assert result.state == states.FAILURE
    assert isinstance(result.result, RuntimeError)
    app.conf.task_eager_propagates = True
    with pytest.raises(RuntimeError, match=r"Never call result\.get"):
        tasks.joins.delay()


# -- signals -------------------------------------------------------------------------------


def test_signals_of_a_success(tasks: SimpleNamespace, fired: list[Any]) -> None:
    result = tasks.echo.delay(1)
    assert [name for name, _ in fired] == ["task_prerun", "task_success", "task_postrun"]
    prerun, success, postrun = (payload for _, payload in fired)
    assert prerun["task_id"] == result.id and prerun["args"] == [1]
    assert prerun["sender"] is prerun["task"] and prerun["sender"].name == tasks.echo.name
    assert success["result"] == [(1,), {}]
    assert postrun["state"] == states.SUCCESS and postrun["retval"] == [(1,), {}]


def test_signals_of_a_failure(tasks: SimpleNamespace, fired: list[Any]) -> None:
    result = tasks.boom.delay("bad")
    assert [name for name, _ in fired] == ["task_prerun", "task_failure", "task_postrun"]
    failure = fired[1][1]
    assert failure["task_id"] == result.id and isinstance(failure["exception"], ValueError)
    assert fired[2][1]["state"] == states.FAILURE


def test_signals_of_retries(tasks: SimpleNamespace, fired: list[Any]) -> None:
    tasks.flaky.delay(1)
    assert [name for name, _ in fired] == [
        "task_prerun",
        "task_retry",
        "task_postrun",
        "task_prerun",
        "task_success",
        "task_postrun",
    ]
    assert isinstance(fired[1][1]["reason"], Retry)
    assert fired[2][1]["state"] == states.RETRY


def test_apply_sends_the_same_signals(tasks: SimpleNamespace, fired: list[Any]) -> None:
    tasks.echo.apply((1,))
    assert [name for name, _ in fired] == ["task_prerun", "task_success", "task_postrun"]


# -- apply, throw, direct calls ------------------------------------------------------------


def test_apply_runs_here_without_the_round_trip(tasks: SimpleNamespace) -> None:
    result = tasks.echo.apply(((1, 2),), {"k": {3}})
    assert type(result) is EagerResult
    assert result.get() == [((1, 2),), {"k": {3}}]  # apply() does not serialize
    assert SEEN[0]["args"] == ((1, 2),)


def test_apply_swallows_unless_thrown(app: Any, tasks: SimpleNamespace) -> None:
    assert tasks.boom.apply(("x",)).state == states.FAILURE
    with pytest.raises(ValueError):
        tasks.boom.apply(("x",), throw=True)
    app.conf.task_eager_propagates = True
    with pytest.raises(ValueError):
        tasks.boom.apply(("x",))
    assert tasks.boom.apply(("x",), throw=False).state == states.FAILURE


def test_apply_retries_at_once(tasks: SimpleNamespace) -> None:
    assert tasks.flaky.apply((2,), task_id="fixed").get() == 2
    assert [(seen["id"], seen["retries"]) for seen in SEEN] == [
        ("fixed", 0),
        ("fixed", 1),
        ("fixed", 2),
    ]


def test_direct_calls_run_inline_without_signals(tasks: SimpleNamespace, fired: list[Any]) -> None:
    assert tasks.echo(1, k=(2,)) == [(1,), {"k": (2,)}]
    assert tasks.echo.run(3) == [(3,), {}]
    assert fired == []
    for seen in SEEN:
        assert seen["called_directly"] is True and seen["is_eager"] is False
        assert seen["id"] is None and seen["hostname"] is None
        assert seen["delivery_info"] is None and seen["root_id"] is None


def test_retry_called_directly_raises_the_exception(tasks: SimpleNamespace) -> None:
    with pytest.raises(KeyError):
        tasks.flaky(1)


# -- results, states and the result backend ------------------------------------------------


def test_async_result_of_an_eager_call_is_pending(app: Any, tasks: SimpleNamespace) -> None:
    result = tasks.echo.delay(1)
    with pytest.warns(RuntimeWarning, match="task_store_eager_result"):
        looked_up = app.AsyncResult(result.id)
        assert looked_up.state == states.PENDING
    with pytest.warns(RuntimeWarning):
        assert tasks.echo.AsyncResult(result.id).state == states.PENDING


def test_stored_eager_results_are_found_by_id(kind: str) -> None:
    app = make_app(kind, task_store_eager_result=True)
    tasks = build(app)
    done = tasks.echo.delay(1)
    failed = tasks.boom.delay("bad")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # storing: no "not stored" warning
        found = app.AsyncResult(done.id)
        assert (found.state, found.get(timeout=5)) == (states.SUCCESS, [[1], {}])  # stored
        assert found.ready() and found.successful()
        lost = tasks.boom.AsyncResult(failed.id)
        assert lost.state == states.FAILURE and isinstance(lost.result, ValueError)
        with pytest.raises(ValueError):
            lost.get(timeout=5)
        assert app.AsyncResult("never-sent").state == states.PENDING


def test_stored_apply_results_are_found_outside_eager_mode(kind: str) -> None:
    app = make_app(kind, task_always_eager=False, task_store_eager_result=True)
    tasks = build(app)
    result = tasks.echo.apply((5,))
    found = app.AsyncResult(result.id)
    assert found.state == states.SUCCESS and found.get(timeout=5) == [[5], {}]


@pytest.mark.parametrize("store", [False, True], ids=["not-storing", "storing"])
def test_update_state_goes_to_the_result_backend(kind: str, store: bool) -> None:
    app = make_app(kind, task_store_eager_result=store)
    tasks = build(app)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "results are not stored"
        result = tasks.progress.delay()
        assert result.get() == "finished"
        assert SEEN == [{"state": "PROGRESS", "info": {"done": 1}}]
        # only a storing app records the end; otherwise the custom state stays
        assert app.AsyncResult(result.id).state == (states.SUCCESS if store else "PROGRESS")


def test_update_state_without_a_result_backend_is_silent(kind: str) -> None:
    app = make_app(kind, backend=None)
    tasks = build(app)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = tasks.progress.delay(look=False)
        assert result.get() == "finished"
        # Celery 5.7 cannot read a state without a result backend (its DisabledBackend
        # lacks the meta lookup): the same error on both
        with pytest.raises(AttributeError):
            app.AsyncResult(result.id).state


def test_ignore_and_reject_states(tasks: SimpleNamespace) -> None:
    assert tasks.ignored.delay().state == states.IGNORED
    assert tasks.rejected.delay().state == states.REJECTED


def test_revoke_of_an_eager_result(tasks: SimpleNamespace) -> None:
    result = tasks.echo.delay(1)
    result.revoke()
    assert result.state == states.REVOKED
    with pytest.raises(TaskRevokedError):
        result.get()


def test_ignore_result_still_returns_the_value_eagerly(tasks: SimpleNamespace) -> None:
    assert tasks.echo.apply_async((1,), ignore_result=True).get() == [(1,), {}]


def test_tasks_are_the_apps(kind: str, app: Any, tasks: SimpleNamespace) -> None:
    assert app.tasks[tasks.echo.name] == tasks.echo
    if kind == "compat":  # the compat task keeps its pynenc task for the runner path
        assert tasks.echo.pynenc_task.task_id.key == tasks.echo.name
    assert eager_tasks.BODIES  # the module's bodies, not copies


def test_link_callbacks_run_inline(tasks: SimpleNamespace) -> None:
    result = tasks.echo.apply_async((1,), link=tasks.echo.s("linked"))
    assert result.get() == [(1,), {}]
    _, callback = SEEN
    assert callback["args"] == [[[1], {}], "linked"]  # the parent's value, round-tripped
    assert callback["parent_id"] == result.id
