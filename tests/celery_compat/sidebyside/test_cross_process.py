"""The same behaviours with the worker in another process.

Calls sent to the queue ``remote`` run there: for Celery a ``celery worker`` process, for
the compat layer a ``pynenc runner`` process (``compat_runner.py``); both on the flavour's
Redis database. Arguments, results, exceptions, retries and the request cross processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from celery import states

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour, Gate, settled, wait_for_state
from tests.integration.deployments import ROOT, Deployment, RunnerProcess

REMOTE = "remote"


class CeleryWorkerProcess:
    """``celery -A tests.celery_compat.sidebyside.tasks_celery worker`` on the queue
    ``remote``, in its own process group."""

    def __init__(self, url: str, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYNENC", "CELERY"))}
        env.update(CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url, PYTHONPATH=str(ROOT))
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_compat.sidebyside.tasks_celery",
            "worker",
            "-P",
            "threads",
            "-c",
            "2",
            "-Q",
            REMOTE,
            "-n",
            "remote@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ]
        self.log = log
        out = open(log, "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            tail = self.log.read_text()[-2000:]
            raise AssertionError(f"celery worker did not stop: {tail}") from None


@pytest.fixture(scope="module")
def remote(flavour: Flavour, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flavour]:
    """``flavour`` with a worker in another process consuming the queue ``remote``."""
    log = tmp_path_factory.mktemp(f"remote-{flavour.name}") / "worker.log"
    if flavour.name == "celery":
        worker = CeleryWorkerProcess(flavour.broker_url, log)
        stop = worker.stop
    else:
        deployment = Deployment("sidebyside", flavour.broker_url, flavour.broker_url)
        runner = RunnerProcess(
            deployment,
            "ThreadRunner",
            "--queues",
            REMOTE,
            log=log,
            app_ref="tests.celery_compat.sidebyside.compat_runner:app",
        ).start()

        def stop() -> None:
            assert runner.stop() == 0, runner.log_tail()

    try:
        flavour.app.set_current()
        ready = flavour.tasks.where.apply_async(queue=REMOTE)
        assert ready.get(timeout=60)["pid"] != os.getpid(), log.read_text()[-3000:]
        yield flavour
    finally:
        stop()


@pytest.fixture
def far(remote: Flavour) -> ModuleType:
    remote.app.set_current()
    return remote.tasks


def test_runs_in_another_process(far: ModuleType) -> None:
    result = far.where.apply_async(queue=REMOTE)
    place = result.get(timeout=WAIT)
    assert place["pid"] != os.getpid()
    assert place["host"] == socket.gethostname()


def test_values_cross(far: ModuleType) -> None:
    assert far.add.apply_async((2, 3), queue=REMOTE).get(timeout=WAIT) == 5
    value = far.echo.apply_async(((1, 2), {"k": None}), queue=REMOTE).get(timeout=WAIT)
    assert value["args"] == [[1, 2], {"k": None}]


def test_custom_exception_crosses(far: ModuleType) -> None:
    result = far.boom.apply_async(("far", 1), queue=REMOTE)
    with pytest.raises(far.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == ("far", 1)
    assert result.state == states.FAILURE


def test_retries_cross(far: ModuleType) -> None:
    result = far.retry_until.apply_async((2,), queue=REMOTE)
    info = result.get(timeout=WAIT)
    assert (info["id"], info["retries"]) == (result.id, 2)
    assert info["delivery_info"]["routing_key"] == REMOTE
    assert info["hostname"].rpartition("@")[2] == socket.gethostname()


def test_started_state_crosses(far: ModuleType, gate: Gate) -> None:
    result = far.tracked.apply_async((gate.path,), queue=REMOTE)
    assert gate.wait_started() != os.getpid()
    wait_for_state(result, states.STARTED)
    gate.release()
    assert result.get(timeout=WAIT) == "done"


def test_chain_steps_alternate_processes(far: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(
        far.add.s(1, 2).set(queue=REMOTE), far.add.s(10), far.add.s(100).set(queue=REMOTE)
    )
    result = workflow.delay()
    assert result.get(timeout=WAIT) == 113
    settled(result.parent.parent, result.parent)
    assert [result.parent.parent.state, result.parent.state] == [states.SUCCESS] * 2


def test_chord_across_processes(far: ModuleType, canvas: ModuleType) -> None:
    header = [far.add.s(i, i).set(queue=REMOTE) for i in range(3)] + [far.add.s(5, 5)]
    result = canvas.chord(header, far.tsum.s().set(queue=REMOTE)).delay()
    assert result.get(timeout=WAIT) == 16
    assert result.parent.get(timeout=WAIT) == [0, 2, 4, 10]


def test_chain_failing_in_another_process(far: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(far.add.s(1, 2), far.boom.s().set(queue=REMOTE), far.add.s(1))
    result = workflow.delay()
    with pytest.raises(far.Boom):
        result.get(timeout=WAIT)
    last = far.app.AsyncResult(result.id)  # no parents: waits for the last step's own state
    assert repr(last.get(timeout=WAIT, propagate=False)) == "Boom(3)"
    assert [result.parent.state, result.state] == [states.FAILURE] * 2
