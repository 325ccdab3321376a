"""Retries on a worker: ``self.retry()`` and autoretry, counted through ``request.retries``."""

from __future__ import annotations

from types import ModuleType

import pytest
from celery import exceptions, states

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour, Written


def test_retry_keeps_the_id_and_counts(tasks: ModuleType) -> None:
    result = tasks.retry_until.delay(2)
    info = result.get(timeout=WAIT)
    assert (info["id"], info["retries"]) == (result.id, 2)
    assert info["args"] == [2] and info["kwargs"] == {}
    assert result.state == states.SUCCESS


def test_retry_with_countdown(tasks: ModuleType) -> None:
    result = tasks.retry_until.delay(1, countdown=0.5)
    info = result.get(timeout=WAIT)
    assert (info["id"], info["retries"]) == (result.id, 1)
    assert info["kwargs"] == {"countdown": 0.5}


def test_exhausted_with_exc_raises_the_original_exception(tasks: ModuleType) -> None:
    result = tasks.retry_forever_failing.delay(True)
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == ("attempt", 2)  # max_retries=2: attempts 0, 1, 2
    assert result.state == states.FAILURE


def test_exhausted_without_exc_raises_max_retries_exceeded(tasks: ModuleType) -> None:
    result = tasks.retry_forever_failing.delay(False)
    with pytest.raises(exceptions.MaxRetriesExceededError) as raised:
        result.get(timeout=WAIT)
    assert type(raised.value) is exceptions.MaxRetriesExceededError
    assert result.id in str(raised.value)
    assert result.state == states.FAILURE


def test_max_retries_override_on_the_call(tasks: ModuleType) -> None:
    result = tasks.retry_override.delay()
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == ("attempt", 1)


def test_max_retries_none_retries_past_the_default(tasks: ModuleType) -> None:
    assert tasks.retry_unbounded.delay(4).get(timeout=WAIT) == 4


def test_autoretry_until_success(tasks: ModuleType) -> None:
    assert tasks.auto_until.delay(3).get(timeout=WAIT) == 3


def test_autoretry_exhausted_raises_the_original_exception(tasks: ModuleType) -> None:
    result = tasks.auto_until.delay(10)
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == ("attempt", 5)


def test_autoretry_ignores_other_exceptions(tasks: ModuleType) -> None:
    result = tasks.auto_other_error.delay()
    with pytest.raises(KeyError) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == (0,)


@pytest.mark.parametrize("countdown", [None, 0.3])
def test_retry_with_new_arguments(tasks: ModuleType, countdown: float | None) -> None:
    """``retry(args=, kwargs=)``: the same id runs again with only what failed (after a
    countdown too: pynenc's scheduler sends the new arguments it stored)."""
    result = tasks.retry_failed_half.delay(["ok", "bad1", "bad2"], countdown)
    info = result.get(timeout=WAIT)
    assert (info["id"], info["retries"]) == (result.id, 1)
    assert info["args"] == [["bad1", "bad2"]] and info["kwargs"] == {"countdown": countdown}
    assert result.state == states.SUCCESS


@pytest.mark.parametrize("keep_failing", [False, True])
def test_retry_without_throw_retries_each_item_once(
    tasks: ModuleType, flavour: Flavour, written: Written, keep_failing: bool
) -> None:
    """``retry(throw=False)`` once per failed item: each item runs again on its own, once
    per retry, counting ``retries`` up to ``max_retries`` (then the retry raises). The
    difference kept: Celery reuses the task id for every retry, pynenc gives each its own
    (one id is one invocation there, which ends with what the first run returned)."""
    result = tasks.retry_each_failed.delay(["ok", "bad1", "bad2"], written.key, keep_failing)
    expected = [(0, ["ok", "bad1", "bad2"]), (1, ["bad1"]), (1, ["bad2"])]
    if keep_failing:  # max_retries=2: the runs at retries 2 raise Boom from retry()
        expected += [(2, ["bad1"]), (2, ["bad2"])]
    runs = written.take(len(expected))
    written.nothing_more()
    assert (runs[0]["id"], runs[0]["retries"]) == (result.id, 0)
    assert sorted((run["retries"], run["items"]) for run in runs) == expected
    ids = {run["id"] for run in runs}
    if flavour.name == "celery":
        assert ids == {result.id}
    else:
        assert len(ids) == len(expected)
        assert result.get(timeout=WAIT) == ["ok"]  # the first run's own return value
