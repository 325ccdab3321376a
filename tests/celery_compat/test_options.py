"""Task decorator options and members, declared on a real Celery app and on a compat app:
the same assertions on both (no worker needed here; see ``test_options_runner``)."""

from __future__ import annotations

import sys
import types
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from unittest import mock

import celery
import pytest
from celery.exceptions import CDeprecationWarning, DuplicateTaskNameWarning, Retry
from celery.utils.time import get_exponential_backoff_interval
from pytest_mock import MockerFixture

import pynenc_celery_compat
from pynenc_celery_compat import Celery
from tests.celery_compat import options_tasks as tasks

SIDES = ["celery", "pynenc"]


def _app(side: str, main: str = "opts") -> Any:
    kind = celery.Celery if side == "celery" else Celery
    app = kind(main, broker="memory://", backend="cache+memory://", set_as_current=False)
    app.finalize()  # as on first use: Celery's decorator returns tasks, not promises
    return app


def _unique() -> str:
    return f"opts.{uuid.uuid4().hex}"


@pytest.fixture(params=SIDES)
def app(request: pytest.FixtureRequest) -> Any:
    """A fresh app of each side: Celery's own, then the compat one."""
    return _app(request.param)


def _add(x: int, y: int) -> int:
    return x + y


# -- options as attributes ----------------------------------------------------------------


def test_every_option_is_a_class_attribute_unknown_ones_too(app: Any) -> None:
    seen: list[Any] = []

    def on_failure(self: Any, exc: Any, *args: Any) -> None:
        seen.append((self, exc))

    task = app.task(
        name=_unique(), soft_time_limit=30, custom_option="mine", on_failure=on_failure
    )(_add)
    assert task.soft_time_limit == 30 and type(task).soft_time_limit == 30
    assert task.custom_option == "mine"
    task.on_failure("boom", "id", (), {}, None)  # a method: self is the task
    assert seen == [(task, "boom")]


def test_base_class_options_are_read_through_the_class_hierarchy(app: Any) -> None:
    class Base(celery.Task):  # type: ignore[misc]
        autoretry_for = (KeyError,)
        retry_kwargs: ClassVar[dict[str, int]] = {"max_retries": 1}
        max_retries = 7
        soft_time_limit = 10
        queue = "slow"

    task = app.task(name=_unique(), base=Base)(_add)
    assert (task.max_retries, task.soft_time_limit, task.queue) == (7, 10, "slow")
    assert isinstance(task, Base) and hasattr(task, "_orig_run")  # autoretry wrapped run
    if isinstance(app, Celery):
        conf = task.pynenc_task_for(app.pynenc).conf
        assert (conf.soft_timeout, conf.queue) == (10, "slow")


@pytest.mark.parametrize("shared_task", [celery.shared_task, pynenc_celery_compat.shared_task])
def test_shared_task_applied_twice_is_a_type_error(shared_task: Callable[..., Any]) -> None:
    def twice(x: int) -> int:
        return x

    once = shared_task(name=_unique())(twice)
    with pytest.raises(TypeError, match="more than once"):
        shared_task(once)


def test_default_names_and_main(app: Any) -> None:
    def named(x: int) -> int:
        return x

    task = app.task(named)
    assert task.name == f"{__name__}.named"

    def in_script(x: int) -> int:
        return x

    in_script.__module__ = "__main__"
    assert app.task(in_script).name == "opts.in_script"  # __main__: the app's main name


def test_duplicate_names_warn_and_keep_the_first(app: Any) -> None:
    name = _unique()
    first = app.task(name=name)(_add)

    def other(x: int, y: int) -> int:
        return x * y

    with pytest.warns(DuplicateTaskNameWarning):
        second = app.task(name=name)(other)
    assert second is first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert app.task(name=name)(_add) is first  # the same function again: no warning


# -- time limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("side", SIDES)
def test_time_limits_from_the_configuration(side: str) -> None:
    app = _app(side, "limits")
    app.conf.task_time_limit = 20
    app.conf.task_soft_time_limit = 10
    task = app.task(name=_unique())(_add)
    assert (task.time_limit, task.soft_time_limit) == (20, 10)  # Celery's bind
    if side == "pynenc":
        conf = task.pynenc_task_for(app.pynenc).conf
        assert (conf.timeout, conf.soft_timeout) == (20, 10)


def test_a_soft_limit_above_the_hard_one_fails_at_apply_async(app: Any) -> None:
    task = app.task(name=_unique(), time_limit=5, soft_time_limit=10)(_add)  # declared
    with pytest.raises(ValueError, match="soft_time_limit"):
        task.delay(1, 2)


def test_per_call_limits_are_checked_and_warned_about() -> None:
    task = tasks.compat_app.task(name=_unique())(_add)
    with pytest.raises(ValueError, match="soft_time_limit"):
        task.apply_async((1, 2), soft_time_limit=10, time_limit=5)
    with pytest.warns(UserWarning, match="time_limit"):
        task.apply_async((1, 2), time_limit=5)


def test_equal_soft_and_hard_limits_keep_the_hard_one() -> None:
    task = tasks.compat_app.task(name=_unique(), time_limit=10, soft_time_limit=10)(_add)
    conf = task.pynenc_task_for(tasks.pynenc_app).conf
    assert (conf.timeout, conf.soft_timeout) == (10, None)


# -- other options onto pynenc ----------------------------------------------------------------


def test_rate_limit_queue_priority_and_accepted_options() -> None:
    task = tasks.compat_app.task(
        name=_unique(),
        rate_limit="10/m",
        queue="reports",
        priority=200,
        acks_late=True,
        reject_on_worker_lost=True,
        retry_on_worker_lost=True,
        track_started=True,
    )(_add)
    conf = task.pynenc_task_for(tasks.pynenc_app).conf
    assert str(conf.rate_limit) == "10/m" and conf.queue == "reports"
    assert conf.priority == 9  # Celery's 0-255 onto pynenc's 0-9
    assert task.acks_late and task.reject_on_worker_lost and task.retry_on_worker_lost


def test_the_task_expires_attribute_is_each_calls_expiry() -> None:
    task = tasks.compat_app.task(name=_unique(), expires=600)(_add)
    result = task.delay(1, 2)
    record = tasks.pynenc_app.orchestrator.get_record(result.id)
    assert record.expires is not None
    shorter = task.apply_async((1, 2), expires=300)
    assert tasks.pynenc_app.orchestrator.get_record(shorter.id).expires < record.expires


@pytest.mark.parametrize(
    ("backoff", "maximum", "expected"),
    [
        (True, 600, [1, 2, 4, 8]),
        (2, 600, [2, 4, 8, 16]),
        (0.1, 600, [1, 2, 4, 8]),
        (3, 7, [3, 6, 7, 7]),
    ],
)
def test_autoretry_countdowns_follow_celerys_formula(
    backoff: Any, maximum: int, expected: list[int]
) -> None:
    """The countdown each autoretry passes to ``retry()`` on a runner (its ``Retry.when``,
    which becomes pynenc's retry delay), for retries 0-3: Celery's own formula."""
    task = tasks.compat_app.task(
        name=_unique(),
        autoretry_for=(KeyError,),
        retry_backoff=backoff,
        retry_backoff_max=maximum,
        retry_jitter=False,
        max_retries=None,
    )(_raise_key_error)
    delays = [_retry_delay(task, retries) for retries in range(4)]
    formula = [
        get_exponential_backoff_interval(int(max(1.0, backoff)), n, maximum) for n in range(4)
    ]
    assert delays == formula == expected


def test_autoretry_jitter_stays_within_the_backoff() -> None:
    task = tasks.compat_app.task(
        name=_unique(), autoretry_for=(KeyError,), retry_backoff=True, max_retries=None
    )(_raise_key_error)
    for retries in range(5):
        assert 0 <= _retry_delay(task, retries) <= 2**retries


def test_without_backoff_the_default_retry_delay_is_used() -> None:
    task = tasks.compat_app.task(name=_unique(), autoretry_for=(KeyError,), default_retry_delay=42)(
        _raise_key_error
    )
    assert _retry_delay(task, 0) == 42


def _raise_key_error() -> None:
    raise KeyError("again")


def _retry_delay(task: Any, retries: int) -> float:
    """The delay of the retry that ``task``'s run asks for at ``retries``, as on a runner
    (a request carrying a pynenc invocation)."""
    task.push_request(id="i", args=[], kwargs={}, retries=retries, pynenc_invocation=object())
    try:
        task.run()
    except Retry as signal:
        assert signal.when == signal.pynenc_delay
        return float(signal.pynenc_delay)
    finally:
        task.pop_request()
    raise AssertionError("no retry")


# -- patching, Django's on_commit ------------------------------------------------------------


@pytest.mark.parametrize("ns", ["CELERY", "COMPAT"])
def test_mock_patch_of_delay_by_dotted_path(ns: str) -> None:
    with mock.patch(f"tests.celery_compat.options_tasks.{ns}.add.delay") as delay:
        getattr(tasks, ns).add.delay(1, 2)
    delay.assert_called_once_with(1, 2)
    assert "delay" not in vars(getattr(tasks, ns).add)  # restored


@pytest.mark.parametrize("ns", ["CELERY", "COMPAT"])
def test_mocker_patches_delay_and_apply_async(ns: str, mocker: MockerFixture) -> None:
    task = getattr(tasks, ns).add
    delay = mocker.patch.object(task, "delay", return_value="sent")
    assert task.delay(1, 2) == "sent"
    delay.assert_called_once_with(1, 2)
    apply_async = mocker.patch.object(task, "apply_async")
    task.s(1, 2).delay()  # a signature sends through the task's apply_async
    apply_async.assert_called_once()
    assert apply_async.call_args.args[:2] == ((1, 2), {})


@pytest.fixture
def fake_django(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[[], Any]]]:
    """A ``django.db.transaction`` whose ``on_commit`` keeps the callbacks."""
    pending: list[Callable[[], Any]] = []
    django = types.ModuleType("django")
    db = types.ModuleType("django.db")
    transaction = types.ModuleType("django.db.transaction")
    transaction.on_commit = pending.append  # type: ignore[attr-defined]
    db.transaction = transaction  # type: ignore[attr-defined]
    django.db = db  # type: ignore[attr-defined]
    for name, module in (
        ("django", django),
        ("django.db", db),
        ("django.db.transaction", transaction),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    yield pending


def test_delay_on_commit_waits_for_the_transaction(
    fake_django: list[Callable[[], Any]], mocker: MockerFixture
) -> None:
    task = tasks.COMPAT.add
    delay = mocker.patch.object(task, "delay")
    apply_async = mocker.patch.object(task, "apply_async")
    assert task.delay_on_commit(1, 2) is None
    assert task.apply_async_on_commit((3, 4), countdown=5) is None
    delay.assert_not_called()
    for callback in fake_django:  # the transaction commits
        callback()
    delay.assert_called_once_with(1, 2)
    apply_async.assert_called_once_with((3, 4), countdown=5)


def test_delay_on_commit_without_django_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "django.db", None)  # import fails
    with pytest.raises(ImportError, match="django"):
        tasks.COMPAT.add.delay_on_commit(1, 2)


def test_pydantic_is_refused_with_a_clear_error() -> None:
    with pytest.raises(NotImplementedError, match="pydantic"):
        tasks.compat_app.task(name=_unique(), pydantic=True)(_add)


def test_the_queue_attribute_warns_as_in_celery_57(app: Any) -> None:
    with pytest.warns(CDeprecationWarning, match="'queue' task attribute"):
        app.task(name=_unique(), queue="reports")(_add)
