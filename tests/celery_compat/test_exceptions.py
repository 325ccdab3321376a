"""``pynenc_celery_compat.exceptions``: Celery's names, caught by Celery's ``except``
clauses; the errors ``AsyncResult.get`` raises."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import celery.exceptions
import pytest

from pynenc.exceptions import (
    InvocationCancelledError,
    InvocationTimeoutError,
    SoftTimeoutExceeded,
    TaskTimeoutError,
)
from pynenc_celery_compat import exceptions, states
from pynenc_celery_compat.result import _celery_error
from tests.celery_compat import exceptions_tasks as tasks

CELERY_NAMES = sorted(celery.exceptions.__all__)
#: constructor arguments of the classes that need some
ARGUMENTS: dict[str, tuple[Any, ...]] = {"CeleryCommandException": ("failed", 2)}


def test_every_celery_name_is_here_and_nothing_else() -> None:
    assert sorted(exceptions.__all__) == CELERY_NAMES
    assert exceptions.reraise is celery.exceptions.reraise
    assert exceptions.RetryTaskError is celery.exceptions.Retry  # Celery's old aliases
    assert exceptions.SystemTerminate is celery.exceptions.WorkerTerminate


@pytest.mark.parametrize("name", [n for n in CELERY_NAMES if n != "reraise"])
def test_except_celerys_class_catches_ours(name: str) -> None:
    ours, theirs = getattr(exceptions, name), getattr(celery.exceptions, name)
    assert inspect.isclass(ours) and issubclass(ours, theirs)
    with pytest.raises(theirs):
        raise ours(*ARGUMENTS.get(name, ()))


@pytest.mark.parametrize(
    ("ours", "pynencs"),
    [
        (exceptions.TimeoutError, InvocationTimeoutError),
        (exceptions.TimeLimitExceeded, TaskTimeoutError),
        (exceptions.SoftTimeLimitExceeded, SoftTimeoutExceeded),
        (exceptions.TaskRevokedError, InvocationCancelledError),
    ],
)
def test_our_own_classes_are_pynencs_errors_too(ours: type, pynencs: type) -> None:
    assert ours is not getattr(celery.exceptions, ours.__name__)
    assert issubclass(ours, pynencs)


def test_time_limit_errors_keep_their_message_and_limit() -> None:
    hard = exceptions.TimeLimitExceeded("ran past 2s", 2.0)
    soft = exceptions.SoftTimeLimitExceeded("soft limit", 1.0)
    assert (str(hard), hard.limit, str(soft), soft.limit) == ("ran past 2s", 2.0, "soft limit", 1.0)


def test_pynenc_time_limits_reach_callers_as_celerys() -> None:
    hard = TaskTimeoutError("ran past its 2.0 s time limit", 2.0)
    hard.add_note("Remote traceback: …")
    error = _celery_error(hard)
    assert isinstance(error, celery.exceptions.TimeLimitExceeded)
    assert str(error) == str(hard) and error.__notes__ == hard.__notes__
    soft = _celery_error(SoftTimeoutExceeded("soft", 1.0))
    assert isinstance(soft, celery.exceptions.SoftTimeLimitExceeded)


@pytest.fixture(scope="module")
def runner() -> Iterator[None]:
    with tasks.app.pynenc.running_in_background():
        yield


def test_get_with_a_timeout_raises_our_timeout_error() -> None:
    result = tasks.slow.apply_async((0,), countdown=3600)  # not ready for an hour
    with pytest.raises(celery.exceptions.TimeoutError) as caught:
        result.get(timeout=0.1)
    assert type(caught.value) is exceptions.TimeoutError
    assert isinstance(caught.value, InvocationTimeoutError)
    with pytest.raises(TimeoutError):  # the builtin too, as pynenc's waits raise
        result.get(timeout=0.05)


@pytest.mark.usefixtures("runner")
def test_a_keyword_only_exception_comes_back_as_itself() -> None:
    result = tasks.charge.delay(120)
    with pytest.raises(tasks.PaymentDeclined) as caught:
        result.get(timeout=30)
    error = caught.value
    assert type(error) is tasks.PaymentDeclined
    assert (error.code, error.amount) == ("insufficient_funds", 120)
    assert str(error) == "payment of 120 declined: insufficient_funds"
    assert result.state == states.FAILURE
    assert type(result.result) is tasks.PaymentDeclined  # propagate=False gives it too
    assert type(result.get(propagate=False)) is tasks.PaymentDeclined


@pytest.mark.usefixtures("runner")
def test_a_positional_exception_comes_back_as_itself() -> None:
    result = tasks.reserve.delay("sku-1", 3)
    with pytest.raises(LookupError) as caught:
        result.get(timeout=30)
    assert type(caught.value) is tasks.StockError
    assert (caught.value.sku, caught.value.wanted, caught.value.args) == ("sku-1", 3, ("sku-1", 3))
