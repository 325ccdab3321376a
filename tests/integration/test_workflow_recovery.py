"""Workflows survive the death of their runner.

A workflow runs until it has recorded its ``wf`` values and called its children, then
waits at a gate the test holds shut (``tests/apps/wf_recovery.py``). Its runner dies
there — SIGKILL of the runner's process group on SQLite and Redis; on memory, where
nothing crosses processes, a runner in a thread stopped at once, its body still running —
and another runner takes the workflow over (REROUTED) and runs it again. The new attempt
must replay the same values, call no child a second time (children count their runs in a
file, which no process death forgets), and keep the state saved before the death.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc, ThreadRunner
from pynenc.invocation.base import BaseInvocation
from pynenc.runner.background import BackgroundRunner
from tests.apps import wf_recovery
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import RedisServer

S = InvocationStatus
APP = "tests.apps.wf_recovery:app"
#: a dead runner is noticed within seconds, and a message it took with it (received, not
#: claimed yet: kombu's Redis transport restores it only after an hour) is published again
#: within seconds (see test_takeover, test_faults)
LIVENESS = {
    "heartbeat_interval": "0.2",
    "dead_after": "2",
    "stop_grace": "5",
    "redeliver_after": "3",
}
#: slots enough for the workflow and its children at once (a waiting task lends its slot)
SLOTS = {"ThreadRunner": ("--threads", "4"), "ProcessRunner": ("--processes", "4")}
WAIT = 60.0  #: generous on a loaded 2-core machine, and below pytest-timeout's 120 s


def _seen(folder: Path, stage: str) -> list[dict[str, Any]]:
    """What each attempt wrote at ``stage`` (``before`` or ``after`` the gate)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{stage}-*.json"))]


def _child_runs(folder: Path) -> Counter[str]:
    path = folder / "children"
    return Counter(path.read_text().split()) if path.exists() else Counter()


class Killed:
    """Runs a workflow on one runner, kills that runner while the workflow waits at its
    gate, and lets a second runner recover it."""

    def __init__(self, kind: str, runner_cls: str, tmp_path: Path, **backends: str) -> None:
        self.kind = kind
        self.runner_cls = runner_cls
        self.tmp_path = tmp_path
        self.folder = tmp_path / "work"
        self.folder.mkdir()
        self.app = wf_recovery.app
        self.app.reset_components()
        if kind == "memory":
            self.app.conf.broker_url = self.app.conf.state_backend_url = "memory://"
            self.app.conf.runner.update(**LIVENESS)
            self.deployment = None
        else:
            self.deployment = Deployment(kind, backends["broker"], backends["state"], LIVENESS)
            self.deployment.configure(self.app)
        self.app.purge()
        self.first_id: str | None = None  #: the runner killed (as the records name it)

    # -- the two runners ----------------------------------------------------------------

    def runner_process(self, name: str) -> RunnerProcess:
        assert self.deployment is not None
        log = self.tmp_path / f"{name}.log"
        return RunnerProcess(
            self.deployment, self.runner_cls, *SLOTS[self.runner_cls], log=log, app_ref=APP
        )

    @contextmanager
    def recovered(self, invocation_of: Any) -> Iterator[BaseInvocation[Any, Any]]:
        """Call ``invocation_of(folder)`` on the first runner; once its first attempt waits
        at the gate, kill that runner and start the second; yield the invocation once the
        second attempt waits at the gate too (the gate is still shut)."""
        if self.kind == "memory":
            with self._in_threads(invocation_of) as invocation:
                yield invocation
            return
        first, second = self.runner_process("first"), self.runner_process("second")
        first.start()
        try:
            invocation = invocation_of(str(self.folder))
            self._until_attempts(1, first)
            record = self.app.state_backend.get(invocation.invocation_id)
            assert record is not None and record.status is S.RUNNING, record
            assert first.process is not None and f":{first.process.pid}:" in str(record.owner)
            self.first_id = record.owner
        finally:
            first.kill()  # kill -9 of the runner and its worker processes, mid-body
        second.start()
        try:
            self._until_attempts(2, second)
            yield invocation
        finally:
            code = second.stop()
            self.app.reset_components()
        assert code == 0, second.log_tail()

    @contextmanager
    def _in_threads(self, invocation_of: Any) -> Iterator[BaseInvocation[Any, Any]]:
        """Memory: the first runner stopped at once (its running work rerouted), its
        thread left running the body at the gate, as a runner that died would leave it."""
        first = BackgroundRunner(ThreadRunner(self.app, threads=4), stop_timeout=60)
        second = BackgroundRunner(ThreadRunner(self.app, threads=4), stop_timeout=60)
        first.start()
        try:
            invocation = invocation_of(str(self.folder))
            self._until_attempts(1)
            self.first_id = first.runner.runner_id
        finally:
            first.stop(immediate=True)
        second.start()
        try:
            self._until_attempts(2)
            yield invocation
        finally:
            (self.folder / "go").touch()  # a failed test must not leave a body waiting
            second.stop()

    def _until_attempts(self, n: int, runner: RunnerProcess | None = None) -> None:
        def there() -> bool:
            if runner is not None and runner.process is not None:
                assert runner.process.poll() is None, f"the runner died: {runner.log_tail()}"
            return len(_seen(self.folder, "before")) >= n

        wait_until(there, WAIT, f"attempt {n} of the workflow at its gate")

    def open_gate(self) -> None:
        (self.folder / "go").touch()

    def assert_rerouted_once(self, invocation_id: str) -> None:
        history = self.app.state_backend.history(invocation_id)
        reroutes = [entry for entry in history if entry.status is S.REROUTED]
        assert len(reroutes) == 1, history
        if self.kind == "memory":  # the stopping runner gave its work back itself
            assert reroutes[0].runner_id == self.first_id, history
        else:  # the second runner found the first dead
            assert reroutes[0].runner_id != self.first_id, history
            assert f"runner {self.first_id} is dead" in str(reroutes[0].reason), history
        owners = {entry.runner_id for entry in history if entry.status is S.RUNNING}
        assert len(owners) == 2 and self.first_id in owners, history


CASES = [
    pytest.param("memory", "ThreadRunner", id="memory-thread"),
    pytest.param("sqlite", "ThreadRunner", id="sqlite-thread"),
    pytest.param("sqlite", "ProcessRunner", id="sqlite-process"),
    pytest.param("redis", "ThreadRunner", id="redis-thread"),
    pytest.param("redis", "ProcessRunner", id="redis-process"),
]


def _killed(kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest) -> Killed:
    if kind == "sqlite":
        broker, state = f"sqlite:///{tmp_path}/broker.db", f"sqlite:///{tmp_path}/state.db"
        return Killed(kind, runner_cls, tmp_path, broker=broker, state=state)
    if kind == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        return Killed(kind, runner_cls, tmp_path, broker=redis.db_url(), state=redis.db_url())
    return Killed(kind, runner_cls, tmp_path)


@pytest.mark.parametrize(("kind", "runner_cls"), CASES)
def test_a_killed_workflow_runner_is_recovered_with_the_same_values_and_children(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    killed = _killed(kind, runner_cls, tmp_path, request)
    app: Pynenc = killed.app
    with killed.recovered(wf_recovery.durable) as invocation:
        # before the gate, the recovered attempt saw what the killed one saw: the same
        # random number, uuid and time, the same children and their results
        first, again = _seen(killed.folder, "before")
        assert first == again
        assert first["results"] == [10, 20, 30]
        assert _child_runs(killed.folder) == Counter({c: 1 for c in first["children"]})
        killed.open_gate()
        result = invocation.get_result(timeout=WAIT)
        if kind == "memory":  # the stopped runner's body goes on too (the second runner
            # still runs, should it call a child): it must replay what the recovered did
            wait_until(lambda: len(_seen(killed.folder, "after")) == 2, WAIT, "the stale body")
            stale, recovered = _seen(killed.folder, "after")
            assert stale == recovered
    assert {k: result[k] for k in first} == first
    assert result["after"]["result"] == 40
    # every child ran once: the three called before the death, the one called after it
    runs = _child_runs(killed.folder)
    assert runs == Counter({c: 1 for c in [*first["children"], result["after"]["child"]]})
    # the journal holds those values, step by step
    info = app.workflows.get(invocation.invocation_id)
    assert info.status is S.SUCCESS
    assert [s["k"] for s in info.steps] == [
        "random", "uuid", "utc_now", "execute_task", "execute_tasks", "execute_task", "random",
    ]  # fmt: skip
    assert [s["v"] for s in info.steps[:2]] == [first["random"], first["uuid"]]
    assert info.steps[4]["v"] == first["children"][1:]
    assert sorted(info.children) == sorted(runs)
    killed.assert_rerouted_once(invocation.invocation_id)
    app.reset_components()


STATE_CASES = [
    pytest.param("memory", "ThreadRunner", id="memory-thread"),
    pytest.param("sqlite", "ThreadRunner", id="sqlite-thread"),
    pytest.param("redis", "ProcessRunner", id="redis-process"),
]


@pytest.mark.parametrize(("kind", "runner_cls"), STATE_CASES)
def test_state_saved_before_the_runner_died_is_kept_and_not_applied_twice(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    killed = _killed(kind, runner_cls, tmp_path, request)
    app: Pynenc = killed.app
    with killed.recovered(wf_recovery.counter) as invocation:
        first, again = _seen(killed.folder, "before")
        # the recovered attempt's get_state replayed the value read before the save: its
        # increment gives the same state, which is not saved a second time
        assert first == again == {"state": {"n": 1}, "saved": {"n": 1}}
        assert app.workflows.get(invocation.invocation_id).state == {"n": 1}
        killed.open_gate()
        result = invocation.get_result(timeout=WAIT)
    # "after" is a new step: read from the backend, it finds what the killed runner saved
    assert result == {"state": {"n": 1}, "saved": {"n": 1}, "after": {"n": 1}}
    info = app.workflows.get(invocation.invocation_id)
    assert info.state == {"n": 1}
    assert [s["k"] for s in info.steps] == ["get_state", "save_state", "get_state", "get_state"]
    killed.assert_rerouted_once(invocation.invocation_id)
    app.reset_components()


@pytest.mark.parametrize(
    ("kind", "runner_cls"),
    [
        pytest.param("sqlite", "ProcessRunner", id="sqlite-process"),
        pytest.param("redis", "ThreadRunner", id="redis-thread"),
    ],
)
def test_a_runner_killed_between_calling_a_child_and_recording_it_calls_it_once(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The worst moment: the child is registered and published, the journal does not know
    it yet. The recovered attempt derives the same child id and gets that invocation."""
    killed = _killed(kind, runner_cls, tmp_path, request)
    app: Pynenc = killed.app
    assert killed.deployment is not None
    killed.deployment.extra_env[wf_recovery.KILLABLE] = "1"
    (killed.folder / "die-armed").touch()
    first, second = killed.runner_process("first"), killed.runner_process("second")
    first.start()
    try:
        invocation = wf_recovery.dies_calling(str(killed.folder))
        assert first.process is not None
        first.process.wait(timeout=WAIT)  # it killed itself, calling the child
    finally:
        first.kill()
    assert (killed.folder / "die-fired").exists(), first.log_tail()
    assert app.workflows.get(invocation.invocation_id).steps == [
        {"k": "uuid", "v": _seen(killed.folder, "before")[0]["uuid"]}
    ]  # the child's step was never recorded
    killed.first_id = app.orchestrator.get_record(invocation.invocation_id).owner
    second.start()
    try:
        result = invocation.get_result(timeout=WAIT)
    finally:
        code = second.stop()
        app.reset_components()
    assert code == 0, second.log_tail()
    first_seen, again = _seen(killed.folder, "before")
    assert first_seen == again == {"uuid": result["uuid"]}
    assert result["results"] == [50, 60]
    assert _child_runs(killed.folder) == Counter({c: 1 for c in result["children"]})
    info = app.workflows.get(invocation.invocation_id)
    assert [s["v"] for s in info.steps[1:]] == result["children"]
    # no other child was registered (one would run later, once its message is redelivered)
    assert sorted(info.children) == sorted(result["children"])
    killed.assert_rerouted_once(invocation.invocation_id)


def test_each_run_of_a_continued_workflow_has_its_own_reroute_budget(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """runner.max_reroutes = 1, and a runner dies in each of two runs: a continue-as-new
    starts a run afresh (its retries too), so the second death is rerouted as the first
    was instead of failing the workflow for a death in an earlier run."""
    killed = _killed("sqlite", "ThreadRunner", tmp_path, request)
    app: Pynenc = killed.app
    assert killed.deployment is not None
    killed.deployment.runner_settings["max_reroutes"] = "1"
    killed.deployment.configure(app)
    folder = killed.folder
    invocation = wf_recovery.loops(str(folder), 1, 2)

    def at_gate(run: int, attempts: int) -> None:
        def there() -> bool:
            record = app.orchestrator.get_record(invocation.invocation_id)
            return record.status.is_final or len(_seen(folder, f"run{run}")) == attempts

        wait_until(there, WAIT, f"attempt {attempts} of run {run} at its gate")
        record = app.orchestrator.get_record(invocation.invocation_id)
        assert record.status is S.RUNNING, record.error

    runners = [killed.runner_process(name) for name in ("first", "second", "third")]
    try:
        runners[0].start()
        at_gate(1, 1)
        runners[0].kill()  # run 1 dies
        runners[1].start()
        at_gate(1, 2)
        (folder / "go1").touch()  # run 1 continues as new, on the second runner
        at_gate(2, 1)
        runners[1].kill()  # run 2 dies
        runners[2].start()
        at_gate(2, 2)
        (folder / "go2").touch()
        assert invocation.get_result(timeout=WAIT) == 2
    finally:
        for runner in runners:
            if runner.process is not None:
                runner.kill()
        app.reset_components()
    assert [seen["run"] for seen in _seen(folder, "run2")] == [2, 2]
    history = app.state_backend.history(invocation.invocation_id)
    assert [e.status for e in history].count(S.REROUTED) == 2, history


class _Refusals(logging.Handler):
    """Sets ``seen`` once a runner's status update of ``invocation_id`` is refused."""

    def __init__(self, invocation_id: str) -> None:
        super().__init__()
        self.invocation_id = invocation_id
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.invocation_id in message and "not recorded" in message:
            self.seen.set()


def test_a_stale_attempt_of_a_continued_run_leaves_the_new_run_alone(tmp_path: Path) -> None:
    """Memory: the first runner stops at once while run 1 waits (its attempt goes on in
    its thread), the second runner recovers run 1, which continues as new; run 2 starts.
    The stale attempt of run 1 then reaches its continue_as_new too: refused (not its
    invocation any more), it must not set the workflow's runs back to run 1."""
    killed = Killed("memory", "ThreadRunner", tmp_path)
    app, folder = killed.app, killed.folder
    first = BackgroundRunner(ThreadRunner(app, threads=4), stop_timeout=60)
    second = BackgroundRunner(ThreadRunner(app, threads=4), stop_timeout=60)
    first.start()
    try:
        invocation = wf_recovery.continues_once(str(folder), 1)
        wait_until(lambda: len(list(folder.glob("run1-*"))) == 1, WAIT, "run 1")
    finally:
        first.stop(immediate=True)
    [stale] = [p.name for p in folder.glob("run1-*")]
    refusals = _Refusals(invocation.invocation_id)
    logging.getLogger("pynenc").addHandler(refusals)
    second.start()
    try:
        wait_until(lambda: len(list(folder.glob("run1-*"))) == 2, WAIT, "run 1 recovered")
        [recovered] = [p.name for p in folder.glob("run1-*") if p.name != stale]
        (folder / f"go-{recovered}").touch()
        wait_until(lambda: len(list(folder.glob("run2-*"))) == 1, WAIT, "run 2")
        assert app.workflows.get(invocation.invocation_id).run == 2
        (folder / f"go-{stale}").touch()
        assert refusals.seen.wait(WAIT), "the stale attempt's continue_as_new was not refused"
        info = app.workflows.get(invocation.invocation_id)
        assert (info.run, [r["run"] for r in info.runs]) == (2, [1])
        for path in folder.glob("run2-*"):
            (folder / f"go-{path.name}").touch()
        assert invocation.get_result(timeout=WAIT) == 2
    finally:
        logging.getLogger("pynenc").removeHandler(refusals)
        for path in folder.glob("run*-*.json"):
            (folder / f"go-{path.name}").touch()
        second.stop()
    info = app.workflows.get(invocation.invocation_id)
    assert (info.status, info.run, [r["run"] for r in info.runs]) == (S.SUCCESS, 2, [1])
    app.reset_components()
