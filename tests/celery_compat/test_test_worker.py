"""``start_worker``: a pynenc runner in-process for a Celery app's compat tasks (Celery's
test worker API), and the worker-side signals it sends."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celery
import pytest
from celery import signals
from celery.contrib.testing.app import setup_default_app

from pynenc_celery_compat import Celery, states
from pynenc_celery_compat.contrib.testing.worker import start_worker, test_worker_started
from pynenc_celery_compat.worker import Worker
from tests.celery_compat import worker_tasks as tasks
from tests.integration.deployments import wait_until
from tests.servers import Server


@pytest.fixture
def mixed_app() -> Iterator[Any]:
    """A real ``celery.Celery`` app (a project mid-migration) holding compat shared tasks."""
    app = celery.Celery(
        "mixed", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    with setup_default_app(app):
        app.set_current()
        yield app


class Recorder:
    """Records Celery signals (their sender and keyword arguments) while connected."""

    def __init__(self, *names: str) -> None:
        self.seen: list[tuple[str, Any, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self._handlers = []
        for name in names:
            handler = self._handler(name)
            getattr(signals, name).connect(handler, weak=False)
            self._handlers.append((name, handler))

    def _handler(self, name: str) -> Any:
        def handler(sender: Any = None, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            with self.changed:
                self.seen.append((name, sender, kwargs))
                self.changed.notify_all()

        return handler

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]

    def wait_for(self, name: str, count: int, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.names().count(name) >= count, timeout), (
                self.seen
            )

    def disconnect(self) -> None:
        for name, handler in self._handlers:
            getattr(signals, name).disconnect(handler)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder(
        "worker_init", "worker_process_init", "worker_ready", "worker_shutdown", "task_revoked"
    )
    yield recorder
    recorder.disconnect()


def test_start_worker_serves_the_compat_tasks_of_a_real_celery_app(
    mixed_app: Any, recorder: Recorder
) -> None:
    started: list[Any] = []
    test_worker_started.connect(lambda sender, worker, **kw: started.append(worker), weak=False)
    with start_worker(mixed_app) as worker:
        assert isinstance(worker, Worker) and started == [worker]
        assert (worker.pool_cls, worker.concurrency, worker.queues) == ("solo", 1, ("celery",))
        assert tasks.add.delay(2, 2).get(timeout=30) == 4
        info = tasks.process_info.delay().get(timeout=30)
        assert info["pid"] == os.getpid() and info["hostname"] == worker.hostname
        # the test may wait for results, and so may its tasks (Celery's test worker allows it)
        assert tasks.join_inside.delay().get(timeout=30) == "3"
        worker.reload()  # Celery's docs call it after defining tasks; harmless here
    # as Celery's test worker: init and (solo) process init, neither ready nor shutdown
    assert recorder.names() == ["worker_init", "worker_process_init"]
    assert recorder.seen[0][1] is worker and recorder.seen[1][1] == worker.hostname


def test_task_revoked_is_sent_when_a_worker_meets_a_revoked_or_expired_task(
    mixed_app: Any, recorder: Recorder
) -> None:
    revoked = tasks.add.delay(1, 2)
    revoked.revoke()
    expired = tasks.add.apply_async((3,), {"y": 4}, expires=0.05)
    time.sleep(0.1)  # past its expiry: a time has to pass, there is no event
    with start_worker(mixed_app, perform_ping_check=False):
        recorder.wait_for("task_revoked", 2)
    sent = {
        kwargs["request"].id: (sender, kwargs)
        for name, sender, kwargs in recorder.seen
        if name == "task_revoked"
    }
    sender, payload = sent[revoked.id]
    assert sender is tasks.add
    assert (payload["expired"], payload["terminated"], payload["signum"]) == (False, False, None)
    assert payload["request"].args == [1, 2] and payload["request"].task == tasks.add.name
    sender, payload = sent[expired.id]
    assert payload["expired"] is True and payload["request"].retries == 0
    assert revoked.state == expired.state == states.REVOKED


def test_a_task_running_past_shutdown_timeout_raises_as_celerys() -> None:
    app = Celery("slow", broker="memory://", backend="cache+memory://", set_as_current=False)
    with setup_default_app(app):
        app.set_current()
        with (
            pytest.raises(RuntimeError, match="shutdown_timeout"),
            start_worker(app, perform_ping_check=False, shutdown_timeout=0.5),
        ):
            result = tasks.sleepy.delay(5)
            deadline = time.monotonic() + 30
            while result.state != states.STARTED and time.monotonic() < deadline:
                time.sleep(0.05)


@pytest.mark.integration
def test_a_prefork_test_worker_runs_tasks_in_processes_that_deny_joins(
    redis_server: Server, recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked_log = tmp_path / "revoked.log"
    monkeypatch.setenv("REVOKED_LOG", str(revoked_log))  # worker processes write there
    url = redis_server.db_url()
    app = Celery("prefork", broker=url, backend=url, set_as_current=False)
    with setup_default_app(app):  # not importable: its processes get it pickled
        app.set_current()
        with start_worker(app, pool="prefork", concurrency=2, ping_task_timeout=60) as worker:
            info = tasks.process_info.delay().get(timeout=60)
            assert info["pid"] != os.getpid() and info["init"] == [worker.hostname]
            assert tasks.join_inside.delay().get(timeout=60).startswith("RuntimeError: Never")
            result = tasks.sleepy.delay(30)
            while result.state != states.STARTED:
                time.sleep(0.05)
            result.revoke(terminate=True)  # running in a worker process: it is replaced
            wait_until(revoked_log.exists, 60, "task_revoked in the worker process")
            assert tasks.add.delay(1, 1).get(timeout=60) == 2
    task_id, name, terminated, expired, pid = revoked_log.read_text().split()
    assert (task_id, name, terminated, expired) == (result.id, tasks.sleepy.name, "True", "False")
    assert int(pid) != os.getpid() and result.state == states.REVOKED
    # both sent in the worker processes, where their handlers are connected at import
    assert "worker_process_init" not in recorder.names()
    assert "task_revoked" not in recorder.names()
