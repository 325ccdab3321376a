"""``pynenc-celery``: the worker command on real servers, its flags, its other commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.app import setup_default_app
from click.testing import CliRunner

from pynenc_celery_compat import Celery, states, trace
from pynenc_celery_compat.cli import cli
from tests.celery_compat import worker_tasks as tasks
from tests.servers import Server

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.celery_compat.worker_cli_app"
pytestmark = pytest.mark.integration


class WorkerProcess:
    """``pynenc-celery -A APP worker ARGS`` in a subprocess, output kept in a file."""

    def __init__(self, url: str, *args: str, tmp: Path) -> None:
        self.log = tmp / "worker.log"
        env = {**os.environ, "WORKER_TEST_URL": url, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"worker ignored SIGTERM:\n{self.output()}") from None


@pytest.fixture(autouse=True)
def keep_worker_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker set up in this process (``worker -P prefork`` refused after its setup) sets
    the host name tasks see: give it back, for the modules tested after this one."""
    monkeypatch.setattr(trace, "HOSTNAME", trace.HOSTNAME)


@pytest.fixture
def redis_db(redis_server: Server) -> str:
    return redis_server.db_url()


@pytest.fixture
def client(redis_db: str) -> Iterator[Any]:
    """The project's app as a caller sees it (same name and URLs), current meanwhile."""
    app = Celery("cliapp", broker=redis_db, backend=redis_db, set_as_current=False)
    with setup_default_app(app):
        app.set_current()
        yield app


def command(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKER_TEST_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_prefork_worker_runs_tasks_in_its_processes_until_sigterm(
    redis_db: str, client: Any, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        redis_db,
        *("-c", "2", "-n", "node1@%h", "-l", "info", "-Q", "celery,extra"),
        *("-O", "fair", "--without-gossip", "-B", "--max-tasks-per-child", "10"),
        tmp=tmp_path,
    )
    try:
        assert tasks.add.delay(2, 3).get(timeout=90) == 5
        info = tasks.process_info.delay().get(timeout=30)
        assert info["pid"] != worker.process.pid  # ran in a worker process
        assert info["hostname"] == info["init"][0]  # worker_process_init came first there
        assert info["hostname"].startswith("node1@")
        assert tasks.add.apply_async((1, 1), queue="extra").get(timeout=30) == 2
        # prefork children deny joins, as Celery's
        assert tasks.join_inside.delay().get(timeout=30).startswith("RuntimeError: Never call")
        elsewhere = tasks.add.apply_async((1, 2), queue="not-consumed")
        # the inspection commands read the same state backend
        running = tasks.sleepy.delay(30)
        deadline = time.monotonic() + 30
        while running.state != states.STARTED and time.monotonic() < deadline:
            time.sleep(0.1)
        active = command(redis_db, "inspect", "active")
        assert active.returncode == 0 and running.id in active.stdout, active
        status = command(redis_db, "status")
        assert status.returncode == 0 and "PersistentProcessRunner" in status.stdout, status
        shown = command(redis_db, "result", elsewhere.id)
        assert "REGISTERED" in shown.stdout, shown
        running.revoke(terminate=True)
        assert elsewhere.state == states.PENDING  # queue not consumed
    finally:
        code = worker.stop()
    output = worker.output()
    assert code == 0, output
    for flag in ("-O", "--without-gossip", "--max-tasks-per-child"):
        assert f"Warning: {flag} does not apply on pynenc" in output
    assert "Info: -B is not needed: pynenc runners run the beat_schedule entries" in output
    lines = [line for line in output.splitlines() if line.startswith("signal ")]
    names = [line.split()[1] for line in lines]
    assert names[0] == "worker_init" and names[-1] == "worker_shutdown", lines
    assert names.count("worker_process_init") >= 2 and "worker_ready" in names, lines
    assert names.count("worker_process_shutdown") >= 2, lines
    parent = f"pid={worker.process.pid}"
    assert all(parent in line for line in lines if "_process_" not in line)
    assert all(parent not in line for line in lines if "_process_" in line)


def test_a_threads_worker_applies_its_time_limit_to_tasks_without_one(
    redis_db: str, client: Any, tmp_path: Path
) -> None:
    worker = WorkerProcess(redis_db, "-P", "threads", "-c", "3", "--time-limit", "1", tmp=tmp_path)
    try:
        assert tasks.add.delay(1, 2).get(timeout=90) == 3
        result = tasks.sleepy.delay(20)
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            result.get(timeout=30)
        assert time.monotonic() - started < 15
        assert result.state == states.FAILURE
        assert (
            "time limit" in str(raised.value).lower()
            or "timeout" in type(raised.value).__name__.lower()
        ), raised.value
        # a threads worker denies joins in its process too (Celery's pools all do)
        assert tasks.join_inside.delay().get(timeout=30).startswith("RuntimeError")
    finally:
        assert worker.stop() == 0, worker.output()
    assert "signal worker_process_init" not in worker.output()  # threads: none, as Celery


def test_the_console_script_is_installed() -> None:
    assert (Path(sys.executable).parent / "pynenc-celery").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "-P", "gevent"], "pool 'gevent' is not supported"),
        (["worker", "-P", "eventlet"], "Use -P threads"),
        (["worker", "-X", "celery"], "no queue left to consume"),
        (["worker", "-l", "loud"], "log level 'loud'"),
        (["events"], "`events` is not supported"),
        (["flower", "--port=5555"], "`flower` is not supported"),
        (["inspect", "revoked"], "`inspect revoked` is not supported"),
    ],
)
def test_what_it_cannot_do_exits_2_saying_why(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["-A", APP, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_missing_or_wrong_app_exits_2() -> None:
    missing = CliRunner().invoke(cli, ["worker"])
    assert missing.exit_code == 2 and "Missing option '-A'" in missing.output
    wrong = CliRunner().invoke(cli, ["-A", "no_such_module_here", "worker"])
    assert wrong.exit_code == 2 and "no_such_module_here" in wrong.output


def test_prefork_on_in_process_backends_is_refused() -> None:
    result = CliRunner().invoke(cli, ["-A", APP, "worker", "-P", "prefork"])
    assert result.exit_code == 2
    assert "Use -P threads or -P solo" in result.output


def test_inspect_registered_lists_the_tasks() -> None:
    result = CliRunner().invoke(cli, ["-A", APP, "inspect", "registered"])
    assert result.exit_code == 0, result.output
    assert "tests.celery_compat.worker_tasks.add" in result.output
