"""Chains and callbacks of compat tasks on a pynenc runner (memory and Redis), as Celery 5.7
runs them (each expectation checked against a Celery worker on Redis)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from celery import states

from pynenc_celery_compat import AsyncResult, Signature, chain, signature
from pynenc_celery_compat.canvas import _chain
from pynenc_celery_compat.result import GroupResult
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401
from tests.celery_compat.canvas_tasks import read_note

T = WAIT


def test_a_chain_passes_each_result_first(canvas: ModuleType) -> None:
    result = chain(canvas.add.s(1, 2), canvas.add.s(3), canvas.mul.s(10)).apply_async()
    assert result.get(timeout=T) == 60
    assert result.parent.get(timeout=T) == 6 and result.parent.parent.get(timeout=T) == 3
    assert result.parent.parent.parent is None
    assert isinstance(result, AsyncResult) and result.state == states.SUCCESS


def test_pipe_s_si_and_partial_arguments(canvas: ModuleType) -> None:
    pipe = canvas.add.s(1, 1) | canvas.echo.s("x", k=1)
    assert isinstance(pipe, _chain) and isinstance(canvas.add.s(), Signature)  # as Celery
    assert pipe.delay().get(timeout=T) == [[2, "x"], {"k": 1}]
    # new positional arguments go first, keyword arguments are merged
    assert canvas.echo.s(2, k=1).delay(1, j=2).get(timeout=T) == [[1, 2], {"k": 1, "j": 2}]
    assert (canvas.add.si(1, 1) | canvas.echo.si(7)).delay().get(timeout=T) == [[7], {}]
    assert chain(canvas.add.s(1), canvas.add.s(2)).delay(10).get(timeout=T) == 13


def test_apply_runs_inline_and_options_go_to_the_first_step(canvas: ModuleType) -> None:
    assert chain(canvas.add.s(1, 1), canvas.add.s(2)).apply().get() == 4  # Celery's tracer
    delayed = chain(canvas.add.s(1, 1), canvas.add.s(2)).apply_async(countdown=0.5)
    assert delayed.get(timeout=T) == 4


def test_a_waiting_step_is_pending_and_known(canvas: ModuleType, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    result = (canvas.gated.s(5, str(gate)) | canvas.add.s(1)).delay()
    assert result.state == states.PENDING and result.exists()  # registered, waiting
    gate.write_text("go")
    assert result.get(timeout=T) == 6


def test_a_failed_step_fails_the_rest_and_get_raises_its_error(canvas: ModuleType) -> None:
    result = chain(canvas.add.s(1, 2), canvas.boom.s(), canvas.add.s(5), canvas.mul.s(2)).delay()
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=T)
    chain_states = [result.state, result.parent.state, result.parent.parent.state]
    assert chain_states == [states.FAILURE] * 3
    assert result.parent.parent.parent.state == states.SUCCESS
    assert repr(result.result) == "ValueError('boom')"


def test_link_callbacks_get_the_result_first(canvas: ModuleType) -> None:
    result = canvas.add.apply_async(
        (1, 1),
        link=[canvas.note.s("two-links-a"), canvas.note.si("b", "two-links-b")],
    )
    assert result.get(timeout=T) == 2
    assert read_note("two-links-a") == 2 and read_note("two-links-b") == "b"
    # a chain as the callback: the value goes to its first step
    canvas.add.apply_async((2, 2), link=canvas.add.s(10) | canvas.note.s("link-chain"))
    assert read_note("link-chain") == 14
    # a chain's link goes to its last step
    chain(canvas.add.s(1, 1), canvas.add.s(1)).apply_async(link=canvas.note.s("chain-link"))
    assert read_note("chain-link") == 3


def test_new_and_old_style_errbacks(canvas: ModuleType) -> None:
    errbacks = [canvas.errback_new.s("new"), canvas.errback_old.s(), canvas.errback_bound.s()]
    result = canvas.boom.apply_async((1,), link=canvas.note.s("never"), link_error=errbacks)
    with pytest.raises(ValueError):
        result.get(timeout=T)
    seen = read_note("new")
    assert seen["request_type"] == "Context" and seen["id"] == result.id
    assert (seen["task"], seen["args"], seen["kwargs"]) == (canvas.boom.name, [1], {})
    assert seen["exc"] == "ValueError('boom')"
    assert seen["traceback"].startswith("Traceback (most recent call last)")
    assert read_note(f"old-{result.id}") == result.id
    task_id, own_id = read_note(f"bound-{result.id}")
    assert task_id == result.id and own_id != result.id


def test_a_chains_errback_runs_once_for_the_step_that_failed(canvas: ModuleType) -> None:
    for how, key in (("on_error", "chain-on-error"), ("link_error", "chain-link-error")):
        steps = chain(canvas.add.s(1, 1), canvas.boom.s(), canvas.add.s(1))
        errback = canvas.errback_new.s(key)
        if how == "on_error":
            result = steps.on_error(errback).delay()
        else:
            result = steps.apply_async(link_error=errback)
        with pytest.raises(ValueError):
            result.get(timeout=T)
        seen = read_note(key)
        assert seen["id"] == result.parent.id and seen["args"] == [2]  # what it received


def test_freeze_gives_the_ids_the_run_uses(canvas: ModuleType) -> None:
    sig = canvas.add.s(1, 2)
    frozen = sig.freeze()
    assert sig.apply_async().id == frozen.id == sig.id
    steps = chain(canvas.add.s(1, 2), canvas.add.s(3))
    frozen = steps.freeze()
    result = steps.apply_async()
    assert (result.id, result.parent.id) == (frozen.id, frozen.parent.id)
    assert frozen.get(timeout=T) == 6
    chosen = chain(canvas.add.s(1, 1), canvas.add.s(1)).apply_async(task_id="my-last-step")
    assert chosen.id == "my-last-step" and chosen.get(timeout=T) == 3


def test_a_chain_ending_in_a_group_returns_its_group_result(canvas: ModuleType) -> None:
    from pynenc_celery_compat import group

    result = chain(canvas.add.s(1, 1), group(canvas.add.s(1), canvas.add.s(2))).delay()
    assert isinstance(result, GroupResult) and result.get(timeout=T) == [3, 4]
    assert result.parent.get(timeout=T) == 2


def test_signatures_travel_as_dicts(canvas: ModuleType) -> None:
    original = canvas.add.s(2, 3).set(countdown=0)
    rebuilt = signature(dict(original), app=canvas.app)
    assert isinstance(rebuilt, Signature) and rebuilt == original
    assert rebuilt.delay().get(timeout=T) == 5
    sent = json.loads(json.dumps(chain(canvas.add.s(1, 1), canvas.mul.s(3))))  # as a message
    again = signature(sent, app=canvas.app)
    assert isinstance(again, _chain) and again.delay().get(timeout=T) == 6
    assert original.clone(args=(1,)).args == (1, 2, 3)
    assert isinstance(original.clone(), Signature)


def test_revoking_a_waiting_step_fails_the_rest_as_revoked(
    canvas: ModuleType, tmp_path: Path
) -> None:
    from pynenc_celery_compat.exceptions import TaskRevokedError

    gate = tmp_path / "gate"
    result = chain(canvas.gated.s(1, str(gate)), canvas.add.s(1), canvas.add.s(2)).delay()
    result.parent.revoke()  # waiting: it never runs
    assert result.parent.state == states.REVOKED
    gate.write_text("go")
    with pytest.raises(TaskRevokedError, match="revoked"):
        result.get(timeout=T)
    assert result.state == states.FAILURE and isinstance(result.result, TaskRevokedError)
    assert result.parent.parent.get(timeout=T) == 1
