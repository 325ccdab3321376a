"""A delay on a step that waits (``sig.with_options(delay=/eta=)`` on a later chain step,
a chord body, an error callback): the step starts no earlier than its delay after what it
waited for ended, published by the scheduler when due, never early by the runner that
ended its parent. Real runners: memory (a ThreadRunner in this process) and Redis (a
ThreadRunner and a ProcessRunner started through the CLI, a fresh database).

Times are read from the recorded history (the parent's final entry, the step's RUNNING
entry); upper bounds are generous (a loaded two-core machine).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import ChainRun, InvocationStatus, chain, chord
from pynenc.exceptions import PynencWarning
from pynenc.runner.followers import PUBLISHED_BY
from pynenc.testing import sync_mode
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import (
    TIMEOUT,
    Setup,
    deployed,
    result_of,
    setup_id,
)

S = InvocationStatus
SETUPS = [("memory", "ThreadRunner"), ("redis", "ThreadRunner"), ("redis", "ProcessRunner")]
#: the longest a due step may take to start on a loaded machine (scheduler pass, publish,
#: claim): generous, never a timing assertion of its own
SLACK = 30.0


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    yield from deployed(request, tmp_path_factory)


def _entry(setup: Setup, invocation_id: str, status: InvocationStatus) -> tuple[float, str]:
    """The timestamp and reason of the first ``status`` entry of ``invocation_id``."""
    for entry in setup.app.state_backend.history(invocation_id):
        if entry.status is status:
            return entry.timestamp, entry.reason or ""
    raise AssertionError(f"{invocation_id} never went {status.name}")


def _ended(setup: Setup, invocation_id: str) -> float:
    """When ``invocation_id`` ended (its final entry)."""
    entries = setup.app.state_backend.history(invocation_id)
    final = [e for e in entries if e.status.is_final]
    assert final, f"{invocation_id} has not ended"
    return final[-1].timestamp


def _started_after(setup: Setup, step_id: str, since: float, delay: float) -> None:
    """``step_id`` started at least ``delay`` s after ``since``, and was published when
    due by the scheduler, not at once by the runner that ended what it waited for."""
    started, _ = _entry(setup, step_id, S.RUNNING)
    assert started - since >= delay - 1e-3, f"started {started - since:.3f} s after, not {delay}"
    assert started - since < delay + SLACK
    _, published = _entry(setup, step_id, S.REGISTERED)
    assert published.startswith("due"), published
    assert not published.startswith(PUBLISHED_BY)


def test_a_later_chain_step_starts_its_delay_after_the_step_before(setup: Setup) -> None:
    run = (t.add.sig(1, 2) | t.mul.sig(10).with_options(delay=1.5) | t.add.sig(5)).run()
    assert isinstance(run, ChainRun)
    assert result_of(run) == 35
    first, delayed, last = (step.invocation_id for step in run.invocations)
    _started_after(setup, delayed, _ended(setup, first), 1.5)
    released, reason = _entry(setup, delayed, S.SCHEDULED)
    assert released == _ended(setup, first) and reason == f"released by {first}"
    record = setup.app.state_backend.get(delayed)
    assert record is not None and record.due == pytest.approx(released + 1.5)
    # the step after it has no delay: due when the delayed one ended, published by the
    # runner that ended it (or by the scheduler's pass, which may find it due first)
    released_last, _ = _entry(setup, last, S.SCHEDULED)
    record = setup.app.state_backend.get(last)
    assert record is not None and record.due == pytest.approx(released_last)
    _, published = _entry(setup, last, S.REGISTERED)
    assert published == PUBLISHED_BY + delayed or published.startswith("due"), published


def test_an_eta_on_a_later_step_is_not_before_that_time(setup: Setup) -> None:
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    run = chain(t.add.sig(1, 2), t.mul.sig(2).with_options(eta=eta)).run()
    assert result_of(run) == 6
    first, at_eta = (step.invocation_id for step in run.invocations)
    started, _ = _entry(setup, at_eta, S.RUNNING)
    assert eta.timestamp() - 1e-3 <= started < eta.timestamp() + SLACK
    assert _ended(setup, first) < eta.timestamp(), "the parent ended before the eta"
    _, published = _entry(setup, at_eta, S.REGISTERED)
    assert published.startswith("due")


def test_a_delayed_chord_body_and_error_callback(setup: Setup, tmp_path: Path) -> None:
    counter = str(tmp_path / "errbacks")
    run = chord([t.add.sig(i, i) for i in range(3)], t.total.sig().with_options(delay=1.0)).run()
    assert result_of(run) == 6
    members = [inv.invocation_id for inv in run.steps[0].invocations]  # type: ignore[union-attr]
    body = run.invocations[-1].invocation_id
    # released by the member whose end brought the count to zero (its end's timestamp;
    # ends written out of their time order may make it not the latest of them)
    released, reason = _entry(setup, body, S.SCHEDULED)
    releaser = reason.removeprefix("released by ")
    assert releaser in members and released == _ended(setup, releaser)
    _started_after(setup, body, released, 1.0)

    failing = t.boom.sig(1).on_error(t.on_failure.sig(counter).with_options(delay=1.0)).run()
    stored = setup.app.state_backend.get(failing.invocation_id)
    assert stored is not None and stored.links is not None
    (errback,) = stored.links.then
    (record,) = setup.app.orchestrator.wait_final_many([errback], TIMEOUT)
    assert record.status is S.SUCCESS and len(lines(counter)) == 1
    _started_after(setup, errback, _ended(setup, failing.invocation_id), 1.0)


def test_a_delayed_step_released_at_registration_waits_too(setup: Setup) -> None:
    """Run again after a named step has ended: the new delayed step is released as it is
    registered, and the caller leaves it to the scheduler (it publishes those due now)."""
    named = f"delay-first-{uuid.uuid4().hex}"
    first = t.add.sig(1, 2).with_options(invocation_id=named)
    assert result_of(first.run()) == 3
    run = (first | t.mul.sig(10).with_options(delay=1.5)).run()
    assert result_of(run) == 30
    delayed = run.invocations[-1].invocation_id
    released, _ = _entry(setup, delayed, S.SCHEDULED)
    _started_after(setup, delayed, released, 1.5)


def test_a_delayed_step_due_after_its_expiry_ends_expired(setup: Setup) -> None:
    """``expires`` counts from the call, the delay from the release: a step that falls
    due after its expiry never starts (EXPIRED), and the step after it fails."""
    run = (
        t.add.sig(1, 2).with_options(delay=1.0)
        | t.mul.sig(2).with_options(delay=1.0, expires=1.5)
        | t.add.sig(1)
    ).run()
    _, expired, after = setup.app.orchestrator.wait_final_many(
        [inv.invocation_id for inv in run.invocations], TIMEOUT
    )
    assert expired.status is S.EXPIRED and after.status is S.FAILED
    assert [e.status for e in setup.app.state_backend.history(expired.invocation_id)] == [
        S.WAITING,
        S.SCHEDULED,
        S.EXPIRED,
    ]


def test_dev_sync_mode_runs_a_delayed_step_at_once() -> None:
    """As for a plain call with a delay: not waited for, with a warning."""
    with sync_mode(t.app), pytest.warns(PynencWarning, match="not waited for"):
        started = time.monotonic()
        run = (t.add.sig(1, 2) | t.mul.sig(10).with_options(delay=600)).run()
        assert run.result == 30
    assert time.monotonic() - started < 60
