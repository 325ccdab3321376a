"""Chords of compat tasks on a pynenc runner (memory and Redis): released by the header's
count, no ``chord_unlock``; failures as Celery 5.7 reports them."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from celery import states
from celery.exceptions import ChordError

from pynenc_celery_compat import AsyncResult, GroupResult, chain, chord, group
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401
from tests.celery_compat.canvas_tasks import note_exists, read_note

T = WAIT


def test_a_chords_body_gets_the_ordered_results(canvas: ModuleType) -> None:
    result = chord([canvas.add.s(i, i) for i in range(10)], canvas.echo.s()).delay()
    assert result.get(timeout=T) == [[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]], {}]
    assert isinstance(result.parent, GroupResult)
    assert result.parent.get(timeout=T) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    called = chord([canvas.add.s(1, 1), canvas.add.s(2, 2)])(canvas.tsum.s())
    assert called.get(timeout=T) == 6
    generated = chord(canvas.add.s(i, i) for i in range(4))(canvas.tsum.s())  # README's
    assert generated.get(timeout=T) == 12
    assert chord([canvas.add.s(1), canvas.add.s(2)], canvas.tsum.s()).delay(10).get(timeout=T) == 23
    assert chord([], canvas.tsum.s()).delay().get(timeout=T) == 0


def test_group_then_task_is_a_chord_in_a_chain(canvas: ModuleType) -> None:
    upgraded = group(canvas.add.s(1, 1), canvas.add.s(2, 2)) | canvas.tsum.s()
    assert isinstance(upgraded, chord) and upgraded.delay().get(timeout=T) == 6
    steps = chain(
        canvas.add.s(1, 1),
        group(canvas.add.s(1), canvas.add.s(2)),
        canvas.tsum.s(),
        canvas.add.s(100),
    )
    result = steps.delay()
    assert result.get(timeout=T) == 107
    assert result.parent.get(timeout=T) == 7
    assert isinstance(result.parent.parent, GroupResult)
    assert result.parent.parent.parent.get(timeout=T) == 2


def test_nested_chords(canvas: ModuleType) -> None:
    inner = chord([canvas.add.s(1, 1), canvas.add.s(2, 2)], canvas.tsum.s())
    assert chord([inner, canvas.add.s(3, 3)], canvas.tsum.s()).delay().get(timeout=T) == 12
    members = group(chain(canvas.add.s(1), canvas.add.s(1)), canvas.add.s(5))
    assert chain(canvas.add.s(1, 1), members, canvas.tsum.s()).delay().get(timeout=T) == 11
    body_chain = chord([canvas.add.s(1, 1)], canvas.tsum.s() | canvas.mul.s(10))
    result = body_chain.delay()
    assert result.get(timeout=T) == 20 and result.parent.get(timeout=T) == 2
    assert isinstance(result.parent.parent, GroupResult)
    both = group(
        canvas.add.s(1, 1), chord([canvas.add.s(1, 1), canvas.add.s(2, 2)], canvas.tsum.s())
    )
    assert both.delay().get(timeout=T) == [2, 6]


def test_a_failed_member_gives_the_body_a_chord_error(canvas: ModuleType) -> None:
    result = chord(
        [canvas.add.s(1, 1), canvas.boom.s(), canvas.add.s(2, 2)], canvas.tsum.s()
    ).delay()
    with pytest.raises(ValueError, match="boom"):  # the member's, through ``parent``
        result.get(timeout=T)
    failed = result.parent.results[1]
    assert result.state == states.FAILURE and isinstance(result.result, ChordError)
    assert str(result.result) == f"Dependency {failed.id} raised ValueError('boom')"
    with pytest.raises(ChordError):  # the body's own error, read by id
        AsyncResult(result.id, app=canvas.app).get(timeout=T)
    # a chain after the chord fails with it
    after = chain(chord([canvas.boom.s()], canvas.tsum.s()), canvas.add.s(1)).delay()
    with pytest.raises(ValueError):
        after.get(timeout=T)
    assert re.fullmatch(r"Dependency \S+ raised ValueError\('boom'\)", str(after.result))
    assert isinstance(after.result, ChordError) and isinstance(after.parent.result, ChordError)


def test_a_failure_before_the_chord_is_its_own_error(canvas: ModuleType) -> None:
    result = chain(canvas.boom.s(1), chord([canvas.add.si(1, 1)], canvas.tsum.s())).delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    assert repr(result.result) == "ValueError('boom')"
    inner = chord([chain(canvas.add.s(1, 1), canvas.boom.s()), canvas.add.s(2, 2)], canvas.tsum.s())
    result = inner.delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    assert isinstance(result.result, ChordError)  # failed in the header: a ChordError


@pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")  # Celery's
def test_a_chords_errback_gets_the_chord_error(canvas: ModuleType) -> None:
    sig = chord([canvas.add.s(1, 1), canvas.boom.s()], canvas.tsum.s())
    result = sig.on_error(canvas.errback_new.s("chord-errback")).delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    seen = read_note("chord-errback")
    assert seen["id"] == result.id and seen["task"] == canvas.tsum.name
    assert (seen["args"], seen["exc_type"], seen["traceback"]) == ([], "ChordError", None)
    assert seen["exc"] == repr(result.result)
    linked = chord([canvas.boom.s()], canvas.tsum.s()).apply_async(
        link_error=canvas.errback_old.s()
    )
    assert read_note(f"old-{linked.id}") == linked.id


def _callbacks_done(canvas: ModuleType, invocation_id: str) -> None:
    """Wait until every callback of ``invocation_id`` has ended (run, skipped or not
    needed)."""
    orchestrator = canvas.app.pynenc.orchestrator
    links = orchestrator.get_record(invocation_id).links
    for follower in links.then if links is not None else ():
        orchestrator.wait_final(follower, T)


@pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")  # Celery's
def test_a_failure_before_the_chord_calls_no_chord_errback(canvas: ModuleType) -> None:
    """As Celery: the step that failed calls its errbacks; the chord's body, failed by it,
    calls none (a chain's errback runs once, a chord's own not at all)."""
    whole = chain(canvas.boom.s(1), chord([canvas.add.si(1, 1)], canvas.tsum.s()))
    result = whole.on_error(canvas.errback_old.s()).delay()
    first = result.parent.parent
    assert read_note(f"old-{first.id}") == first.id
    _callbacks_done(canvas, result.id)
    assert not note_exists(f"old-{result.id}")
    own = chord([canvas.add.si(1, 1)], canvas.tsum.s()).on_error(canvas.errback_old.s())
    result = chain(canvas.boom.s(1), own).delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    _callbacks_done(canvas, result.id)
    assert not note_exists(f"old-{result.id}")


def test_an_empty_header_in_a_chain(canvas: ModuleType) -> None:
    result = chain(canvas.add.s(1, 1), chord([], canvas.echo.s())).delay()
    assert result.get(timeout=T) == [[[]], {}]


def test_chord_freeze_and_a_group_body_followed_by_a_step(canvas: ModuleType) -> None:
    sig = chord([canvas.add.s(1, 1), canvas.add.s(2, 2)], canvas.tsum.s())
    frozen = sig.freeze()
    result = sig.apply_async()
    assert (result.id, result.parent.id) == (frozen.id, frozen.parent.id)
    assert result.get(timeout=T) == 6
    two_bodies = chord(
        [canvas.add.si(1, 1), canvas.add.si(2, 2)], group(canvas.tsum.s(), canvas.tsum.s())
    )
    result = chain(two_bodies, canvas.echo.s()).delay()  # the step gets the body group's list
    assert result.get(timeout=T) == [[[6, 6]], {}]
    steps = canvas.add.s(1, 1) | group(canvas.add.s(1), canvas.add.s(2)) | canvas.tsum.s()
    assert (steps | group(canvas.add.s(1), canvas.add.s(2))).delay().get(timeout=T) == [8, 9]
