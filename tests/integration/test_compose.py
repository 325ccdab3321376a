"""The native composition API (:mod:`pynenc.compose`) on real runners: chains, groups,
chords, error callbacks, nested forms, caller-chosen ids, waiters and hooks.

One suite on memory (a ThreadRunner in this process), SQLite and Redis (a ThreadRunner and
a ProcessRunner started through the CLI, in their own processes). Runs are counted in a
file outside the runner (``tests.apps.canvas``), so "exactly once" is seen, not assumed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pynenc import (
    ChainRun,
    DependencyError,
    GroupRun,
    InvocationStatus,
    PublishVetoError,
    chain,
    chord,
    group,
)
from pynenc.invocation.distributed import DistributedInvocation
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import (
    SETUPS,
    TIMEOUT,
    Setup,
    calls_with,
    deployed,
    final_records,
    history,
    result_of,
    setup_id,
    statuses,
)
from tests.integration.deployments import wait_until

S = InvocationStatus


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    yield from deployed(request, tmp_path_factory)


@pytest.fixture
def counter(tmp_path: Path) -> str:
    """A file the counting tasks of this test append to."""
    return str(tmp_path / "runs")


# -- chains ------------------------------------------------------------------------------------


def test_a_chain_passes_each_result_to_the_next_step(setup: Setup) -> None:
    run = (t.add.sig(1, 2) | t.mul.sig(10) | t.add.sig(5)).run()
    assert isinstance(run, ChainRun) and len(run.steps) == 3
    assert result_of(run) == 35
    assert [step.get_result(timeout=TIMEOUT) for step in run.steps] == [3, 30, 35]
    assert statuses(setup.app, run) == [S.SUCCESS] * 3
    # a later step waited, was released by the step before it, then ran once
    first, *later = run.steps
    assert history(setup.app, first.invocation_id) == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    for step in later:
        assert history(setup.app, step.invocation_id) == [
            S.WAITING,
            S.SCHEDULED,
            S.REGISTERED,
            S.RUNNING,
            S.SUCCESS,
        ]


def test_an_immutable_step_receives_nothing(setup: Setup) -> None:
    run = chain(t.add.sig(1, 2), t.const.sig(7).immutable(), t.add.sig(1)).run()
    assert result_of(run) == 8
    assert [step.get_result(timeout=TIMEOUT) for step in run.steps] == [3, 7, 8]


def test_a_failure_in_the_middle_fails_every_later_step_with_its_error(
    setup: Setup, counter: str
) -> None:
    run = chain(
        t.tally.sig(1, counter, "first"),
        t.boom.sig(),
        t.tally.sig(counter, "third"),
        t.tally.sig(counter, "fourth"),
    ).run()
    with pytest.raises(ValueError, match=r"^boom \(2\)"):
        result_of(run)
    with pytest.raises(ValueError, match=r"^boom \(2\)"):
        run.result  # the handle's own property raises it too
    _, failed, *later = run.steps
    assert statuses(setup.app, run) == [S.SUCCESS, S.FAILED, S.FAILED, S.FAILED]
    for step in later:
        with pytest.raises(ValueError, match=r"^boom \(2\)"):
            step.get_result(timeout=TIMEOUT)
        # never ran: ended FAILED from WAITING by the step that ended the one before
        assert history(setup.app, step.invocation_id) == [S.WAITING, S.FAILED]
    records = setup.app.state_backend.get_many([s.invocation_id for s in later])
    upstream = [r.error["upstream"] for r in records if r is not None and r.error]
    assert upstream == [failed.invocation_id, later[0].invocation_id]
    assert lines(counter) == ["first"]


# -- groups and chords -------------------------------------------------------------------------


def test_a_group_gives_its_results_in_order(setup: Setup) -> None:
    run = group(t.add.sig(i, i) for i in range(12)).run()
    assert isinstance(run, GroupRun) and len(run) == 12
    assert result_of(run) == [2 * i for i in range(12)]
    assert run.result == [2 * i for i in range(12)]


def test_a_chord_body_receives_the_ordered_list_once(setup: Setup, counter: str) -> None:
    header = [t.tally.sig(i, counter, f"m{i}") for i in range(30)]
    run = chord(header, t.gather.sig(counter, "body")).run()
    assert result_of(run) == sum(i + 1 for i in range(30))
    assert isinstance(run.steps[0], GroupRun)
    assert run.steps[0].result == [i + 1 for i in range(30)]
    assert sorted(lines(counter)) == sorted([f"m{i}" for i in range(30)] + ["body"])
    body = run.last
    assert isinstance(body, DistributedInvocation)
    assert history(setup.app, body.invocation_id) == [
        S.WAITING,
        S.SCHEDULED,
        S.REGISTERED,
        S.RUNNING,
        S.SUCCESS,
    ]


def test_the_chord_body_gets_the_list_in_header_order(setup: Setup) -> None:
    run = chord([t.const.sig(c) for c in "pynenc"], t.collect.sig(tag="t")).run()
    assert result_of(run) == ["t", list("pynenc")]


def test_a_failing_member_fails_the_body_exactly_once(setup: Setup, counter: str) -> None:
    header = [t.tally.sig(1, counter, "m1"), t.boom.sig(2), t.tally.sig(3, counter, "m3")]
    run = chord(header, t.gather.sig(counter, "body")).run()
    with pytest.raises(ValueError, match=r"^boom \(2\)"):
        result_of(run)
    assert statuses(setup.app, run) == [S.SUCCESS, S.FAILED, S.SUCCESS, S.FAILED]
    body = run.last
    assert isinstance(body, DistributedInvocation)
    # the members that ended after the failure changed nothing: one move, never run
    assert history(setup.app, body.invocation_id) == [S.WAITING, S.FAILED]
    assert sorted(lines(counter)) == ["m1", "m3"]


def test_an_empty_group_before_a_body_gives_it_an_empty_list(setup: Setup) -> None:
    run = chord([], t.collect.sig(tag="empty")).run()
    assert result_of(run) == ["empty", []]
    assert result_of(chain(group(), t.total.sig()).run()) == 0
    # in the middle of a chain, an empty group ends with the step before it
    after = chain(t.add.sig(1, 1), group(), t.collect.sig(tag="after")).run()
    assert result_of(after) == ["after", []]
    failed = chain(t.boom.sig(1), group(), t.collect.sig(tag="after")).run()
    with pytest.raises(ValueError, match=r"^boom \(1\)"):
        result_of(failed)
    assert statuses(setup.app, failed) == [S.FAILED, S.FAILED]


# -- error callbacks ---------------------------------------------------------------------------


def _errback(counter: str) -> Any:
    return t.on_failure.sig(counter).with_options(invocation_id=f"err-{uuid.uuid4().hex}")


def test_an_error_callback_receives_the_failed_invocation_and_its_exception(
    setup: Setup, counter: str
) -> None:
    errback = _errback(counter)
    invocation = t.boom.sig(5).on_error(errback).run()
    with pytest.raises(ValueError, match=r"^boom \(5\)"):
        invocation.get_result(timeout=TIMEOUT)
    assert errback.options is not None and errback.options.invocation_id is not None
    called = setup.app.invocation(errback.options.invocation_id)
    seen = f"{invocation.invocation_id} ValueError: boom (5)"
    assert called.get_result(timeout=TIMEOUT) == seen
    assert lines(counter) == [seen]


def test_an_error_callback_is_not_run_on_success(setup: Setup, counter: str) -> None:
    errback = _errback(counter)
    assert t.add.sig(1, 1).on_error(errback).run().get_result(timeout=TIMEOUT) == 2
    assert errback.options is not None and errback.options.invocation_id is not None
    record = setup.app.orchestrator.wait_final(errback.options.invocation_id, TIMEOUT)
    assert record.status is S.CANCELLED
    assert record.error is not None and "not needed" in record.error["message"]
    assert lines(counter) == []


def test_a_chain_error_callback_is_called_once_for_the_step_that_failed(
    setup: Setup, counter: str
) -> None:
    run = (
        (t.add.sig(1, 2) | t.boom.sig() | t.add.sig(5) | t.add.sig(6))
        .on_error(t.on_failure.sig(counter))
        .run()
    )
    with pytest.raises(ValueError, match=r"^boom \(3\)"):
        result_of(run)
    errbacks = calls_with(setup.app, t.on_failure, counter)
    assert len(errbacks) == 4, "one error callback registered per step"
    ended = setup.app.orchestrator.wait_final_many([r.invocation_id for r in errbacks], TIMEOUT)
    assert sorted(r.status for r in ended) == sorted([S.SUCCESS] + [S.CANCELLED] * 3)
    assert lines(counter) == [f"{run.steps[1].invocation_id} ValueError: boom (3)"]


def test_a_chord_error_callback_gets_the_body_failed_by_a_member(
    setup: Setup, counter: str
) -> None:
    run = (
        chord([t.add.sig(1, 1), t.boom.sig(7)], t.total.sig()).on_error(t.on_failure.sig(counter))
    ).run()
    with pytest.raises(ValueError, match=r"^boom \(7\)"):
        result_of(run)
    (errback,) = calls_with(setup.app, t.on_failure, counter)
    done = setup.app.invocation(errback.invocation_id).get_result(timeout=TIMEOUT)
    body = run.last
    assert isinstance(body, DistributedInvocation)
    assert done == f"{body.invocation_id} ValueError: boom (7)"
    assert lines(counter) == [done]


def test_a_chain_error_callback_is_called_once_when_a_step_before_a_chord_fails(
    setup: Setup, counter: str
) -> None:
    run = (
        chain(t.boom.sig(2), chord([t.add.sig(1), t.add.sig(2)], t.total.sig()))
        .on_error(t.on_failure.sig(counter))
        .run()
    )
    with pytest.raises(ValueError, match=r"^boom \(2\)"):
        result_of(run)
    errbacks = calls_with(setup.app, t.on_failure, counter)
    ended = setup.app.orchestrator.wait_final_many([r.invocation_id for r in errbacks], TIMEOUT)
    assert sorted(r.status for r in ended) == sorted([S.SUCCESS, S.CANCELLED])
    assert lines(counter) == [f"{run.steps[0].invocation_id} ValueError: boom (2)"]


def test_a_retried_step_releases_what_follows_once_it_succeeds(
    setup: Setup, counter: str, tmp_path: Path
) -> None:
    attempts = str(tmp_path / "attempts")
    run = chain(t.add.sig(1, 1), t.flaky_step.sig(attempts, 2), t.tally.sig(counter, "after")).run()
    assert result_of(run) == 4
    assert lines(attempts) == ["attempt"] * 3 and lines(counter) == ["after"]
    assert history(setup.app, run.steps[1].invocation_id).count(S.SCHEDULED) == 3  # type: ignore[union-attr]


def test_a_step_past_its_time_limit_calls_its_error_callback(setup: Setup, counter: str) -> None:
    errback = _errback(counter)
    run = (t.add.sig(1, 1) | t.overrun.sig(counter).on_error(errback) | t.add.sig(1)).run()
    with pytest.raises(Exception, match="time limit"):
        result_of(run)
    assert errback.options is not None and errback.options.invocation_id is not None
    called = setup.app.invocation(errback.options.invocation_id)
    seen = called.get_result(timeout=TIMEOUT)
    assert seen.startswith(f"{run.steps[1].invocation_id} TaskTimeoutError")  # type: ignore[union-attr]
    assert statuses(setup.app, run) == [S.SUCCESS, S.FAILED, S.FAILED]


# -- nested forms ------------------------------------------------------------------------------


def test_a_group_of_chains(setup: Setup) -> None:
    run = group(t.add.sig(1, 1) | t.mul.sig(10), t.add.sig(2, 2) | t.mul.sig(10)).run()
    assert all(isinstance(member, ChainRun) for member in run.members)
    assert result_of(run) == [20, 40]


def test_a_chain_of_groups(setup: Setup) -> None:
    run = chain(
        group(t.add.sig(1, 1), t.add.sig(2, 2)),
        group(t.total.sig(), t.collect.sig(tag="g")),
        t.collect.sig(),
    ).run()
    assert result_of(run) == [6, ["g", [2, 4]]]
    assert result_of(run.steps[1]) == [6, ["g", [2, 4]]]


def test_a_chord_inside_a_chain(setup: Setup) -> None:
    run = chain(
        t.add.sig(1, 1), chord([t.mul.sig(10), t.mul.sig(100)], t.total.sig()), t.add.sig(1)
    ).run()
    assert result_of(run) == 221
    assert [r.status for r in final_records(setup.app, run)] == [S.SUCCESS] * 5


def test_a_step_after_a_chord_whose_body_ends_in_a_group_gets_the_list(setup: Setup) -> None:
    body = t.total.sig() | group(t.add.sig(1), t.add.sig(2))
    run = chain(chord([t.const.sig(1), t.const.sig(2)], body), t.collect.sig()).run()
    assert result_of(run) == [4, 5]


def test_a_chain_inside_a_chord_header(setup: Setup) -> None:
    header = [t.add.sig(1, 1) | t.mul.sig(10), t.add.sig(2, 2) | t.mul.sig(10), t.const.sig(5)]
    run = chord(header, t.collect.sig()).run()
    assert result_of(run) == [20, 40, 5]


def test_a_failure_inside_a_nested_header_fails_what_follows(setup: Setup) -> None:
    header = [t.add.sig(1, 1) | t.boom.sig() | t.mul.sig(3), t.const.sig(5)]
    run = chain(chord(header, t.collect.sig()), t.total.sig()).run()
    with pytest.raises(ValueError, match=r"^boom \(2\)"):
        result_of(run)
    assert statuses(setup.app, run) == [S.SUCCESS, S.FAILED, S.FAILED, S.SUCCESS] + [S.FAILED] * 2


# -- caller-chosen ids -------------------------------------------------------------------------


def test_caller_chosen_ids_name_the_steps_and_run_them_once(setup: Setup, counter: str) -> None:
    tag = uuid.uuid4().hex
    ids = [f"{tag}-first", f"{tag}-second", f"{tag}-body"]

    def build() -> Any:
        return chain(
            t.tally.sig(1, counter, "first").with_options(invocation_id=ids[0]),
            t.tally.sig(counter, "second").with_options(invocation_id=ids[1]),
            chord([t.add.sig(1), t.add.sig(2)], t.total.sig()),
        )

    first = build().run()
    assert [step.invocation_id for step in first.steps[:2]] == ids[:2]
    assert result_of(first) == 9
    again = build().run()  # the same ids: the same invocations, not run again
    assert [step.invocation_id for step in again.steps[:2]] == ids[:2]
    assert again.steps[1].get_result(timeout=TIMEOUT) == 3
    assert result_of(again) == 9  # new steps after ended ones: released at registration
    assert lines(counter) == ["first", "second"]
    with pytest.raises(ValueError, match="given to two steps"):
        chain(t.add.sig(1, 1).with_options(invocation_id=ids[0]), t.add.sig(1)).on_error(
            _errback(counter)
        ).run()


# -- waiting on a chain ------------------------------------------------------------------------


def test_a_waiter_on_a_chain_wakes_when_its_last_step_ends(
    setup: Setup, counter: str, tmp_path: Path
) -> None:
    gate = str(tmp_path / "gate")
    run = (t.add.sig(1, 1) | t.gated.sig(gate, counter, "last")).run()
    woke = threading.Event()
    seen: list[Any] = []

    def wait() -> None:
        seen.append(run.result)  # blocks: no timeout of its own
        woke.set()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    wait_until(lambda: lines(counter) == ["last"], TIMEOUT, "the last step to start")
    last = run.last
    assert isinstance(last, DistributedInvocation)
    assert last.status is S.RUNNING and not woke.is_set()
    Path(gate).touch()
    assert woke.wait(TIMEOUT), "the waiter was not woken by the end of the last step"
    assert seen == [3]
    assert last.status is S.SUCCESS  # type: ignore[comparison-overlap]  # it moved on
    waiter.join(TIMEOUT)


# -- cancelling -------------------------------------------------------------------------------


def test_cancelling_steps_of_a_chain(setup: Setup, counter: str, tmp_path: Path) -> None:
    """A waiting step cancelled stays CANCELLED when what it waits for ends, and what
    waits for it fails with a DependencyError; so does what follows a cancelled running
    step. Error callbacks are not called for a cancel."""
    gate = str(tmp_path / "gate")
    errback = t.on_failure.sig(counter)
    waiting = (
        chain(t.gated.sig(1, gate, counter, "held"), t.add.sig(1), t.add.sig(1))
        .on_error(errback)
        .run()
    )
    running = (t.gated.sig(1, gate, counter, "held") | t.add.sig(1)).on_error(errback).run()
    wait_until(lambda: lines(counter) == ["held"] * 2, TIMEOUT, "both held steps to start")
    assert waiting.steps[1].cancel().cancelled  # type: ignore[union-attr]
    assert running.steps[0].cancel().cancelled  # type: ignore[union-attr]
    Path(gate).touch()
    assert statuses(setup.app, waiting) == [S.SUCCESS, S.CANCELLED, S.FAILED]
    assert statuses(setup.app, running) == [S.CANCELLED, S.FAILED]
    for later in (waiting.steps[2], running.steps[1]):
        with pytest.raises(DependencyError, match="ended CANCELLED"):
            later.get_result(timeout=TIMEOUT)  # type: ignore[union-attr]
    errbacks = calls_with(setup.app, t.on_failure, counter)
    ended = setup.app.orchestrator.wait_final_many([r.invocation_id for r in errbacks], TIMEOUT)
    assert {r.status for r in ended} == {S.CANCELLED}
    assert lines(counter) == ["held"] * 2


# -- hooks -------------------------------------------------------------------------------------


def test_publish_hooks_see_every_step(setup: Setup) -> None:
    app = setup.app
    before: list[list[str]] = []
    after: list[list[str]] = []

    def on_before(invocations: Sequence[Any]) -> None:
        before.append([inv.invocation_id for inv in invocations])

    def on_after(invocations: Sequence[Any]) -> None:
        after.append([inv.invocation_id for inv in invocations])

    app.hooks.on_before_publish(on_before)
    app.hooks.on_after_publish(on_after)
    try:
        run = chord([t.add.sig(1, 1), t.add.sig(2, 2)], t.total.sig() | t.add.sig(1)).run()
        assert result_of(run) == 7
    finally:
        app.hooks.disconnect("before_publish", on_before)
        app.hooks.disconnect("after_publish", on_after)
    everything = [inv.invocation_id for inv in run.invocations]
    members = everything[:2]
    assert before == [everything], "before_publish sees every step, once, before anything"
    assert after == [members], "after_publish sees those published at once"


def test_a_veto_refuses_the_whole_composition(setup: Setup) -> None:
    app = setup.app
    tried: list[str] = []

    def veto(invocations: Sequence[Any]) -> None:
        tried.extend(inv.invocation_id for inv in invocations)
        raise PublishVetoError("not today")

    app.hooks.on_before_publish(veto)
    try:
        with pytest.raises(PublishVetoError, match="not today"):
            (t.add.sig(1, 1) | t.add.sig(2)).run()
    finally:
        app.hooks.disconnect("before_publish", veto)
    assert len(tried) == 2
    assert app.state_backend.get_many(tried) == [None, None], "nothing was registered"
