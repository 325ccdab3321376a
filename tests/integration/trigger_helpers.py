"""Shared setup of the trigger tests: runner processes on a fresh SQLite or Redis deployment,
a clock the test moves, and counts of what the triggers ran.

Each test gets its own databases (a SQLite file pair, or ``redis_server.db_url()``) and two
or more ``ThreadRunner`` processes running ``tests.integration.trigger_tasks``. Whichever
holds the services lease runs the trigger passes with the test's clock.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import Pynenc
from pynenc.records import InvocationRecord
from pynenc.trigger.evaluation import STATE
from pynenc.trigger.firing import HEADER
from tests.integration import trigger_tasks as tasks
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

APP_REF = "tests.integration.trigger_tasks:app"
KINDS = ["sqlite", "redis"]
#: fast heartbeats and a short lease (dead_after), so a killed lease holder is replaced
#: soon; what a killed runner registered but did not publish, or took from the broker but
#: did not claim, is published again after redeliver_after
FAST = {"heartbeat_interval": "0.2", "dead_after": "3", "stop_grace": "10", "redeliver_after": "2"}
WAIT = 60.0  #: generous: the suite runs on a loaded 2-core machine


def deployment(kind: str, tmp: Path, request: pytest.FixtureRequest, **env: str) -> Deployment:
    """Fresh databases of ``kind``; ``env``: trigger options (``missed="skip"``)."""
    extra = {f"PYNENC__TRIGGER__{k.upper()}": v for k, v in env.items()}
    extra[tasks.RUNNER_ENV] = "1"
    if kind == "sqlite":
        urls = (f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db")
    else:
        redis: Server = request.getfixturevalue("redis_server")
        urls = (redis.db_url(), redis.db_url())
    return Deployment(kind, *urls, dict(FAST), extra_env=extra)


class Triggers:
    """Runner processes on one deployment, the test's clock, and what the triggers ran."""

    def __init__(self, deployment: Deployment, tmp: Path) -> None:
        self.deployment = deployment
        self.tmp = tmp
        self.app: Pynenc = deployment.configure(tasks.app)
        self.runners: list[RunnerProcess] = []
        self.killed: list[RunnerProcess] = []
        self.stopped: list[RunnerProcess] = []
        self._started = 0

    # -- runners ---------------------------------------------------------------------------

    def start(self, count: int = 2, clock: float | None = None) -> Triggers:
        """Set the clock (when given) and start ``count`` runners; return once a pass has
        seen every trigger (time triggers count their occasions from that pass on)."""
        if clock is not None:
            self.set_clock(clock)
        for _ in range(count):
            self.add_runner()
        self.wait_registered()
        self.wait_first_pass()
        return self

    def add_runner(self) -> RunnerProcess:
        self._started += 1
        log = self.tmp / f"runner-{self._started}.log"
        runner = RunnerProcess(
            self.deployment, "ThreadRunner", "--threads", "4", log=log, app_ref=APP_REF
        )
        self.runners.append(runner.start())
        return runner

    def wait_registered(self) -> None:
        """Wait until every runner heartbeats (it handles SIGTERM from then on)."""
        pids = {f":{r.process.pid}:" for r in self.runners if r.process is not None}

        def registered() -> bool:
            ids = self.app.state_backend.runners()
            return all(any(pid in runner_id for runner_id in ids) for pid in pids)

        self.wait(registered, "every runner to heartbeat")

    def wait_first_pass(self) -> None:
        # a time trigger stores its state at the first pass that sees it
        ids = [d.trigger_id for d in self.app.trigger.definitions() if d.has_time]

        def seen() -> bool:
            return all(self.app.state_backend.get_values(STATE, ids))

        self.wait(seen, "a first trigger pass")

    def wait(self, predicate: Callable[[], object], what: str) -> None:
        """``wait_until`` with the runners' logs in the failure."""
        try:
            wait_until(predicate, WAIT, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def evaluator(self) -> RunnerProcess | None:
        """The runner that ran trigger passes last (it held the services lease)."""
        pid = self.app.state_backend.get_value(tasks.CLOCK, "evaluator")
        found = [r for r in self.runners if r.process and str(r.process.pid) == pid]
        return found[0] if found else None

    def kill_evaluator(self) -> RunnerProcess:
        """SIGKILL the runner holding the services lease (the one evaluating triggers)."""
        runner = self.evaluator()
        assert runner is not None, "no runner has evaluated a trigger pass yet"
        runner.kill()
        self.runners.remove(runner)
        self.killed.append(runner)
        return runner

    def stop(self) -> list[int]:
        """SIGTERM every runner at once, then wait for each: their exit codes."""
        alive = [r for r in self.runners if r.process is not None and r.process.poll() is None]
        for runner in alive:
            assert runner.process is not None
            os.kill(runner.process.pid, signal.SIGTERM)
        codes = []
        for runner in self.runners:
            assert runner.process is not None
            try:
                codes.append(runner.process.wait(timeout=WAIT))
            except subprocess.TimeoutExpired:
                codes.append(-999)
            finally:
                runner.signal(signal.SIGKILL)  # leftovers of its process group, if any
        self.stopped.extend(self.runners)
        self.runners = []
        return codes

    def logs(self) -> str:
        every = self.runners + self.killed + self.stopped
        return "\n".join(f"--- {r.log_path}\n{r.log_tail()}" for r in every)

    # -- the clock -------------------------------------------------------------------------

    def set_clock(self, now: float) -> None:
        self.app.state_backend.put_value(tasks.CLOCK, "now", repr(float(now)))

    def now(self) -> float:
        raw = self.app.state_backend.get_value(tasks.CLOCK, "now")
        assert raw is not None
        return float(raw)

    def advance(self, seconds: float) -> float:
        now = self.now() + seconds
        self.set_clock(now)
        return now

    # -- what ran --------------------------------------------------------------------------

    def runs(self, task: str | None = None) -> list[dict[str, Any]]:
        """The runs of triggered tasks (of ``task`` only, when given), in order."""
        entries: list[dict[str, Any]] = []
        after = 0
        while batch := self.app.state_backend.read_log(tasks.RUNS, after, 1000):
            entries.extend(json.loads(raw) for _, raw in batch)
            after = batch[-1][0]
        return [e for e in entries if task is None or e["task"] == task]

    def wait_runs(self, task: str, count: int, what: str = "") -> list[dict[str, Any]]:
        """Wait until ``task`` ran ``count`` times (no more: a run too many fails)."""
        try:
            wait_until(lambda: len(self.runs(task)) >= count, WAIT, f"{count} runs of {task}")
        except AssertionError as exc:
            raise AssertionError(f"{exc} {what}: {self.runs(task)}\n{self.logs()}") from None
        found = self.runs(task)
        assert len(found) == count, found
        return found

    def invocations(self, task: str) -> list[InvocationRecord]:
        """The stored invocations of ``task`` (of this module)."""
        key = f"{tasks.__name__}.{task}"
        ids = self.app.state_backend.find(task_id=key)
        return [r for r in self.app.state_backend.get_many(ids) if r is not None]

    def check_once(self, task: str, count: int) -> list[dict[str, Any]]:
        """``task`` ran ``count`` times, each a distinct triggered invocation run once,
        with the header saying what triggered it; its runs."""
        runs = self.wait_runs(task, count)
        ids = [r["id"] for r in runs]
        assert len(set(ids)) == count, collections.Counter(ids)
        records = self.invocations(task)
        assert sorted(r.invocation_id for r in records) == sorted(ids)
        for record in records:
            assert record.invocation_id.startswith("trg-"), record
            assert record.headers is not None and HEADER in record.headers, record
        for run in runs:
            assert run["trigger"] is not None and HEADER in run["trigger"], run
        return runs


def header(run: dict[str, Any]) -> dict[str, Any]:
    """What triggered a run (its invocation's ``pynenc_trigger`` header)."""
    found: dict[str, Any] = run["trigger"][HEADER]
    return found


def prepare(kind: str, tmp: Path, request: pytest.FixtureRequest, **options: str) -> Triggers:
    """A fresh deployment of ``kind`` with the test process's app on it, no runner yet;
    ``options``: trigger options for the runners (``missed="skip"``)."""
    setup = Triggers(deployment(kind, tmp, request, **options), tmp)
    setup.app.purge()
    return setup


@contextlib.contextmanager
def started(setup: Triggers, count: int = 2, clock: float | None = None) -> Iterator[Triggers]:
    """``count`` runners on ``setup`` for the block (the clock set first, when given); they
    must stop cleanly."""
    try:
        setup.start(count, clock)
        yield setup
    except BaseException:
        print(setup.logs())  # shown by pytest for a failing test
        raise
    finally:
        codes = setup.stop()
        setup.app.reset_components()
    assert all(code == 0 for code in codes), (codes, setup.logs())


def running(
    kind: str,
    tmp: Path,
    request: pytest.FixtureRequest,
    *,
    count: int = 2,
    clock: float | None = None,
    **options: str,
) -> contextlib.AbstractContextManager[Triggers]:
    """:func:`started` on a :func:`prepare` d deployment."""
    return started(prepare(kind, tmp, request, **options), count, clock)
