"""Running concurrency control and the global rate limit end to end: real runners
(thread and process) on memory, SQLite and Redis.

The deployments run two runner processes (memory: one ThreadRunner in this process) with
``runner.concurrency_recheck`` at 120 s, so an invocation held back for a slot that starts
within the test's time was woken by a release, not found by its recheck. Every task stamps
its start and end in a file (``tests/apps/running_limits.py``); the limits are checked on
those stamps, written by the tasks themselves.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import ConcurrencyControlledError, TaskTimeoutError
from tests.apps import running_limits as tasks
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
DEPLOYED = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
    ("redis", "PersistentProcessRunner"),  # worker processes, each a ThreadRunner
]
#: a recheck far beyond any wait below: a waiter that starts in time was woken
SETTINGS = {"heartbeat_interval": "0.2", "dead_after": "3", "concurrency_recheck": "120"}
APP_REF = "tests.apps.running_limits:app"
SLOTS = 3  #: per runner (threads or processes)


def _deployment(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "memory":
        return Deployment(kind, "memory://", "memory://", dict(SETTINGS))
    if kind == "sqlite":
        return Deployment(
            kind, f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db", dict(SETTINGS)
        )
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url(), dict(SETTINGS))


def _runner(deployment: Deployment, runner_cls: str, log: Path) -> RunnerProcess:
    slots = str(SLOTS)
    return RunnerProcess(
        deployment,
        runner_cls,
        "--threads",
        slots,
        "--processes",
        slots,
        log=log,
        app_ref=APP_REF,
    )


@pytest.fixture(scope="module", params=DEPLOYED, ids=lambda p: f"{p[0]}-{p[1]}")
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"running-{kind}-{runner_cls}")
    deployment = _deployment(kind, tmp, request)
    app = deployment.configure(tasks.app)
    app.conf.dev_mode_force_sync_tasks = False
    app.purge()
    if kind == "memory":
        app.conf.runner.threads = SLOTS
        with app.running_in_background(stop_timeout=60):
            yield deployment
        app.reset_components()
        return
    runners = [_runner(deployment, runner_cls, tmp / f"runner{i}.log") for i in range(2)]
    for runner in runners:
        runner.start()
    try:
        yield deployment
    finally:
        codes = [runner.stop() for runner in runners]
        assert codes == [0, 0], "\n".join(runner.log_tail() for runner in runners)
        app.reset_components()


@pytest.fixture
def app(deployed: Deployment) -> Pynenc:
    # not purged between tests: each has its own stamp file and gate, and the runners'
    # state (heartbeats, the services lease) is left alone while they run
    return tasks.app


class Stamps:
    """The stamp file and gate of one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "stamps"
        self.file = str(self.path)
        self.gate_path = tmp_path / "gate"
        self.gate = str(self.gate_path)

    def events(self) -> list[tuple[str, float, str]]:
        """(event, time, label), in file order."""
        if not self.path.exists():
            return []
        lines = [line.split(" ", 3) for line in self.path.read_text().splitlines()]
        return [(event, float(at), label) for event, at, _, label in lines]

    def started(self, label: str) -> bool:
        return any(e == "start" and lbl == label for e, _, lbl in self.events())

    def at(self, event: str, label: str) -> float:
        return next(t for e, t, lbl in self.events() if e == event and lbl == label)

    def open(self) -> None:
        self.gate_path.touch()


@pytest.fixture
def stamps(tmp_path: Path) -> Iterator[Stamps]:
    files = Stamps(tmp_path)
    try:
        yield files
    finally:
        files.open()  # never leave a gated task holding its slot for the next test


def most_at_once(events: list[tuple[str, float, str]], key: object = None) -> dict[str, int]:
    """The most runs in progress at once, per key (the label's part before ``:``, or
    everything under ``""``): a sweep over the start and end stamps (an end before a start
    at the same instant)."""
    per: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for event, at, label in events:
        group = label.split(":")[0] if key else ""
        per[group].append((at, 1 if event == "start" else -1))
    most: dict[str, int] = {}
    for group, moves in per.items():
        running = best = 0
        for _, delta in sorted(moves):
            running += delta
            best = max(best, running)
        most[group] = best
    return most


def test_task_scope_runs_never_overlap(app: Pynenc, stamps: Stamps) -> None:
    calls = [tasks.exclusive(stamps.file, f"r{i}") for i in range(8)]
    assert [c.get_result(timeout=120) for c in calls] == [f"r{i}" for i in range(8)]
    events = stamps.events()
    assert len(events) == 16
    assert most_at_once(events) == {"": 1}
    # some were held back and came back, without a retry counted
    histories = [c.history for c in calls]
    assert any(S.SCHEDULED in [e.status for e in h] for h in histories)
    assert all(c.num_retries == 0 for c in calls)


def test_keys_scope_runs_at_most_two_per_key(app: Pynenc, stamps: Stamps) -> None:
    group = tasks.per_account.parallelize(
        [(stamps.file, account, str(i)) for i in range(6) for account in ("acme", "globex")]
    )
    assert sorted(group.results) == sorted([str(i) for i in range(6)] * 2)
    most = most_at_once(stamps.events(), key=True)
    assert set(most) == {"acme", "globex"}
    assert max(most.values()) <= 2, sorted(stamps.events(), key=lambda e: e[1])


def test_no_wait_fails_with_concurrency_controlled_error(app: Pynenc, stamps: Stamps) -> None:
    first = tasks.no_wait(stamps.file, stamps.gate, "first")
    wait_until(lambda: stamps.started("first"), 60, "the first to start")
    second = tasks.no_wait(stamps.file, stamps.gate, "second")
    with pytest.raises(ConcurrencyControlledError, match="reroute_on_concurrency_control"):
        second.get_result(timeout=60)
    assert second.status is S.FAILED
    assert not stamps.started("second")
    stamps.open()
    assert first.get_result(timeout=60) == "first"


def test_held_back_invocations_take_no_runner_slot(app: Pynenc, stamps: Stamps) -> None:
    holder = tasks.gated(stamps.file, stamps.gate, "holder")
    wait_until(lambda: stamps.started("holder"), 60, "the holder to start")
    # more waiters than every runner has slots: were they kept in slots, nothing else runs
    waiters = [tasks.gated(stamps.file, stamps.gate, f"w{i}") for i in range(2 * SLOTS + 2)]
    wait_until(
        lambda: all(w.status is S.SCHEDULED for w in waiters), 60, "the waiters to be held back"
    )
    assert tasks.plain(7).get_result(timeout=60) == 7
    assert holder.status is S.RUNNING
    assert all(w.status is S.SCHEDULED for w in waiters)
    held = waiters[0].history[-1]
    assert held.status is S.SCHEDULED
    assert held.reason is not None and "held back: running_concurrency=TASK" in held.reason
    stamps.open()
    assert [w.get_result(timeout=120) for w in waiters] == [f"w{i}" for i in range(len(waiters))]
    assert holder.get_result(timeout=60) == "holder"
    assert most_at_once(stamps.events()) == {"": 1}


def test_a_release_wakes_a_waiter_at_once(app: Pynenc, stamps: Stamps) -> None:
    holder = tasks.gated(stamps.file, stamps.gate, "holder")
    wait_until(lambda: stamps.started("holder"), 60, "the holder to start")
    waiter = tasks.gated(stamps.file, stamps.gate, "waiter")
    wait_until(lambda: waiter.status is S.SCHEDULED, 60, "the waiter to be held back")
    stamps.open()
    assert waiter.get_result(timeout=60) == "waiter"
    assert holder.result == "holder"
    # rechecked after 120 s only: a start this soon is the release's wake-up
    assert stamps.at("start", "waiter") - stamps.at("end", "holder") < 10
    reasons = [e.reason or "" for e in waiter.history]
    assert any(r.startswith("woken: a running slot") for r in reasons), reasons


def test_rate_limit_spreads_starts(
    app: Pynenc, stamps: Stamps, request: pytest.FixtureRequest
) -> None:
    begin = time.time()
    group = tasks.rated.parallelize([(stamps.file, str(i)) for i in range(20)])
    assert len(list(group.results)) == 20
    starts = sorted(at for _, at, _ in stamps.events())
    assert starts[-1] - begin >= 1.85  # 20 starts at 10/s: the last one 1.9 s after the first
    # 10 per second, one more for the jitter; a ProcessRunner's task stamps its start in a
    # child forked after the rate let it start: on a loaded machine, children started
    # before a window (at most one per slot of the two runners) may stamp inside it
    forked = 2 * SLOTS if request.node.callspec.params["deployed"][1] == "ProcessRunner" else 0
    assert max_in_window(starts, 1.0) <= 11 + forked


def max_in_window(starts: list[float], window: float) -> int:
    best, first = 0, 0
    for last, start in enumerate(starts):
        while starts[first] <= start - window:
            first += 1
        best = max(best, last - first + 1)
    return best


# -- deployments of their own --------------------------------------------------------------


@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "ProcessRunner"])
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_slot_of_a_killed_runner_comes_back_with_recovery(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure(tasks.app)
    app.purge()
    files = Stamps(tmp_path)
    first = _runner(deployment, runner_cls, tmp_path / "first.log").start()
    second: RunnerProcess | None = None
    try:
        holder = tasks.gated(files.file, files.gate, "holder")
        wait_until(lambda: files.started("holder"), 60, "the holder to start")
        waiters = [tasks.gated(files.file, files.gate, f"w{i}") for i in range(3)]
        wait_until(lambda: all(w.status is S.SCHEDULED for w in waiters), 60, "waiters held")
        first.signal(signal.SIGKILL)  # kill -9: the holder's slot is never given back
        killed_at = time.time()
        assert first.process is not None
        first.process.wait(timeout=10)
        second = _runner(deployment, runner_cls, tmp_path / "second.log").start()
        # recovery reroutes the holder and gives its slot back (the waiters' recheck is at
        # 120 s): the woken waiter or the holder, published again, takes it
        wait_until(lambda: len(files.events()) == 2, 90, "a second start")
        files.open()
        calls = [holder, *waiters]
        assert sorted(c.get_result(timeout=120) for c in calls) == ["holder", "w0", "w1", "w2"]
        events = files.events()
        # the killed run never wrote its end: it ended when its runner was killed
        events.append(("end", killed_at, "holder"))
        assert most_at_once(events) == {"": 1}
        reasons = " ".join(e.reason or "" for e in holder.history)
        assert "is dead" in reasons
    finally:
        files.open()
        for runner in (first, second):
            if runner is not None:
                runner.stop()
        app.reset_components()


@pytest.mark.parametrize(
    ("kind", "runner_cls"), [("redis", "ThreadRunner"), ("sqlite", "ProcessRunner")]
)
def test_rate_limit_holds_across_four_runner_processes(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment(kind, tmp_path, request)
    app = deployment.configure(tasks.app)
    app.purge()
    files = Stamps(tmp_path)
    runners = [_runner(deployment, runner_cls, tmp_path / f"r{i}.log") for i in range(4)]
    for runner in runners:
        runner.start()
    try:
        wait_until(lambda: len(app.state_backend.runners()) == 4, 90, "4 runners to heartbeat")
        # warm up: runners that have just started are still importing and forking their
        # first children on a loaded machine, which delays some starts and bunches them
        assert list(tasks.plain.parallelize([(i,) for i in range(16)]).results) == list(range(16))
        group = tasks.rated.parallelize([(files.file, str(i)) for i in range(50)])
        assert len(list(group.results)) == 50
        starts = sorted(at for _, at, _ in files.events())
        assert len(starts) == 50
        assert starts[-1] - starts[0] >= 4.85  # 50 starts at 10/s: 4.9 s from first to last
        assert max_in_window(starts, 1.0) <= 11
        pids = {line.split()[2] for line in files.path.read_text().splitlines()}
        assert len(pids) > 1  # the runners shared the work
    finally:
        for runner in runners:
            runner.stop()
        app.reset_components()


def test_status_shows_why_and_until_when_an_invocation_is_held_back(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = _deployment("sqlite", tmp_path, request)
    app = deployment.configure(tasks.app)
    app.purge()
    files = Stamps(tmp_path)
    runner = _runner(deployment, "ThreadRunner", tmp_path / "runner.log").start()
    try:
        holder = tasks.gated(files.file, files.gate, "holder")
        wait_until(lambda: files.started("holder"), 60, "the holder to start")
        waiter = tasks.gated(files.file, files.gate, "waiter")
        wait_until(lambda: waiter.status is S.SCHEDULED, 60, "the waiter to be held back")
        shown = _status_cli(deployment, waiter.invocation_id)
        head = dict(line.split(None, 1) for line in shown.stdout.split("history:")[0].splitlines())
        assert head["status"] == "SCHEDULED"
        assert head["due"].endswith(("(in 1m59s)", "(in 2m00s)", "(in 1m58s)"))  # the recheck
        assert head["waiting"].startswith(
            "held back: running_concurrency=TASK: 1 invocation(s) of key "
            "'tests.apps.running_limits.gated' already running; woken by a release"
        )
        files.open()
        assert waiter.get_result(timeout=60) == "waiter"
        assert holder.result == "holder"
        # woken before its recheck: it ran, its due time is still ahead
        after = _status_cli(deployment, waiter.invocation_id).stdout
        assert "woken: a running slot of 'tests.apps.running_limits.gated'" in after
        assert "will not run" not in after and "waiting" not in after
    finally:
        files.open()
        runner.stop()
        app.reset_components()


def _status_cli(deployment: Deployment, invocation_id: str) -> subprocess.CompletedProcess[str]:
    shown = subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP_REF, "status", invocation_id],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    return shown


def test_cancelling_the_holder_starts_a_waiter(app: Pynenc, stamps: Stamps) -> None:
    holder = tasks.gated(stamps.file, stamps.gate, "holder")
    wait_until(lambda: stamps.started("holder"), 60, "the holder to start")
    waiter = tasks.gated(stamps.file, stamps.gate, "waiter")
    wait_until(lambda: waiter.status is S.SCHEDULED, 60, "the waiter to be held back")
    assert holder.cancel().cancelled
    # the gate is still closed: the waiter starts because the slot was given back (a
    # thread runner's cancelled body runs on until the gate opens; a process is killed)
    wait_until(lambda: stamps.started("waiter"), 30, "the waiter to start")
    assert holder.status is S.CANCELLED
    stamps.open()
    assert waiter.get_result(timeout=60) == "waiter"


def test_a_holder_past_its_time_limit_gives_its_slot_back(app: Pynenc, stamps: Stamps) -> None:
    holder = tasks.gated_limited(stamps.file, stamps.gate, "holder")
    wait_until(lambda: stamps.started("holder"), 60, "the holder to start")
    waiter = tasks.gated_limited(stamps.file, stamps.gate, "waiter")
    wait_until(lambda: waiter.status is not S.REGISTERED, 60, "the waiter to be claimed")
    with pytest.raises(TaskTimeoutError):
        holder.get_result(timeout=60)
    # it starts once the holder is failed by its runner (recheck: 120 s)
    wait_until(lambda: stamps.started("waiter"), 30, "the waiter to start")
    stamps.open()
    # it may have run past its own limit meanwhile: only its end matters here
    assert app.orchestrator.wait_final(waiter.invocation_id, 60).status.is_final
