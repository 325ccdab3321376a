"""Calling and values: delay/apply_async arguments, JSON types, task_id, countdown, eta."""

from __future__ import annotations

import datetime as dt
import uuid
from types import ModuleType

from celery import states
from celery.result import AsyncResult as CeleryAsyncResult

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour

UTC = dt.UTC


def test_delay_returns_the_value(tasks: ModuleType) -> None:
    result = tasks.add.delay(2, 3)
    assert isinstance(result, CeleryAsyncResult)
    assert result.get(timeout=WAIT) == 5


def test_apply_async_with_args_and_kwargs(tasks: ModuleType) -> None:
    assert tasks.add.apply_async((1,), {"y": 6}).get(timeout=WAIT) == 7
    assert tasks.add.apply_async(kwargs={"x": 2, "y": 2}).get(timeout=WAIT) == 4


def test_shared_task(tasks: ModuleType) -> None:
    assert tasks.multiply.delay(6, 7).get(timeout=WAIT) == 42


def test_json_types_round_trip(tasks: ModuleType) -> None:
    when = dt.datetime(2024, 5, 17, 12, 30, 15, 123456, tzinfo=UTC)
    args = ({"a": [1, 2]}, [1, "x", None], None, "text", 1.5, True, when)
    value = tasks.echo.delay(*args, when=when, nested={"k": (1, 2)}).get(timeout=WAIT)
    assert value["args"] == [{"a": [1, 2]}, [1, "x", None], None, "text", 1.5, True, when]
    assert value["types"] == ["dict", "list", "NoneType", "str", "float", "bool", "datetime"]
    assert value["kwargs"] == {"when": when, "nested": {"k": [1, 2]}}
    assert value["kwarg_types"] == {"when": "datetime", "nested": "dict"}


def test_a_tuple_arrives_and_returns_as_a_list(tasks: ModuleType) -> None:
    value = tasks.echo.delay((1, 2)).get(timeout=WAIT)
    assert value["args"] == [[1, 2]]
    assert value["types"] == ["list"]


def test_task_id_is_the_callers(tasks: ModuleType) -> None:
    chosen = str(uuid.uuid4())
    result = tasks.request_info.apply_async((1,), task_id=chosen)
    assert result.id == chosen
    assert result.get(timeout=WAIT)["id"] == chosen


def test_countdown_defers_the_run(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.apply_async((1, 1), countdown=1)
    assert result.state == states.PENDING
    assert result.get(timeout=WAIT) == 2
    assert result.state == states.SUCCESS


def test_eta_runs_then_and_shows_in_the_request(tasks: ModuleType) -> None:
    eta = dt.datetime.now(UTC) + dt.timedelta(seconds=1)
    info = tasks.request_info.apply_async((), eta=eta).get(timeout=WAIT)
    assert abs(dt.datetime.fromisoformat(info["eta"]) - eta) < dt.timedelta(seconds=0.01)
    assert info["expires"] is None


def test_an_id_never_sent_is_pending(flavour: Flavour) -> None:
    result = flavour.AsyncResult(str(uuid.uuid4()))
    assert result.state == states.PENDING
    assert result.result is None
    assert not result.ready()
