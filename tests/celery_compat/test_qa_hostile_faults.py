"""A hostile world around the compat layer: workers killed with SIGKILL mid-task, the Redis
server stopped while calling and while waiting. Nothing is lost, nothing runs twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc_celery_compat import states
from tests.celery_compat import qa_hostile_tasks as tasks
from tests.integration.deployments import ROOT, wait_until
from tests.servers import Server

APP = "tests.celery_compat.qa_hostile_tasks"


class Worker:
    """``pynenc-celery -A … worker`` in its own process group."""

    def __init__(self, url: str, log: Path, *flags: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
        env.update(QA_HOSTILE_URL=url, PYTHONPATH=str(ROOT))
        self.log = log
        out = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, "worker", *flags],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def url(redis_server: Server) -> Iterator[str]:
    db = redis_server.db_url()
    tasks.app.conf.broker_url = db
    tasks.app.conf.result_backend = db
    from pynenc_celery_compat.bridge import pynenc_app_for

    pynenc_app_for(tasks.app).reset_components()
    pynenc = pynenc_app_for(tasks.app)
    pynenc.conf.broker_url = db
    pynenc.conf.state_backend_url = db
    yield db


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_a_worker_killed_mid_task_leaves_it_to_run_once_more(
    pool: str, url: str, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts.txt"
    first = Worker(url, tmp_path / "first.log", "-P", pool, "-c", "1")
    second: Worker | None = None
    try:
        result = tasks.record_then_sleep.delay(str(attempts), 3)
        wait_until(lambda: attempts.exists(), 120, "the first attempt to start")
        assert result.state == states.STARTED
        first.kill()
        second = Worker(url, tmp_path / "second.log", "-P", pool, "-c", "1")
        assert result.get(timeout=120) == 2, (first.log.read_text(), second.log.read_text())
        assert result.state == states.SUCCESS
        time.sleep(1)  # nothing else picks it up once more
        assert len(attempts.read_text().splitlines()) == 2
    finally:
        first.stop()
        if second is not None:
            second.stop()
