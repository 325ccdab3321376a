"""What a result keeps besides its outcome (``date_done``; with ``result_extended``
``name``, ``args``, ``kwargs``, ``worker``, ``retries``, ``queue``) and saved groups
(``GroupResult.save()``/``restore()``/``delete()``), on both flavours.

Celery fills the extended fields only with ``result_extended=True`` (turned on for the
Celery flavour here); the compat layer answers them whatever the setting says.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from types import ModuleType

import pytest
from celery import states

from tests.celery_compat.sidebyside.conftest import (
    CANVAS_PACKAGES,
    WAIT,
    Flavour,
    Gate,
    wait_for_state,
)

UTC = dt.UTC
EXTENDED = ("name", "args", "kwargs", "worker", "retries", "queue")


@pytest.fixture
def extended(flavour: Flavour) -> Iterator[None]:
    """``result_extended=True`` on the Celery flavour (its worker reads it per result)."""
    if flavour.name != "celery":
        yield  # the compat layer needs no setting
        return
    flavour.app.conf.result_extended = True
    try:
        yield
    finally:
        flavour.app.conf.result_extended = False


def _fields(result: object) -> dict[str, object]:
    return {name: getattr(result, name) for name in EXTENDED}


@pytest.mark.usefixtures("extended")
def test_the_extended_fields_are_the_workers_request(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.request_info.apply_async((1, "two"), {"flag": True})
    seen = result.get(timeout=WAIT)
    assert _fields(result) == {
        "name": seen["task"],
        "args": seen["args"],
        "kwargs": seen["kwargs"],
        "worker": seen["hostname"],
        "retries": seen["retries"],
        "queue": seen["delivery_info"]["routing_key"],
    }
    assert (result.name, result.args, result.kwargs) == (
        tasks.request_info.name,
        [1, "two"],
        {"flag": True},
    )
    assert (result.retries, result.queue) == (0, "celery")
    assert _fields(flavour.AsyncResult(result.id)) == _fields(result)  # a fresh handle


def test_date_done_is_an_aware_utc_datetime_once_done(
    tasks: ModuleType, flavour: Flavour, gate: Gate
) -> None:
    before = dt.datetime.now(UTC)
    result = tasks.untracked.delay(gate.path)
    gate.wait_started()
    assert result.date_done is None  # running: not done
    gate.release()
    assert result.get(timeout=WAIT) == "done"
    done = result.date_done
    assert isinstance(done, dt.datetime) and done.utcoffset() == dt.timedelta(0)
    assert before <= done <= dt.datetime.now(UTC)
    assert flavour.AsyncResult(result.id).date_done == done


def test_date_done_of_a_failure_and_of_a_revoked_call(tasks: ModuleType) -> None:
    failed = tasks.boom.delay("x")
    with pytest.raises(tasks.Boom):
        failed.get(timeout=WAIT)
    revoked = tasks.add.apply_async((1, 2), countdown=1)
    revoked.revoke()
    wait_for_state(revoked, states.REVOKED)
    assert isinstance(failed.date_done, dt.datetime)
    assert isinstance(revoked.date_done, dt.datetime)


@pytest.mark.usefixtures("extended")
def test_retries_after_retrying(tasks: ModuleType) -> None:
    result = tasks.retry_until.delay(2)
    assert result.get(timeout=WAIT)["retries"] == 2
    assert result.retries == 2


@pytest.mark.usefixtures("extended")
def test_retries_while_a_retry_waits_is_the_attempt_that_asked(tasks: ModuleType) -> None:
    result = tasks.retry_once_after.delay(2)
    wait_for_state(result, states.RETRY)
    assert result.retries == 0 and result.date_done is None
    assert result.get(timeout=WAIT) == 1
    assert result.retries == 1


@pytest.mark.usefixtures("extended")
def test_a_chain_step_lists_what_it_received_first(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chain(tasks.add.s(1, 2), tasks.add.s(10)).apply_async()
    assert result.get(timeout=WAIT) == 13
    assert (result.args, result.kwargs) == ([3, 10], {})


def test_without_result_extended(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.delay(20, 22)
    assert result.get(timeout=WAIT) == 42
    assert isinstance(result.date_done, dt.datetime)  # stored with every result
    if flavour.name == "celery":  # not stored without result_extended
        assert set(_fields(result).values()) == {None}
    else:  # pynenc has the call: answered anyway (docs/celery.md, "Results and states")
        assert (result.name, result.args, result.kwargs) == (tasks.add.name, [20, 22], {})
        assert (result.retries, result.queue) == (0, "celery")
        assert result.worker is not None


def test_a_saved_group_is_restored_by_id(tasks: ModuleType, flavour: Flavour) -> None:
    canvas = importlib.import_module(CANVAS_PACKAGES[flavour.name])
    result_module = importlib.import_module(f"{CANVAS_PACKAGES[flavour.name]}.result")
    grouped = canvas.group(tasks.add.s(i, i) for i in range(3)).apply_async()
    assert grouped.get(timeout=WAIT) == [0, 2, 4]
    assert grouped.save() is grouped
    restored = result_module.GroupResult.restore(grouped.id, app=flavour.app)
    assert restored == grouped and restored is not grouped
    assert [member.id for member in restored] == [member.id for member in grouped]
    assert restored.get(timeout=WAIT) == [0, 2, 4]
    restored.delete()
    assert result_module.GroupResult.restore(grouped.id, app=flavour.app) is None
