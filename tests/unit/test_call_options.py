"""Per-call options and retry delays: checked when given, turned into times and records."""

from __future__ import annotations

import datetime as dt
import math
import random
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import InvocationConflictError, InvocationStatus, Pynenc, RetryError
from pynenc.call_options import CallOptions
from pynenc.conf import TaskConfig
from pynenc.exceptions import LONGEST_DELAY, ConfigError, PynencWarning
from pynenc.orchestrator.scheduling import retry_delay
from tests.apps import core

UTC = dt.UTC
S = InvocationStatus


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"delay": -1}, ValueError, "delay must be a finite number of seconds >= 0"),
        ({"delay": math.nan}, ValueError, "delay must be"),
        ({"delay": math.inf}, ValueError, "delay must be"),
        ({"delay": True}, ValueError, "delay must be"),
        ({"delay": "5"}, ValueError, "delay must be"),
        ({"eta": dt.datetime(2030, 1, 1)}, ValueError, "naive datetime is ambiguous"),
        ({"eta": 1234.5}, TypeError, "eta must be a timezone-aware datetime"),
        ({"delay": 1, "eta": dt.datetime.now(UTC)}, ValueError, "not both"),
        ({"expires": 0}, ValueError, "expires must be > 0"),
        ({"expires": -3}, ValueError, "expires must be a finite number of seconds > 0, or"),
        ({"expires": dt.datetime(2030, 1, 1)}, ValueError, "naive datetime"),
        ({"expires": "soon"}, ValueError, "seconds > 0, or a timezone-aware datetime"),
        ({"priority": 10}, ValueError, "priority must be an integer 0-9"),
        ({"priority": -1}, ValueError, "priority must be"),
        ({"priority": True}, ValueError, "priority must be"),
        ({"queue": ""}, ValueError, "queue must be a non-empty name"),
        ({"queue": "  "}, ValueError, "queue must be"),
        ({"invocation_id": ""}, ValueError, "without spaces"),
        ({"invocation_id": "two words"}, ValueError, "without spaces"),
        ({"invocation_id": "x" * 201}, ValueError, "at most 200"),
        # a due time or expiry past what a datetime holds (pynenc status could not show it)
        ({"delay": 1e300}, ValueError, "at most 3155760000 seconds"),
        ({"expires": 1e20}, ValueError, "expires=1e\\+20\\): at most"),
        # ids that cannot be typed or seen: NUL, other control and invisible characters
        ({"invocation_id": "nul\x00id"}, ValueError, "printable"),
        ({"invocation_id": "bell\x07"}, ValueError, "printable"),
        ({"invocation_id": "zero\u200bwidth"}, ValueError, "printable"),
    ],
)
def test_bad_options_are_refused_when_given(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        core.add.with_options(**options)


def test_times_count_from_the_call() -> None:
    assert CallOptions().times(100.0) == (None, None)
    assert CallOptions(delay=5).times(100.0) == (105.0, None)
    eta = dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert CallOptions(eta=eta).times(100.0) == (eta.timestamp(), None)
    assert CallOptions(expires=30).times(100.0) == (None, 130.0)
    until = dt.datetime(2030, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert CallOptions(delay=1, expires=until).times(100.0) == (101.0, until.timestamp())


def test_an_expiry_that_could_never_be_met_is_refused() -> None:
    past = dt.datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="already past"):
        CallOptions(expires=past).times(dt.datetime(2001, 1, 1, tzinfo=UTC).timestamp())
    with pytest.raises(ValueError, match="could never start"):
        CallOptions(delay=10, expires=10).times(100.0)


@pytest.fixture
def app() -> Iterator[Pynenc]:
    """The core app on memory, purged, no runner: calls stay where they are put."""
    core.app.conf.dev_mode_force_sync_tasks = False
    core.app.purge()
    yield core.app
    core.app.purge()


def test_the_call_s_own_queue_priority_and_times_are_stored(app: Pynenc) -> None:
    invocation = core.add.with_options(queue="urgent", priority=7, delay=60, expires=120)(1, 2)
    record = app.state_backend.get(invocation.invocation_id)
    assert record is not None
    assert (record.status, record.queue, record.priority) == (S.SCHEDULED, "urgent", 7)
    assert record.due is not None and record.expires == pytest.approx(record.due + 60, abs=1)
    # published again later (when due, redelivered, rerouted): the call's own priority
    envelope = app.orchestrator.envelope_for(record)
    assert (envelope.queue, envelope.priority) == ("urgent", 7)


def test_an_eta_already_past_is_published_at_once(app: Pynenc) -> None:
    past = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
    invocation = core.add.with_options(eta=past)(1, 2)
    assert invocation.status is S.REGISTERED
    record = app.state_backend.get(invocation.invocation_id)
    assert record is not None and record.due is None


def test_a_plain_call_writes_once_publishes_once_and_reads_nothing(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    backend, broker = app.state_backend, app.broker
    for owner, name in [
        (backend, "register"),
        (backend, "get"),
        (backend, "get_many"),
        (backend, "set_status_many"),
        (broker, "publish"),
    ]:
        original = getattr(owner, name)

        def spy(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(owner, name, spy)
    core.add(1, 2)
    core.add.parallelize([(i, i) for i in range(5)])
    assert calls == ["register", "publish", "register", "publish"]
    calls.clear()
    core.add.with_options(delay=30)(1, 2)
    assert calls == ["register"]  # scheduled: nothing published


def test_a_chosen_id_cannot_name_a_fan_out(app: Pynenc) -> None:
    with pytest.raises(ValueError, match="names one call"):
        core.add.with_options(invocation_id="one").parallelize([(1, 1), (2, 2)])


def test_dev_sync_mode_runs_at_once_and_keeps_chosen_ids(app: Pynenc) -> None:
    app.conf.dev_mode_force_sync_tasks = True
    try:
        with pytest.warns(PynencWarning, match="not waited for in dev sync mode"):
            assert core.add.with_options(delay=60)(1, 2).result == 3
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            first = core.add.with_options(invocation_id="sync-id", expires=5)(1, 2)
            again = core.add.with_options(invocation_id="sync-id")(1, 2)
        assert first is again and first.invocation_id == "sync-id"
        with pytest.raises(InvocationConflictError, match="other arguments"):
            core.add.with_options(invocation_id="sync-id")(2, 2)
        group = core.add.with_options(priority=3).parallelize([(1, 1), (2, 2)])
        assert list(group.results) == [2, 4]
        assert core.direct_add.with_options(queue="q")(1) == 11  # type: ignore[attr-defined]
    finally:
        app.conf.dev_mode_force_sync_tasks = False


# -- retry delays ------------------------------------------------------------------------------


def test_retry_delay_constant_backoff_and_cap() -> None:
    error = ValueError("x")
    assert retry_delay(TaskConfig(), error, 1) == 0.0
    assert [retry_delay(TaskConfig(retry_delay=2.0), error, n) for n in (1, 2, 3)] == [2, 2, 2]
    backoff = TaskConfig(retry_delay=0.5, retry_backoff=2.0, retry_backoff_max=3.0)
    assert [retry_delay(backoff, error, n) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 3, 3]


def test_retry_jitter_stays_within_the_computed_delay() -> None:
    conf = TaskConfig(retry_delay=1.0, retry_backoff=2.0, retry_jitter=True)
    random.seed(7)
    delays = [retry_delay(conf, ValueError(), 3) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # spread out, not one value


def test_retry_error_delay_is_used_as_given() -> None:
    conf = TaskConfig(retry_delay=1.0, retry_backoff=10.0, retry_jitter=True)
    assert retry_delay(conf, RetryError(delay=0.25), 4) == 0.25
    assert retry_delay(conf, RetryError(), 1) <= 1.0  # no delay given: the task's rule
    assert RetryError("why", delay=3).args == ("why",)
    with pytest.raises(ValueError, match="a number of seconds from 0 to"):
        RetryError(delay=-1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_backoff": 2.0}, "retry_backoff.*multiplies retry_delay, which is 0"),
        ({"retry_delay": -1}, "task.retry_delay must be a finite number of seconds >= 0"),
        ({"retry_delay": "inf"}, "task.retry_delay must be"),
        ({"retry_delay": 1, "retry_backoff": 0.5}, "task.retry_backoff must be a number >= 1"),
        ({"retry_delay": 1, "retry_backoff": True}, "not a switch .Celery's retry_backoff=True"),
        ({"retry_backoff_max": -2}, "task.retry_backoff_max must be"),
        ({"retry_jitter": "sometimes"}, "task.retry_jitter must be a boolean"),
    ],
)
def test_bad_retry_options_name_the_option(options: dict[str, Any], message: str) -> None:
    app = Pynenc(app_id="retry-options")
    with pytest.raises(ConfigError, match=message):
        app.conf.task_config("mod.task", options)


def test_retry_options_from_text() -> None:
    app = Pynenc(app_id="retry-options")
    conf = app.conf.task_config(
        "mod.task",
        {
            "retry_delay": "1.5",
            "retry_backoff": "2",
            "retry_backoff_max": "none",
            "retry_jitter": "yes",
        },
    )
    assert (conf.retry_delay, conf.retry_backoff, conf.retry_backoff_max, conf.retry_jitter) == (
        1.5,
        2.0,
        None,
        True,
    )


def test_only_an_expiring_call_carries_its_expiry_in_the_message() -> None:
    from pynenc.broker.envelope import Envelope, decode_message, encode_batch

    plain = Envelope("a", "mod.task", {"x": "1"}, "json")
    assert "expires" not in plain.encode()
    assert Envelope.decode(plain.encode()) == plain
    expiring = Envelope("b", "mod.task", {"x": "1"}, "json", expires=1234.5)
    assert Envelope.decode(expiring.encode()) == expiring
    batch = [expiring, Envelope("c", "mod.task", {"x": "2"}, "json", expires=1234.5)]
    assert decode_message(encode_batch(batch)) == batch
    with pytest.raises(ValueError, match="one task"):
        encode_batch([plain, expiring])  # different expiries never share a message


def test_a_backoff_never_overflows_a_due_time() -> None:
    # a long run of retries: the power overflows a float, or the delay a datetime
    capped = TaskConfig(retry_delay=1.0, retry_backoff=2.0, retry_backoff_max=60.0)
    assert retry_delay(capped, ValueError(), 1100) == 60.0
    uncapped = TaskConfig(retry_delay=1.0, retry_backoff=2.0)
    assert retry_delay(uncapped, ValueError(), 1100) == LONGEST_DELAY
    assert retry_delay(uncapped, ValueError(), 60) == LONGEST_DELAY
    assert retry_delay(TaskConfig(retry_delay=1.0, retry_backoff=1.0), ValueError(), 9**6) == 1.0


def test_retry_error_refuses_a_delay_past_any_date() -> None:
    assert RetryError(delay=LONGEST_DELAY).delay == LONGEST_DELAY
    with pytest.raises(ValueError, match="from 0 to 3155760000"):
        RetryError(delay=1e300)
