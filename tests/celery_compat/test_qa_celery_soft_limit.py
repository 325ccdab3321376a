"""``soft_time_limit`` on ``pynenc-celery worker``: every pool runs tasks in threads (a
prefork worker process's too), so ``SoftTimeLimitExceeded`` cannot interrupt a task that
sleeps or waits, as Celery's prefork pool does with a signal. The worker says so at start,
naming the tasks; the behaviour itself waits for the core (strict xfail)."""

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
WORKER_ARGS = ("worker", "-P", "prefork", "-c", "1", "-l", "info")
pytestmark = pytest.mark.integration


@pytest.fixture
def worker(redis_server: Server, tmp_path: Path) -> Iterator[tuple[celery.Celery, Path]]:
    """A prefork ``pynenc-celery worker`` of the QA app on a fresh Redis database, and the
    caller's app (current) on the same database."""
    url = redis_server.db_url()
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, *WORKER_ARGS],
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


def _warned(log: Path) -> str:
    deadline = time.monotonic() + 60
    while "pynenc-celery worker" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return log.read_text()


def test_the_worker_warns_that_soft_limits_are_cooperative(
    worker: tuple[celery.Celery, Path],
) -> None:
    output = _warned(worker[1])
    assert f"Warning: soft_time_limit of {tasks.qa_soft_limited.name}:" in output
    assert "invocation.checkpoint()" in output
    assert tasks.qa_sleepy.name not in output.split("Warning: soft_time_limit")[1].split(".\n")[0]


@pytest.mark.xfail(
    strict=True,
    reason="core: a PersistentProcessRunner worker process runs its task in a thread, where "
    "the soft limit is cooperative (checkpoint); Celery's prefork child is interrupted",
)
def test_a_sleeping_task_gets_soft_time_limit_exceeded_on_prefork(
    worker: tuple[celery.Celery, Path],
) -> None:
    assert tasks.qa_soft_limited.delay(4).get(timeout=60) == "soft limit caught"
