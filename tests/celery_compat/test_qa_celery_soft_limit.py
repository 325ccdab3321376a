"""``soft_time_limit`` on ``pynenc-celery worker``: a prefork worker process runs its task
in its main thread, so ``SoftTimeLimitExceeded`` interrupts a task that sleeps, as Celery's
prefork pool does with a signal. The threads and solo pools run tasks in threads, where it
is raised only at ``invocation.checkpoint()``: the worker says so at start, naming the
tasks (and says nothing on prefork)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import celery
import pytest
from celery._state import get_current_app

from pynenc_celery_compat.bridge import reset_pynenc_app
from tests.celery_compat import qa_celery_tasks as tasks
from tests.servers import Server

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.celery_compat.qa_celery_app"
pytestmark = pytest.mark.integration


@pytest.fixture(params=["prefork"])
def worker(
    redis_server: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[celery.Celery, Path]]:
    """A ``pynenc-celery worker`` of the QA app (pool: the param, one slot) on a fresh Redis
    database, and the caller's app (current) on the same database."""
    url = redis_server.db_url()
    log = tmp_path / "worker.log"
    args = ("worker", "-P", request.param, "-c", "1", "-l", "info")
    process = subprocess.Popen(
        [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, *args],
        cwd=ROOT,
        env={**os.environ, "QA_CELERY_URL": url, "PYTHONUNBUFFERED": "1"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    app = celery.Celery("qa_celery", broker=url, backend=url, set_as_current=False)
    previous = get_current_app()
    app.set_current()
    try:
        yield app, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        reset_pynenc_app(app)
        previous.set_current()


def _started(log: Path, line: str = "pynenc-celery worker") -> str:
    """The worker's output once ``line`` is in it (the banner and the warning after it are
    two writes: wait for the one the test reads)."""
    deadline = time.monotonic() + 60
    while line not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return log.read_text()


@pytest.mark.parametrize("worker", ["threads", "solo"], indirect=True)
def test_a_thread_pool_warns_that_soft_limits_are_cooperative(
    worker: tuple[celery.Celery, Path],
) -> None:
    output = _started(worker[1], "invocation.checkpoint()")
    assert f"Warning: soft_time_limit of {tasks.qa_soft_limited.name}:" in output
    assert "invocation.checkpoint()" in output
    assert tasks.qa_sleepy.name not in output.split("Warning: soft_time_limit")[1].split(".\n")[0]


def test_a_sleeping_task_gets_soft_time_limit_exceeded_on_prefork(
    worker: tuple[celery.Celery, Path],
) -> None:
    assert tasks.qa_soft_limited.delay(4).get(timeout=60) == "soft limit caught"
    assert "soft_time_limit" not in _started(worker[1])  # nothing to warn about
