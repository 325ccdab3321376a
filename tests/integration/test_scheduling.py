"""Delays, ETAs, retries with backoff, expiry and caller-chosen ids, with real runners.

One suite, on memory (a ThreadRunner in this process), SQLite and Redis (a ThreadRunner
and a PersistentProcessRunner started through the CLI, in their own processes), each with
one slot. Timing checks are one-sided (never before the due time) with generous bounds:
the suite runs on a loaded machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import (
    InvocationConflictError,
    InvocationExpiredError,
    InvocationStatus,
    ThreadRunner,
)
from pynenc.exceptions import LONGEST_DELAY
from pynenc.runner import BackgroundRunner
from tests.apps import scheduling as tasks
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
APP = "tests.apps.scheduling:app"
FAST = {"heartbeat_interval": "0.2", "dead_after": "3"}
SINGLE_SLOT = ("--threads", "1", "--processes", "1")
SETUPS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "PersistentProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "PersistentProcessRunner"),
]


class Setup:
    """An app and its runners: in this process (memory) or CLI runner processes."""

    def __init__(self, kind: str, runner_cls: str, tmp: Path, deployment: Deployment | None):
        self.kind, self.runner_cls, self.tmp = kind, runner_cls, tmp
        self.deployment = deployment
        self.app = tasks.app
        self._local: BackgroundRunner | None = None
        self._process: RunnerProcess | None = None
        self._count = 0

    @property
    def cross_process(self) -> bool:
        return self.deployment is not None

    def configure(self) -> None:
        if self.deployment is not None:
            self.deployment.configure(self.app)
            return
        self.app.reset_components()
        self.app.conf.broker_url = "memory://"
        self.app.conf.state_backend_url = "memory://"
        self.app.conf.runner.update(threads=1, heartbeat_interval=0.2, dead_after=3.0)

    def start(self) -> None:
        """Start the runner and wait until it runs a task."""
        if self.deployment is None:
            self._local = BackgroundRunner(ThreadRunner(self.app, threads=1), 30, 60)
            self._local.__enter__()
        else:
            self._count += 1
            log = self.tmp / f"runner-{self._count}.log"
            self._process = RunnerProcess(
                self.deployment, self.runner_cls, *SINGLE_SLOT, log=log, app_ref=APP
            ).start()
        assert tasks.started_at("ready").get_result(timeout=60) > 0, self.log_tail()

    def stop(self) -> None:
        if self._local is not None:
            self._local.__exit__(None, None, None)
            self._local = None
        if self._process is not None:
            assert self._process.stop() == 0, self._process.log_tail()
            self._process = None

    @contextlib.contextmanager
    def another_runner(self) -> Iterator[None]:
        """A second runner beside the first, for as long as the block lasts."""
        if self.deployment is None:
            with BackgroundRunner(ThreadRunner(self.app, threads=1), 30, 60):
                yield
            return
        self._count += 1
        log = self.tmp / f"runner-{self._count}.log"
        # a pool runner heartbeats as itself and as each worker
        wanted = len(self.app.state_backend.runners()) + (
            2 if self.runner_cls == "PersistentProcessRunner" else 1
        )
        extra = RunnerProcess(
            self.deployment, self.runner_cls, *SINGLE_SLOT, log=log, app_ref=APP
        ).start()
        try:
            backend = self.app.state_backend
            wait_until(lambda: len(backend.runners()) >= wanted, 60, "the second runner")
            yield
        finally:
            assert extra.stop() == 0, extra.log_tail()

    def log_tail(self) -> str:
        return self._process.log_tail() if self._process is not None else ""


@pytest.fixture(scope="module", params=SETUPS, ids=lambda p: f"{p[0]}-{p[1]}")
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"sched-{kind}-{runner_cls}")
    deployment = None
    if kind == "sqlite":
        urls = (f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db")
        deployment = Deployment(kind, *urls, dict(FAST))
    elif kind == "redis":
        redis: Server = request.getfixturevalue("redis_server")
        deployment = Deployment(kind, redis.db_url(), redis.db_url(), dict(FAST))
    current = Setup(kind, runner_cls, tmp, deployment)
    current.configure()
    current.app.purge()
    current.start()
    try:
        yield current
    finally:
        current.stop()
        current.app.reset_components()


@pytest.fixture
def marker(tmp_path: Path) -> str:
    return str(tmp_path / "attempts")


def _entries(invocation: Any, status: InvocationStatus) -> list[Any]:
    return [e for e in invocation.history if e.status is status]


def _due_in_reason(reason: str | None) -> float:
    """The due time a delayed retry's history entry names (ISO, to the millisecond)."""
    found = re.search(r"due at (\S+)", reason or "")
    assert found, reason
    return dt.datetime.fromisoformat(found.group(1)).timestamp()


# -- delays and ETAs ---------------------------------------------------------------------------


def test_a_delayed_call_runs_after_its_due_time(setup: Setup) -> None:
    before = time.time()
    invocation = tasks.started_at.with_options(delay=1.0)("delayed")
    record = setup.app.state_backend.get(invocation.invocation_id)
    assert record is not None and record.status is S.SCHEDULED
    assert record.due is not None and before + 1.0 <= record.due <= time.time() + 1.0
    started = invocation.get_result(timeout=60)
    assert started >= record.due
    statuses = [e.status for e in invocation.history]
    assert statuses == [S.SCHEDULED, S.REGISTERED, S.RUNNING, S.SUCCESS]
    published = invocation.history[1]
    assert published.timestamp >= record.due and "after its due time" in (published.reason or "")


def test_an_eta_runs_after_it(setup: Setup) -> None:
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    invocation = tasks.started_at.with_options(eta=eta)("eta")
    assert invocation.status is S.SCHEDULED
    assert invocation.get_result(timeout=60) >= eta.timestamp()


def test_a_delayed_fan_out_and_a_delayed_direct_task(setup: Setup) -> None:
    due = time.time() + 0.5
    group = tasks.started_at.with_options(delay=0.5).parallelize([(f"p{i}",) for i in range(6)])
    assert all(inv.status is S.SCHEDULED for inv in group)
    assert all(started >= due for started in group.results)
    assert tasks.direct_started_at.with_options(delay=0.5)() >= due


def test_work_due_is_not_republished_by_redelivery(setup: Setup) -> None:
    invocation = tasks.started_at.with_options(delay=30)("far")
    assert setup.app.orchestrator.redeliver_stale("test", time.time() + 60, after=1) == 0
    assert invocation.status is S.SCHEDULED
    assert setup.app.state_backend.find(statuses=[S.SCHEDULED]) == [invocation.invocation_id]
    setup.app.purge()  # leave nothing due for the other tests


# -- retries with a delay ----------------------------------------------------------------------


def test_retry_backoff_due_times_in_the_history(setup: Setup, marker: str) -> None:
    invocation = tasks.flaky_backoff(marker, succeed_on=3)
    assert invocation.get_result(timeout=60) == 3
    assert invocation.num_retries == 2
    scheduled = _entries(invocation, S.SCHEDULED)
    assert [e.reason.split(";")[0] for e in scheduled] == [
        "retry 1: builtins.ValueError: attempt 1",
        "retry 2: builtins.ValueError: attempt 2",
    ]
    assert "(in 0.200 s)" in scheduled[0].reason and "(in 0.400 s)" in scheduled[1].reason
    runs = _entries(invocation, S.RUNNING)
    assert len(runs) == 3
    for entry, delay, rerun in zip(scheduled, (0.2, 0.4), runs[1:], strict=True):
        due = _due_in_reason(entry.reason)
        assert due == pytest.approx(entry.timestamp + delay, abs=0.5)
        assert rerun.timestamp >= due - 0.001  # never before (the reason rounds to 1 ms)
    assert [e.status for e in invocation.history].count(S.RETRY) == 2  # published when due


def test_retry_error_with_a_delay(setup: Setup, marker: str) -> None:
    invocation = tasks.asks_for_delay(marker, 0.5)
    assert invocation.get_result(timeout=60) == 2
    [scheduled] = _entries(invocation, S.SCHEDULED)
    assert "(in 0.500 s)" in (scheduled.reason or "")
    assert _entries(invocation, S.RUNNING)[1].timestamp >= _due_in_reason(scheduled.reason) - 0.001


def test_a_backoff_past_any_date_waits_the_longest_delay(setup: Setup, marker: str) -> None:
    # the second retry's backoff overflows a datetime: it waits LONGEST_DELAY SCHEDULED,
    # instead of the runner failing to record it (RUNNING forever)
    invocation = tasks.steep_backoff(marker)
    wait_until(
        lambda: [e.status for e in invocation.history].count(S.SCHEDULED) == 2,
        60,
        "the second retry to be scheduled",
    )
    assert tasks.attempts(marker) == 2
    record = setup.app.state_backend.get(invocation.invocation_id)
    assert record is not None and record.status is S.SCHEDULED and record.due is not None
    assert record.due == pytest.approx(time.time() + LONGEST_DELAY, abs=120)
    assert invocation.cancel().cancelled  # leave nothing scheduled for the other tests


# -- expiry ------------------------------------------------------------------------------------


def test_a_call_not_started_before_its_expiry_never_runs(setup: Setup, marker: str) -> None:
    busy = tasks.block(1.5)  # the only slot is taken meanwhile
    expiring = tasks.count_run.with_options(expires=0.3)(marker)
    with pytest.raises(InvocationExpiredError) as info:
        expiring.get_result(timeout=60)
    assert expiring.invocation_id in str(info.value)
    assert "tests.apps.scheduling.count_run" in str(info.value)
    assert info.value.expires is not None
    assert busy.get_result(timeout=60) == 1.5
    assert tasks.attempts(marker) == 0
    assert expiring.status is S.EXPIRED
    assert [e.status for e in expiring.history] == [S.REGISTERED, S.EXPIRED]


def test_a_retry_due_after_the_expiry_expires_at_once(setup: Setup, marker: str) -> None:
    invocation = tasks.fails_slowly.with_options(expires=20)(marker)  # retry_delay=30
    with pytest.raises(InvocationExpiredError, match="last attempt failed") as info:
        invocation.get_result(timeout=60)
    assert isinstance(info.value.__cause__, ValueError)
    assert tasks.attempts(marker) == 1
    expired = invocation.history[-1]
    assert expired.status is S.EXPIRED and "after its expiry" in (expired.reason or "")


# -- caller-chosen ids -------------------------------------------------------------------------


def test_a_chosen_id_registers_and_runs_once(setup: Setup, marker: str) -> None:
    chosen = f"report-{Path(marker).parent.name}"
    first = tasks.count_run.with_options(invocation_id=chosen)(marker)
    again = tasks.count_run.with_options(invocation_id=chosen, delay=5)(marker)
    assert first.invocation_id == again.invocation_id == chosen
    assert first.get_result(timeout=60) == 1 and again.get_result(timeout=60) == 1
    assert tasks.attempts(marker) == 1
    assert [e.status for e in first.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    with pytest.raises(InvocationConflictError, match="other arguments"):
        tasks.count_run.with_options(invocation_id=chosen)(marker + "-other")
    with pytest.raises(
        InvocationConflictError, match=r"not of tests\.apps\.scheduling\.started_at"
    ):
        tasks.started_at.with_options(invocation_id=chosen)("x")


def test_concurrent_calls_with_one_id_register_once(setup: Setup, marker: str) -> None:
    chosen = f"race-{Path(marker).parent.name}"
    barrier = threading.Barrier(6)
    ids: list[str] = []

    def call() -> None:
        barrier.wait()
        ids.append(tasks.count_run.with_options(invocation_id=chosen)(marker).invocation_id)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert ids == [chosen] * 6
    assert setup.app.orchestrator.wait_final(chosen, 60).status is S.SUCCESS
    assert tasks.attempts(marker) == 1


# -- restarts and several runners --------------------------------------------------------------


def test_a_delayed_call_survives_a_runner_restart(setup: Setup, marker: str) -> None:
    setup.stop()
    try:
        due_soon = tasks.count_run.with_options(delay=0.3)(marker)
        expires = tasks.count_run.with_options(delay=0.2, expires=0.6)(marker + "-expired")
        record = setup.app.state_backend.get(due_soon.invocation_id)
        assert record is not None and record.due is not None
        wait_until(lambda: time.time() > record.due + 0.7, 10, "both due, one expired")
        assert due_soon.status is S.SCHEDULED  # nobody holds it: it waits in the backend
    finally:
        setup.start()
    assert due_soon.get_result(timeout=60) == 1
    with pytest.raises(InvocationExpiredError):
        expires.get_result(timeout=60)
    assert tasks.attempts(marker + "-expired") == 0


def test_two_runners_publish_a_due_invocation_once(setup: Setup, marker: str) -> None:
    with setup.another_runner():
        group = tasks.count_run.with_options(delay=0.5).parallelize([(marker,)] * 12)
        assert len(list(group.results)) == 12
    assert tasks.attempts(marker) == 12  # each body ran once
    for invocation in group:
        statuses = [e.status for e in invocation.history]
        assert statuses == [S.SCHEDULED, S.REGISTERED, S.RUNNING, S.SUCCESS]
