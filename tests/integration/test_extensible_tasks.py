"""Extensible tasks on a real deployment: a ProcessRunner on Redis runs tasks of a ``Task``
subclass (``task_cls``), with options the subclass declares, and tasks known by a name of
their own that the runner finds only by importing a declared module (``task_modules``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord
from pynenc.serializer import serialize_arguments
from tests.apps import extensible, extensible_named
from tests.integration.deployments import ROOT, Deployment, RunnerProcess
from tests.servers import Server

APP = "tests.apps.extensible:app"
NAMED = "tests.apps.extensible_named"


@pytest.fixture
def deployment(redis_server: Server) -> Iterator[Deployment]:
    deployment = Deployment(
        "redis",
        redis_server.db_url(),
        redis_server.db_url(),
        extra_env={
            "PYNENC__TASK_MODULES": NAMED,
            # an option the subclass declares, for one task, read by the runner only
            "PYNENC__TASK__TESTS_APPS_EXTENSIBLE_DOUBLE__ACKS_LATE": "true",
        },
    )
    yield deployment
    extensible.app.reset_components()


def _publish(app: Pynenc, task_key: str, **kwargs: object) -> str:
    """Register and publish a call of ``task_key`` as a caller that has such a task would."""
    arguments = serialize_arguments(app.serializer, task_key, kwargs)
    invocation_id = new_invocation_id()
    app.state_backend.register([InvocationRecord(invocation_id, task_key, arguments)], 0.0)
    app.broker.publish([Envelope(invocation_id, task_key, arguments, app.conf.serializer)])
    return invocation_id


def test_a_process_runner_runs_subclassed_and_named_tasks(
    deployment: Deployment, tmp_path: Path
) -> None:
    app = deployment.configure(extensible.app)
    runner = RunnerProcess(
        deployment, "ProcessRunner", "--processes", "2", log=tmp_path / "runner.log", app_ref=APP
    ).start()
    try:
        # the app's task_cls: the subclass's run_function runs in a child process
        doubled = extensible.double(21).get_result(timeout=90)
        assert doubled["tag"] == "double" and doubled["value"] == 42, runner.log_tail()
        assert doubled["pid"] != os.getpid()

        # a named task: the runner's app never imported its module; task_modules declares it
        charge = extensible_named.charge(250)
        assert charge.get_result(timeout=90)["value"] == "charged 250", runner.log_tail()
        record = app.orchestrator.get_record(charge.invocation_id)
        assert record.task_id == "billing.charge" and record.status is InvocationStatus.SUCCESS
        assert extensible_named.refund(5)["value"] == "refunded 5"  # direct_task, named too

        # the decorator's task_cls wins over the app's
        assert extensible.plain_add(2, 3).get_result(timeout=90) == 5

        # a name no declared module registers: a clear failure, the runner keeps going
        missing = _publish(app, "billing.nosuch", cents=1)
        failed = app.orchestrator.wait_final(missing, timeout=90)
        assert failed.status is InvocationStatus.FAILED and failed.error is not None
        assert failed.error["type"] == "pynenc.exceptions.TaskNotFoundError"
        assert "'billing.nosuch'" in failed.error["message"]
        assert NAMED in failed.error["message"] and "task_modules" in failed.error["message"]
        assert extensible.double(1).get_result(timeout=90)["value"] == 2
    finally:
        assert runner.stop() == 0, runner.log_tail()
    log = runner.log_tail()
    assert "Task billing.charge[" in log  # the log names the task by its name


def test_show_config_lists_the_options_a_subclass_declares(deployment: Deployment) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, "show-config"],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in done.stdout.splitlines()}
    assert rows["task_cls"][0] == "'tests.apps.extensible:TaggedTask'"
    assert rows["task.tag"] == ["'plain'", "(default)"]
    acks_late = rows["tasks.tests.apps.extensible.double.acks_late"]
    assert acks_late == [
        "True",
        "(environment variable PYNENC__TASK__TESTS_APPS_EXTENSIBLE_DOUBLE__ACKS_LATE)",
    ]
    assert rows["tasks.tests.apps.extensible.double.tag"] == [
        "'double'",
        "(options of task tests.apps.extensible.double)",
    ]
