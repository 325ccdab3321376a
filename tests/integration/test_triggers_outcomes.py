"""Outcome triggers with two runner processes: each ended invocation of a watched task
fires the triggers it meets once, with its result or exception passed by a provider."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pynenc import InvocationStatus
from tests.integration import trigger_tasks as tasks
from tests.integration.trigger_helpers import KINDS, header, prepare, running, started

S = InvocationStatus
VALUES = [1, 2, 3, 4, 10]


@pytest.mark.parametrize("kind", KINDS)
def test_success_result_exception_and_status_fire_once_per_ended_invocation(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request) as setup:
        produced = {tasks.produce(v).invocation_id: v for v in VALUES}
        failed = [tasks.explode(k) for k in ("value", "key", "value")]
        ended = setup.app.orchestrator.wait_final_many([i.invocation_id for i in failed], 60)
        assert [r.status for r in ended] == [S.FAILED] * 3
        successes = setup.check_once("after_success", len(VALUES))
        evens = setup.check_once("after_even", 3)
        value_errors = setup.check_once("after_value_error", 2)
        statuses = setup.check_once("after_status", 3)

    # on_success: the provider passed each result and the invocation it came from
    assert {r["args"]["source"]: r["args"]["value"] for r in successes} == produced
    for run in successes:
        assert header(run)["kind"] == "status" and header(run)["status"] == "success"
        assert header(run)["invocation_id"] == run["args"]["source"]
    # on_result(filter): only the even results
    assert sorted(r["args"]["value"] for r in evens) == [2, 4, 10]
    assert {header(r)["kind"] for r in evens} == {"result"}
    # on_exception([ValueError]): the KeyError does not count; the exception is passed on
    assert [r["args"]["error"] for r in value_errors] == ["ValueError: boom value"] * 2
    value_ids = {failed[0].invocation_id, failed[2].invocation_id}
    assert {header(r)["invocation_id"] for r in value_errors} == value_ids
    # on_status(FAILED): every failure, the KeyError too
    assert sorted(r["args"]["source"] for r in statuses) == sorted(i.invocation_id for i in failed)
    assert {r["args"]["status"] for r in statuses} == {"failed"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancelled_invocation_fires_on_status_cancelled_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request) as setup:
        waiting = tasks.idle.with_options(delay=3600)(0.0)  # cancelled before it runs
        assert waiting.cancel("not needed").cancelled
        statuses = setup.check_once("after_status", 1)
        assert waiting.status is S.CANCELLED
    assert statuses[0]["args"] == {"status": "cancelled", "source": waiting.invocation_id}
    assert header(statuses[0])["status"] == "cancelled"


@pytest.mark.parametrize("kind", KINDS)
def test_an_invocation_that_expired_before_a_runner_claimed_it_fires_on_status_expired(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    setup = prepare(kind, tmp_path, request)
    late = tasks.idle.with_options(expires=0.5)(0.0)  # no runner yet: it will expire
    expires = late.history[0].timestamp + 0.5
    setup.wait(lambda: time.time() > expires, "the expiry")  # the wall clock: no event
    with started(setup):
        statuses = setup.check_once("after_status", 1)
        assert late.status is S.EXPIRED
    assert statuses[0]["args"] == {"status": "expired", "source": late.invocation_id}


@pytest.mark.parametrize("kind", KINDS)
def test_an_invocation_failed_for_running_past_its_time_limit_fires_on_exception(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request) as setup:
        slow = tasks.overrun(1.0)  # the thread runner gives up on it after 0.3 s
        assert setup.app.orchestrator.wait_final(slow.invocation_id, 60).status is S.FAILED
        errors = setup.check_once("after_timeout", 1)
        assert header(errors[0])["invocation_id"] == slow.invocation_id
    assert errors[0]["args"]["error"].startswith("TaskTimeoutError: ")
