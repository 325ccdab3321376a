"""Registration concurrency end to end: real runners (thread and process) on memory, SQLite
and Redis. A call whose key is held by a pending invocation gets that invocation back
(``ReusedInvocation``) and nothing runs twice; once it is final, a call registers anew."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import (
    InvocationConcurrencyWithDifferentArgumentsError,
    InvocationConflictError,
)
from pynenc.invocation.distributed import ReusedInvocation
from tests.apps import limits
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

S = InvocationStatus
#: (backend, runner): memory runs a ThreadRunner in this process; the others run the
#: runner through the CLI in its own process
DEPLOYED = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]
FAST = {"heartbeat_interval": "0.2", "dead_after": "3"}


def _deployment(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Deployment:
    if kind == "memory":
        return Deployment(kind, "memory://", "memory://", FAST)
    if kind == "sqlite":
        return Deployment(kind, f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db", FAST)
    redis: Server = request.getfixturevalue("redis_server")
    return Deployment(kind, redis.db_url(), redis.db_url(), FAST)


@pytest.fixture(scope="module", params=DEPLOYED, ids=lambda p: f"{p[0]}-{p[1]}")
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"limits-{kind}-{runner_cls}")
    deployment = _deployment(kind, tmp, request)
    app = deployment.configure(limits.app)
    app.conf.dev_mode_force_sync_tasks = False
    app.purge()
    if kind == "memory":
        with app.running_in_background(stop_timeout=60):
            yield deployment
        app.reset_components()
        return
    runner = RunnerProcess(
        deployment,
        runner_cls,
        "--threads",
        "4",
        "--processes",
        "2",
        log=tmp / "runner.log",
        app_ref="tests.apps.limits:app",
    ).start()
    try:
        yield deployment
    finally:
        code = runner.stop()
        assert code == 0, runner.log_tail()
        app.reset_components()


@pytest.fixture
def app(deployed: Deployment) -> Pynenc:
    limits.app.purge()
    return limits.app


class Files:
    """A run counter and a gate file for one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.counter = str(tmp_path / "runs")
        self.gate_path = tmp_path / "gate"
        self.gate = str(self.gate_path)

    def runs(self) -> int:
        path = Path(self.counter)
        return len(path.read_text().splitlines()) if path.exists() else 0

    def open(self) -> None:
        self.gate_path.touch()


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def test_a_duplicate_gets_the_pending_invocation(app: Pynenc, files: Files) -> None:
    first = limits.refresh(files.counter, files.gate, "one")
    queued = limits.refresh(files.counter, files.gate, "two")
    wait_until(lambda: files.runs() == 1, 60, "the first invocation to start")
    assert first.status is S.RUNNING
    running = limits.refresh(files.counter, files.gate, "three")
    for reused in (queued, running):
        assert isinstance(reused, ReusedInvocation)
        assert reused.invocation_id == first.invocation_id
    assert running.requested_arguments.kwargs["label"] == "three"
    assert running.arguments.kwargs["label"] == "one"  # the reused invocation's
    files.open()
    assert [i.get_result(timeout=60) for i in (first, queued, running)] == ["one"] * 3
    assert files.runs() == 1
    assert [e.status for e in first.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    # final now: the next call registers a new invocation
    again = limits.refresh(files.counter, files.gate, "four")
    assert not isinstance(again, ReusedInvocation)
    assert again.invocation_id != first.invocation_id
    assert again.get_result(timeout=60) == "four"
    assert files.runs() == 2


def test_arguments_scope(app: Pynenc, files: Files) -> None:
    a = limits.export(files.counter, files.gate, "a")
    b = limits.export(files.counter, files.gate, "b")
    a_again = limits.export(files.counter, files.gate, "a")
    assert a.invocation_id != b.invocation_id
    assert a_again.invocation_id == a.invocation_id
    files.open()
    assert [i.get_result(timeout=60) for i in (a, b, a_again)] == ["a", "b", "a"]
    assert files.runs() == 2


def test_keys_scope_raises_on_other_arguments(app: Pynenc, files: Files) -> None:
    acme = limits.sync_account(files.counter, files.gate, "acme", "x")
    same = limits.sync_account(files.counter, files.gate, "acme", "x")
    assert same.invocation_id == acme.invocation_id
    with pytest.raises(InvocationConcurrencyWithDifferentArgumentsError) as err:
        limits.sync_account(files.counter, files.gate, "acme", "y")
    assert err.value.existing_id == acme.invocation_id
    assert err.value.different == ["note"]
    assert acme.invocation_id in str(err.value) and "note" in str(err.value)
    globex = limits.sync_account(files.counter, files.gate, "globex", "y")
    files.open()
    assert acme.get_result(timeout=60) == "acme:x"
    assert globex.get_result(timeout=60) == "globex:y"
    assert files.runs() == 2


def test_keys_scope_reuses_despite_other_arguments(app: Pynenc, files: Files) -> None:
    first = limits.notify(files.counter, files.gate, "acme", "x")
    second = limits.notify(files.counter, files.gate, "acme", "y")
    assert second.invocation_id == first.invocation_id
    files.open()
    assert second.get_result(timeout=60) == "acme:x"
    assert files.runs() == 1


def test_parallelize_folds_duplicates(app: Pynenc, files: Files) -> None:
    group = limits.export.parallelize(
        [
            (files.counter, files.gate, "a"),
            (files.counter, files.gate, "a"),
            {"counter": files.counter, "gate": files.gate, "report": "b"},
        ]
    )
    ids = [i.invocation_id for i in group]
    assert ids[0] == ids[1] != ids[2]
    files.open()
    assert list(group.results) == ["a", "a", "b"]
    assert files.runs() == 2


def test_direct_task_duplicates_share_one_run(
    app: Pynenc, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed = threading.Semaphore(0)
    send = app.orchestrator.send

    def send_and_tell(*args: Any, **kwargs: Any) -> Any:  # the real send, observed
        try:
            return send(*args, **kwargs)
        finally:
            routed.release()

    monkeypatch.setattr(app.orchestrator, "send", send_and_tell)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(limits.refresh_direct, files.counter, files.gate, "one")
        assert routed.acquire(timeout=60)
        second = pool.submit(limits.refresh_direct, files.counter, files.gate, "two")
        assert routed.acquire(timeout=60)  # the second call is in: folded or registered
        files.open()
        assert (first.result(60), second.result(60)) == ("one", "one")
    assert files.runs() == 1


def _race(urls: tuple[str, str], counter: str, gate: str, barrier: Any, out: Any) -> None:
    app = limits.app
    app.conf.broker_url, app.conf.state_backend_url = urls
    barrier.wait(60)
    out.put(limits.refresh(counter, gate, "race").invocation_id)


def test_racing_processes_register_one(app: Pynenc, deployed: Deployment, files: Files) -> None:
    if deployed.name == "memory":
        pytest.skip("memory:// is one process")
    ctx = multiprocessing.get_context("spawn")
    out, barrier = ctx.Queue(), ctx.Barrier(4)
    urls = (deployed.broker_url, deployed.state_backend_url)
    children = [
        ctx.Process(target=_race, args=(urls, files.counter, files.gate, barrier, out))
        for _ in range(4)
    ]
    for child in children:
        child.start()
    ids = {out.get(timeout=120) for _ in children}
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert len(ids) == 1
    files.open()
    [invocation_id] = ids
    assert app.orchestrator.wait_final(invocation_id, 60).status is S.SUCCESS
    assert files.runs() == 1


def test_a_caller_chosen_id_names_one_call(app: Pynenc, files: Files, tmp_path: Path) -> None:
    # registration control and a caller-chosen id together: the stored call stands (run
    # once), and the id with other arguments is refused, not answered with another result
    chosen = f"export-{tmp_path.name}"
    first = limits.export.with_options(invocation_id=chosen)(files.counter, files.gate, "Q1")
    files.open()
    assert first.get_result(timeout=60) == "Q1"
    again = limits.export.with_options(invocation_id=chosen)(files.counter, files.gate, "Q1")
    assert again.invocation_id == chosen and again.get_result(timeout=60) == "Q1"
    with pytest.raises(InvocationConflictError, match=chosen):
        limits.export.with_options(invocation_id=chosen)(files.counter, files.gate, "Q2")
    assert [e.status for e in first.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    assert files.runs() == 1
