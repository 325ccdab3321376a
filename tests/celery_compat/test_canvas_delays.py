"""``countdown``/``eta`` on a step that waits, on a pynenc runner (memory and Redis), as
Celery 5.7 runs them (checked against a Celery worker on Redis): a later chain step, a
``link`` callback, a chord body and an old-style ``link_error`` start their countdown after
what they follow ended (Celery's worker sends them then); a chord's own countdown as a
later chain step delays its header; a new-style errback (a function call in Celery's
worker) runs at once.

Times come from pynenc's recorded history; upper bounds are generous.
"""

from __future__ import annotations

import datetime as dt
from types import ModuleType

import pytest
from celery import states

from pynenc.records import InvocationStatus
from pynenc.runner.followers import PUBLISHED_BY
from pynenc_celery_compat import chain, chord
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401
from tests.celery_compat.canvas_tasks import pynenc_app, read_note

S = InvocationStatus
T = WAIT
#: the longest a due step may take to start on a loaded machine
SLACK = 30.0


def _entry(invocation_id: str, status: InvocationStatus) -> tuple[float, str]:
    for entry in pynenc_app.state_backend.history(invocation_id):
        if entry.status is status:
            return entry.timestamp, entry.reason or ""
    raise AssertionError(f"{invocation_id} never went {status.name}")


def _ended(invocation_id: str) -> float:
    final = [e for e in pynenc_app.state_backend.history(invocation_id) if e.status.is_final]
    assert final, f"{invocation_id} has not ended"
    return final[-1].timestamp


def _waited(step_id: str, since: float, seconds: float) -> None:
    """``step_id`` started ``seconds`` or more after ``since``, published when due."""
    started, _ = _entry(step_id, S.RUNNING)
    assert seconds - 1e-3 <= started - since < seconds + SLACK, started - since
    _, published = _entry(step_id, S.REGISTERED)
    assert published.startswith("due"), published


def _at_once(step_id: str, ended_id: str = "") -> None:
    """``step_id`` was due when it was released, and published by the runner that ended
    ``ended_id`` (any runner's end: ``""``), or by the scheduler's pass, which may find it
    due first on a loaded machine."""
    released, _ = _entry(step_id, S.SCHEDULED)
    record = pynenc_app.state_backend.get(step_id)
    assert record is not None and record.due == pytest.approx(released), (record, released)
    _, published = _entry(step_id, S.REGISTERED)
    assert published.startswith(PUBLISHED_BY + ended_id) or published.startswith("due"), published


def test_a_countdown_on_a_later_chain_step_counts_from_the_step_before(
    canvas: ModuleType,
) -> None:
    result = chain(canvas.add.s(1, 2), canvas.add.s(3).set(countdown=1.5)).apply_async()
    assert result.get(timeout=T) == 6 and result.state == states.SUCCESS
    _waited(result.id, _ended(result.parent.id), 1.5)
    # the chain's own countdown goes to its first step only (as before)
    delayed = chain(canvas.add.s(1, 1), canvas.mul.s(3)).apply_async(countdown=1.0)
    assert delayed.get(timeout=T) == 6
    _at_once(delayed.id, delayed.parent.id)


def test_an_eta_on_a_later_chain_step(canvas: ModuleType) -> None:
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    result = chain(canvas.add.s(1, 2), canvas.mul.s(2).set(eta=eta)).apply_async()
    assert result.get(timeout=T) == 6
    started, _ = _entry(result.id, S.RUNNING)
    assert eta.timestamp() - 1e-3 <= started < eta.timestamp() + SLACK


def test_a_countdown_on_a_link_callback_and_a_chord_body(canvas: ModuleType) -> None:
    callback = canvas.note.s("delayed-link").set(countdown=1.0)
    linked = callback.freeze()
    parent = canvas.add.apply_async((1, 1), link=callback)
    assert parent.get(timeout=T) == 2 and read_note("delayed-link") == 2
    _waited(linked.id, _ended(parent.id), 1.0)

    body = chord([canvas.add.s(1, 1), canvas.add.s(2, 2)], canvas.tsum.s().set(countdown=1.0))
    result = body.apply_async()
    assert result.get(timeout=T) == 6
    # from the end of the member that released it (the last end written)
    released, reason = _entry(result.id, S.SCHEDULED)
    releaser = reason.removeprefix("released by ")
    assert releaser in {member.id for member in result.parent.results}
    assert released == _ended(releaser)
    _waited(result.id, released, 1.0)


def test_a_chord_countdown_as_a_later_chain_step_delays_its_header(canvas: ModuleType) -> None:
    header = chord([canvas.add.s(1), canvas.add.s(2)], canvas.tsum.s()).set(countdown=1.0)
    result = chain(canvas.add.s(1, 1), header).apply_async()
    assert result.get(timeout=T) == 7
    first = result.parent.parent
    for member in result.parent.results:
        _waited(member.id, _ended(first.id), 1.0)
    # the body is not delayed again: due when the last member ended
    _at_once(result.id)


def _errback_of(failed_id: str) -> str:
    """The id of the one error callback registered with ``failed_id``."""
    record = pynenc_app.state_backend.get(failed_id)
    assert record is not None and record.links is not None
    (errback,) = record.links.then
    return errback


def test_errback_countdown_old_style_waits_new_style_runs_at_once(canvas: ModuleType) -> None:
    failed = canvas.boom.apply_async((1,), link_error=canvas.errback_old.s().set(countdown=1.0))
    assert read_note(f"old-{failed.id}", timeout=T) == failed.id
    old = _errback_of(failed.id)
    pynenc_app.orchestrator.wait_final_many([old], T)
    _waited(old, _ended(failed.id), 1.0)

    # its countdown is far beyond T: noted within T, it ran at once
    new = canvas.errback_new.s("new-delayed").set(countdown=10 * T)
    failed = canvas.boom.apply_async((2,), link_error=new)
    assert read_note("new-delayed", timeout=T)["id"] == failed.id
    _at_once(_errback_of(failed.id), failed.id)
