"""A hostile user's compositions at run time, on real runners: cancels in the middle of a
chord, expiry and retries of steps, error callbacks that fail, async and cached tasks.
Nothing may be lost, run twice, or leave a waiter that never wakes.

Every setup of :data:`tests.integration.qa_compose_helpers.SETUPS` (memory, SQLite and
Redis; thread, process and persistent-process runners). Runs are counted in files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import DependencyError, InvocationCancelledError, InvocationStatus, chain, chord, group
from pynenc.invocation.distributed import DistributedInvocation
from tests.apps import qa_compose as q
from tests.apps.qa_compose import lines
from tests.integration.compose_helpers import TIMEOUT, final_records, result_of, statuses
from tests.integration.deployments import wait_until
from tests.integration.qa_compose_helpers import SETUPS, QaSetup, qa_setup, setup_id

S = InvocationStatus


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QaSetup]:
    yield from qa_setup(request, tmp_path_factory)


@pytest.fixture
def counter(tmp_path: Path) -> str:
    return str(tmp_path / f"runs-{uuid.uuid4().hex[:6]}")


def _errbacks(setup: QaSetup, counter: str) -> list[S]:
    """The final statuses of the error callbacks whose arguments name ``counter``."""
    backend = setup.app.state_backend
    ids = backend.find(task_id=q.errback.task_id.key) + backend.find(
        task_id=q.bad_errback.task_id.key
    )
    records = [r for r in backend.get_many(ids) if r and counter in "".join(r.arguments.values())]
    ended = setup.app.orchestrator.wait_final_many([r.invocation_id for r in records], TIMEOUT)
    return sorted(r.status for r in ended)


def test_a_running_chord_member_cancelled_fails_the_body_at_once(
    setup: QaSetup, counter: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    members = [q.gated.sig(i, str(gate), counter, f"m{i}") for i in range(3)]
    run = chord(members, q.total.sig()).run()
    wait_until(lambda: len(lines(counter)) == 3, TIMEOUT, "the members to start")
    header, body = run.steps
    assert header.members[1].cancel().cancelled  # type: ignore[union-attr]
    # the body ends while the other members still run: its waiter wakes now
    with pytest.raises(DependencyError, match="ended CANCELLED"):
        body.get_result(timeout=TIMEOUT)  # type: ignore[union-attr]
    gate.touch()
    assert statuses(setup.app, header) == [S.SUCCESS, S.CANCELLED, S.SUCCESS]
    assert body.status is S.FAILED  # type: ignore[union-attr]
    assert sorted(lines(counter)) == ["m0", "m1", "m2"]  # the body never ran


def test_a_chord_body_cancelled_while_its_members_run(
    setup: QaSetup, counter: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    members = [q.gated.sig(i, str(gate), counter, f"m{i}") for i in range(3)]
    body = q.tally.sig(counter, "body")
    run = (chord(members, body) | q.tally.sig(counter, "after")).run()
    wait_until(lambda: len(lines(counter)) == 3, TIMEOUT, "the members to start")
    (header, body_handle), after = run.steps[0].steps, run.last  # type: ignore[union-attr]
    assert body_handle.cancel().cancelled
    with pytest.raises(DependencyError, match="ended CANCELLED"):
        after.get_result(timeout=TIMEOUT)  # type: ignore[union-attr]
    gate.touch()
    assert statuses(setup.app, header) == [S.SUCCESS] * 3
    with pytest.raises(InvocationCancelledError):
        body_handle.get_result(timeout=TIMEOUT)
    # the members' ends counted down a cancelled body: it stays cancelled, never runs
    assert (
        setup.app.orchestrator.wait_final_many([body_handle.invocation_id], TIMEOUT)[0].status
        is S.CANCELLED
    )
    assert sorted(lines(counter)) == ["m0", "m1", "m2"]


def test_a_waiting_step_past_its_expiry_ends_expired(setup: QaSetup, counter: str) -> None:
    run = chain(
        q.slow.sig(1, 2.0),
        q.tally.sig(counter, "expired").with_options(expires=0.5),
        q.tally.sig(counter, "after"),
    ).run()
    with pytest.raises(DependencyError, match="ended EXPIRED"):
        result_of(run)
    assert statuses(setup.app, run) == [S.SUCCESS, S.EXPIRED, S.FAILED]
    assert lines(counter) == []


def test_a_step_asking_for_a_retry_releases_the_next_once(
    setup: QaSetup, counter: str, tmp_path: Path
) -> None:
    attempts = str(tmp_path / "attempts")
    run = chain(q.add.sig(1, 2), q.retry_once.sig(attempts), q.tally.sig(counter, "after")).run()
    assert result_of(run) == 3
    assert lines(attempts) == ["retry_once"] * 2 and lines(counter) == ["after"]


def test_an_error_callback_that_fails_ends_there(setup: QaSetup, counter: str) -> None:
    """It ends FAILED, calls nothing, and the other error callback of the step runs once;
    the step's own error is what its result raises."""
    step = q.boom.sig(1).on_error(q.bad_errback.sig(counter)).on_error(q.errback.sig(counter))
    invocation = step.run()
    with pytest.raises(ValueError, match=r"boom \(1\)"):
        invocation.get_result(timeout=TIMEOUT)
    assert _errbacks(setup, counter) == sorted([S.FAILED, S.SUCCESS])
    assert sorted(lines(counter)) == ["bad_errback", "errback ValueError"]


def test_a_group_error_callback_is_called_once_per_failed_member(
    setup: QaSetup, counter: str
) -> None:
    run = group(q.fail_if.sig(i % 2, 1) for i in range(6)).on_error(q.errback.sig(counter)).run()
    records = final_records(setup.app, run)
    assert [r.status for r in records] == [S.SUCCESS, S.FAILED] * 3
    # the callbacks of the members that succeeded end CANCELLED (not needed)
    assert _errbacks(setup, counter) == sorted([S.SUCCESS, S.CANCELLED] * 3)
    assert lines(counter) == ["errback ValueError"] * 3


def test_async_tasks_compose(setup: QaSetup) -> None:
    run = chord([q.async_add.sig(i, i) | q.async_add.sig(1) for i in range(3)], q.total.sig()).run()
    assert result_of(run) == 9


def test_a_cached_task_as_a_step_runs_with_what_it_receives(setup: QaSetup, counter: str) -> None:
    first = (q.add.sig(1, 2) | q.cached_tally.sig(counter)).run()
    assert result_of(first) == 3
    second = (q.add.sig(5, 5) | q.cached_tally.sig(counter)).run()
    assert result_of(second) == 10  # not the first step's cached 3
    assert lines(counter) == ["cached 3", "cached 10"]


# 700 invocations: on a ProcessRunner each is a fork, about 0.1 s of a loaded machine
@pytest.mark.timeout(300)
def test_a_long_chain_and_a_wide_chord_finish(setup: QaSetup) -> None:
    run = chain(q.add.sig(0, 1), *[q.add.sig(1) for _ in range(199)]).run()
    assert result_of(run) == 200
    wide = chord([q.add.sig(i, 0) for i in range(500)], q.total.sig()).run()
    assert result_of(wide) == sum(range(500))
    body = wide.last
    assert isinstance(body, DistributedInvocation)
    assert [e.status for e in setup.app.state_backend.history(body.invocation_id)] == [
        S.WAITING,
        S.SCHEDULED,
        S.REGISTERED,
        S.RUNNING,
        S.SUCCESS,
    ]
