"""Workflows under crashes and races (QA of issue 16): a runner that dies half way through
a continue-as-new or a pause, a zombie runner (declared dead, still running) that records
its late moves, resumes racing with the runner that paused.

Real backends (memory, SQLite, Redis) with the app's thread runner in this process; a
crash point is hit by making one backend step fail in the runner (it logs the failure and
goes on, leaving the invocation where the step left it), then the invocation is published
again as the runner services' redelivery would. The workflows are in
``tests/apps/qa_wf_races.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.call import Call
from pynenc.exceptions import NonDeterministicWorkflowError
from pynenc.records import fingerprint
from pynenc.workflow import journal, moves
from pynenc.workflow.signals import ContinueAsNew, WorkflowPause, WorkflowSignal
from tests.apps import qa_wf_races
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
TIMEOUT = 60.0
APP_REF = "tests.apps.qa_wf_races:app"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pynenc]:
    kind = request.param
    if kind == "memory":
        deployment = Deployment(kind, "memory://", "memory://")
    elif kind == "sqlite":
        deployment = Deployment(kind, f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db")
    else:
        redis: Server = request.getfixturevalue("redis_server")
        deployment = Deployment(kind, redis.db_url(), redis.db_url())
    app = deployment.configure(qa_wf_races.app)
    app.purge()
    with app.running_in_background(stop_timeout=30):
        yield app
    app.purge()


def _status(app: Pynenc, invocation_id: str) -> InvocationStatus | None:
    record = app.state_backend.get(invocation_id)
    return None if record is None else record.status


def _redeliver(app: Pynenc, invocation_id: str) -> None:
    """Publish a REGISTERED invocation again, as ``redeliver_stale`` would."""
    record = app.orchestrator.get_record(invocation_id)
    assert record.status is S.REGISTERED
    app.broker.publish([app.orchestrator.envelope_for(record)])


def _fail_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, when: Any) -> list[str]:
    """Make ``module.name`` raise (a crash at that point) the first time ``when(*args)``."""
    original = getattr(module, name)
    hit: list[str] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        if not hit and when(*args, **kwargs):
            hit.append(name)
            raise RuntimeError(f"crash injected in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)
    return hit


def test_a_continue_with_the_same_arguments_cut_short_starts_the_next_run(
    app: Pynenc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """continue_as_new with unchanged arguments (a poller), the runner gone after the
    arguments were stored and the old journal dropped, before the new run was written:
    the next attempt is run 2 (a fresh child), not run 1 again (which reused run 1's child
    and its result)."""
    hit = _fail_once(
        monkeypatch, journal, "write_run", lambda _b, _i, info: info.run == 2 and not info.next_fp
    )
    invocation = qa_wf_races.poller(3)
    wid = invocation.invocation_id
    wait_until(lambda: hit and _status(app, wid) is S.REGISTERED, TIMEOUT, "the crash")
    _redeliver(app, wid)
    seen = invocation.get_result(timeout=TIMEOUT)
    assert len(seen) == 3
    assert len(set(seen)) == 3, f"a run reused another run's child: {seen}"
    info = journal.read_run(app.state_backend, wid)
    assert info is not None and info.run == 3
    assert [r["run"] for r in info.runs] == [1, 2]


# -- a zombie runner: declared dead, its attempt goes on and records its move late ---------


def _paused_in_run_two(app: Pynenc) -> str:
    """``rounds(1, 2)`` resumed once, so PAUSED in run 2: its id."""
    invocation = qa_wf_races.rounds(1, 2)
    wid = invocation.invocation_id
    wait_until(lambda: _status(app, wid) is S.PAUSED, TIMEOUT, "the first pause")
    app.workflows.resume(wid, "first")
    wait_until(lambda: _run(app, wid) == 2 and _status(app, wid) is S.PAUSED, TIMEOUT, "run 2")
    return wid


def _run(app: Pynenc, wid: str) -> int:
    info = journal.read_run(app.state_backend, wid)
    return 1 if info is None else info.run


def _zombie_of_run_one(app: Pynenc, wid: str, signal: WorkflowSignal) -> None:
    """What the runner declared dead in run 1 records when its attempt gets there."""
    envelope = app.orchestrator.envelope_for(app.orchestrator.get_record(wid))
    first = Call(qa_wf_races.rounds, qa_wf_races.rounds.args(1, 2)).serialized_arguments
    zombie = replace(envelope, arguments=first)
    moves.record(app, zombie, "zombie-runner", moves.outcome(signal, 0.1))


@pytest.mark.parametrize("move", ["pause", "continue"])
def test_a_late_move_of_a_runner_that_lost_the_run_changes_nothing(app: Pynenc, move: str) -> None:
    """The zombie's pause or continue-as-new of run 1 arrives while the workflow is
    PAUSED in run 2: its status update is refused, and the run info stays run 2's (it was
    written back to run 1 before: a resume then failed, 'names no pause', or ran run 2 as
    run 1 again, with run 1's child)."""
    wid = _paused_in_run_two(app)
    if move == "pause":
        signal: WorkflowSignal = WorkflowPause("round 1", 1, 2)
    else:
        nxt = Call(qa_wf_races.rounds, qa_wf_races.rounds.args(2, 2)).serialized_arguments
        signal = ContinueAsNew(nxt, {"n": 2, "until": 2}, 1)
    _zombie_of_run_one(app, wid, signal)
    assert _status(app, wid) is S.PAUSED
    assert _run(app, wid) == 2
    result = app.workflows.resume(wid, "second").get_result(timeout=TIMEOUT)
    run_one, run_two = (app.invocation(f"{wid}-wf{run}-1").result for run in (1, 2))
    assert run_one != run_two
    assert result == [2, "second", run_two]


def test_a_late_pause_at_an_earlier_step_of_the_run_does_not_redirect_the_resume(
    app: Pynenc,
) -> None:
    """The zombie reaches the first pause of the run (resumed since) while the workflow is
    PAUSED at the second: the resume marks the second (it marked the first again,
    replacing its value, and the workflow paused again at the second)."""
    invocation = qa_wf_races.approvals(2)
    wid = invocation.invocation_id
    wait_until(lambda: _status(app, wid) is S.PAUSED, TIMEOUT, "the first pause")
    app.workflows.resume(wid, "a")
    wait_until(
        lambda: _status(app, wid) is S.PAUSED and len(app.workflows.get(wid).steps) == 3,
        TIMEOUT,
        "the second pause",
    )
    envelope = app.orchestrator.envelope_for(app.orchestrator.get_record(wid))
    late = moves.outcome(WorkflowPause("approval 1", 1, 1), 0.1)
    moves.record(app, envelope, "zombie-runner", late)
    assert app.workflows.resume(wid, "b").get_result(timeout=TIMEOUT) == ["a", "b"]


def test_a_continue_written_back_during_its_own_continue_is_told_by_the_history(
    app: Pynenc,
) -> None:
    """The zombie read the run info just before the owner's continue finished and wrote it
    back just after (run 1, a continue begun): the resume and the next attempt both find
    run 2 from the status history."""
    wid = _paused_in_run_two(app)
    first, nxt = (
        Call(qa_wf_races.rounds, qa_wf_races.rounds.args(n, 2)).serialized_arguments for n in (1, 2)
    )
    stored = journal.read_run(app.state_backend, wid)
    assert stored is not None
    back = journal.RunInfo(1, fingerprint(first), fingerprint(nxt), None, stored.runs)
    journal.write_run(app.state_backend, wid, back)
    result = app.workflows.resume(wid, "second").get_result(timeout=TIMEOUT)
    assert result == [2, "second", app.invocation(f"{wid}-wf2-1").result]
    info = journal.read_run(app.state_backend, wid)
    assert info is not None and info.run == 2 and [r["run"] for r in info.runs] == [1]


# -- identity -----------------------------------------------------------------------------


def test_an_id_used_again_after_a_purge_is_not_taken_for_its_old_workflow(app: Pynenc) -> None:
    """``middle`` is first a member of ``top``'s workflow, then, under the same chosen id
    after a purge, a top-level call of its own: a member it calls joins ``middle``'s
    workflow (the process remembered the id's old workflow, ``top``'s)."""
    first = qa_wf_races.top()
    assert first.get_result(timeout=TIMEOUT) == first.invocation_id
    app.purge()
    again = qa_wf_races.middle.with_options(invocation_id=qa_wf_races.MIDDLE_ID)()
    assert again.get_result(timeout=TIMEOUT) == qa_wf_races.MIDDLE_ID


def test_a_child_id_taken_by_another_task_says_which(app: Pynenc) -> None:
    """A first run's child id already names a call of another task (a caller chose it, or
    an attempt that died before recording the step called another task there): the error
    names that task, not 'other arguments'."""
    wid = "qa-wf-races-taken"
    qa_wf_races.probe.with_options(invocation_id=f"{wid}-wf1-1")().get_result(timeout=TIMEOUT)
    invocation = qa_wf_races.poller.with_options(invocation_id=wid)(1)
    with pytest.raises(NonDeterministicWorkflowError, match=r"a call of task \S+\.probe"):
        invocation.get_result(timeout=TIMEOUT)


# -- runner processes killed (kill -9) at whatever point of a continue loop ----------------

LIVENESS = {
    "heartbeat_interval": "0.2",
    "dead_after": "2",
    "stop_grace": "5",
    "redeliver_after": "3",
}


@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "ProcessRunner"])
def test_a_poller_survives_its_runners_killed_mid_loop(
    runner_cls: str, redis_server: Server, tmp_path: Path
) -> None:
    """A workflow continuing as new with unchanged arguments, its runner killed three
    times wherever it is (in a child, in a continue's bookkeeping): each run has its own
    child, and the run count is right."""
    url = redis_server.db_url()
    deployment = Deployment("redis", url, url, LIVENESS)
    app = deployment.configure(qa_wf_races.app)
    app.purge()
    limit = 30
    invocation = qa_wf_races.slow_poller(limit, 0.05)
    wid = invocation.invocation_id
    slots = ("--threads", "4") if runner_cls == "ThreadRunner" else ("--processes", "4")
    runners: list[RunnerProcess] = []
    try:
        for n in range(4):
            runner = RunnerProcess(
                deployment, runner_cls, *slots, log=tmp_path / f"r{n}.log", app_ref=APP_REF
            )
            runners.append(runner.start())
            if n < 3:
                at = _run(app, wid) + 3
                wait_until(lambda at=at: _run(app, wid) >= at, TIMEOUT, f"run {at}")
                runner.kill()
        seen = invocation.get_result(timeout=TIMEOUT)
    finally:
        for runner in runners:
            runner.stop()
    assert len(seen) == limit and len(set(seen)) == limit, seen
    info = journal.read_run(app.state_backend, wid)
    assert info is not None and info.run == limit
    assert [r["run"] for r in info.runs] == list(range(limit - journal.RUNS_KEPT, limit))
    app.purge()


def test_members_and_sub_workflows_nested_both_ways(app: Pynenc) -> None:
    """A member of a sub-workflow belongs to the sub-workflow (whose parent it reports);
    a sub-workflow called by a member has the member's workflow as its parent."""
    invocation = qa_wf_races.outer_flow()
    top = invocation.invocation_id
    found = invocation.get_result(timeout=TIMEOUT)
    sub, sub_member = found["sub"]["me"], found["sub"]["member"]
    assert sub["workflow_id"] == sub["invocation_id"] != top
    assert sub["parent_workflow_id"] == top
    assert sub_member["workflow_id"] == sub["workflow_id"]
    assert sub_member["parent_workflow_id"] == top
    member, member_sub = found["member"]["me"], found["member"]["sub"]
    assert member["workflow_id"] == top and member["parent_workflow_id"] is None
    assert member_sub["me"]["workflow_id"] == member_sub["me"]["invocation_id"] != top
    assert member_sub["me"]["parent_workflow_id"] == top
    assert member_sub["member"]["workflow_id"] == member_sub["me"]["workflow_id"]
    assert member_sub["member"]["parent_workflow_id"] == top
