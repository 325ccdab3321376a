"""A hostile world around the compat layer: workers killed with SIGKILL mid-task, the Redis
server stopped while calling and while waiting. Nothing is lost, nothing runs twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError

from pynenc.exceptions import StateBackendUnavailableError
from pynenc_celery_compat import AsyncResult, Celery, states
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


def _point_app_at(db: str) -> str:
    """The test process's ``tasks.app`` (the caller) on ``db``, with fresh connections."""
    tasks.app.conf.broker_url = db
    tasks.app.conf.result_backend = db
    pynenc = tasks.app.pynenc
    pynenc.reset_components()
    pynenc.conf.broker_url = db
    pynenc.conf.state_backend_url = db
    return db


@pytest.fixture
def url(redis_server: Server) -> Iterator[str]:
    yield _point_app_at(redis_server.db_url())


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


def test_redis_down_during_delay_raises_what_celery_callers_catch(
    redis_factory: Callable[..., Server],
) -> None:
    server = redis_factory()
    db = server.db_url()
    app = Celery("qa_hostile_down", broker=db, backend=db, set_as_current=False)
    add = app.task(name="qa_hostile_down.add")(tasks.add.run)
    pynenc = app.pynenc
    pynenc.state_backend.retry_for = 1.0  # give up soon (a restart is ridden out for 30 s)
    first = add.delay(1, 2)
    server.stop()
    with pytest.raises(OperationalError, match="unreachable") as raised:
        add.delay(1, 2)  # Celery: kombu's OperationalError once its publish retries end
    assert isinstance(raised.value, StateBackendUnavailableError)
    server.start()
    assert AsyncResult(first.id, app=app).state == states.PENDING  # not lost: no runner yet


def test_redis_restarted_during_get_the_caller_waits_and_the_task_runs_once(
    redis_factory: Callable[..., Server], tmp_path: Path
) -> None:
    server = redis_factory(persistent=True)
    url = _point_app_at(server.db_url())
    attempts = tmp_path / "attempts.txt"
    worker = Worker(url, tmp_path / "worker.log", "-P", "threads", "-c", "1")
    outcome: list[object] = []
    waiting = threading.Event()

    def wait_for_it(result: AsyncResult) -> None:
        waiting.set()
        try:
            outcome.append(result.get(timeout=180))
        except Exception as error:  # reported by the assert below
            outcome.append(error)

    try:
        result = tasks.record_then_sleep.delay(str(attempts), 2)
        wait_until(lambda: attempts.exists(), 120, "the task to start")
        getter = threading.Thread(target=wait_for_it, args=(result,))
        getter.start()
        waiting.wait(30)
        server.stop()  # while get() waits and the task runs
        server.start()
        getter.join(240)
        assert outcome == [1], (outcome, worker.log.read_text()[-3000:])
        assert result.state == states.SUCCESS
        assert len(attempts.read_text().splitlines()) == 1
    finally:
        worker.stop()
