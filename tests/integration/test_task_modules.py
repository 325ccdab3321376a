"""Runners import only the modules the app declares: real runner processes, SQLite.

The app's module, the modules of its registered tasks and ``task_modules``. A message naming
a task of any other module fails its invocation with an error saying how to allow it, and
nothing is imported (the module's import would write a marker file: there is none).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope
from pynenc.identifiers import new_invocation_id
from pynenc.records import InvocationRecord
from pynenc.serializer import deserialize_result, serialize_arguments
from tests.apps import deploy
from tests.integration.deployments import ROOT, Deployment, RunnerProcess

S = InvocationStatus


def _module_with_marker(directory: Path, name: str, marker: Path) -> None:
    """A task module whose import leaves ``marker`` behind."""
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(
        textwrap.dedent(f"""
        from pathlib import Path

        from tests.apps.deploy import app

        Path({str(marker)!r}).write_text("imported")

        @app.task
        def double(x: int) -> int:
            return 2 * x
    """)
    )


def _call(app: Pynenc, task_id: str, **kwargs: object) -> str:
    """Register and publish a call of ``task_id`` as a caller that has that task would."""
    arguments = serialize_arguments(app.serializer, task_id, kwargs)
    invocation_id = new_invocation_id()
    app.state_backend.register([InvocationRecord(invocation_id, task_id, arguments)], 0.0)
    app.broker.publish([Envelope(invocation_id, task_id, arguments, app.conf.serializer)])
    return invocation_id


def _deployment(tmp_path: Path, modules: Path, **env: str) -> Deployment:
    return Deployment(
        "sqlite",
        f"sqlite:///{tmp_path}/b.db",
        f"sqlite:///{tmp_path}/s.db",
        extra_env={"PYTHONPATH": f"{ROOT}{os.pathsep}{modules}", **env},
    )


def test_a_task_of_an_undeclared_module_fails_and_imports_nothing(tmp_path: Path) -> None:
    modules, marker = tmp_path / "modules", tmp_path / "marker"
    _module_with_marker(modules, "undeclared_tasks", marker)
    deployment = _deployment(tmp_path, modules)
    app = deployment.configure()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        invocation_id = _call(app, "undeclared_tasks.double", x=2)
        record = app.orchestrator.wait_final(invocation_id, timeout=60)
        assert record.status is S.FAILED, runner.log_tail()
        assert record.error is not None
        assert record.error["type"] == "pynenc.exceptions.TaskNotFoundError"
        message = record.error["message"]
        assert "'undeclared_tasks' is not declared" in message
        assert "task_modules" in message and "PYNENC__TASK_MODULES" in message
        assert not marker.exists()  # the module was never imported
        assert deploy.add(3, 4).get_result(timeout=60) == 7  # the runner keeps going
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()


def test_a_task_of_a_module_in_task_modules_runs(tmp_path: Path) -> None:
    modules, marker = tmp_path / "modules", tmp_path / "marker"
    _module_with_marker(modules, "declared_tasks", marker)
    deployment = _deployment(tmp_path, modules, PYNENC__TASK_MODULES="declared_tasks")
    app = deployment.configure()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        invocation_id = _call(app, "declared_tasks.double", x=21)
        record = app.orchestrator.wait_final(invocation_id, timeout=60)
        assert record.status is S.SUCCESS, (record.error, runner.log_tail())
        assert record.result is not None
        assert deserialize_result(app.serializer, record.result) == 42
        assert marker.exists()
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()


def test_a_runner_refuses_to_start_when_a_task_module_does_not_import(tmp_path: Path) -> None:
    """A typo in ``task_modules`` stops the runner at start, naming the module and the
    option, instead of failing that module's invocations one by one later."""
    deployment = _deployment(tmp_path, tmp_path, PYNENC__TASK_MODULES="no_such.module")
    done = subprocess.run(
        RunnerProcess(deployment, "ThreadRunner").args,
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "task_modules names module 'no_such.module'" in output
    assert "ModuleNotFoundError" in output


def test_a_runner_consumes_the_queues_of_its_task_modules(tmp_path: Path) -> None:
    """The tasks of ``task_modules`` are registered at start: a task there with its own
    queue is consumed without naming the queue, before anything imported its module."""
    modules, marker = tmp_path / "modules", tmp_path / "marker"
    _module_with_marker(modules, "queued_tasks", marker)
    source = (modules / "queued_tasks.py").read_text()
    (modules / "queued_tasks.py").write_text(source.replace("@app.task", '@app.task(queue="q2")'))
    deployment = _deployment(tmp_path, modules, PYNENC__TASK_MODULES="queued_tasks")
    app = deployment.configure()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        arguments = serialize_arguments(app.serializer, "queued_tasks.double", {"x": 4})
        invocation_id = new_invocation_id()
        record = InvocationRecord(invocation_id, "queued_tasks.double", arguments, queue="q2")
        app.state_backend.register([record], 0.0)
        envelope = Envelope(
            invocation_id, "queued_tasks.double", arguments, app.conf.serializer, "q2"
        )
        app.broker.publish([envelope])
        final = app.orchestrator.wait_final(invocation_id, timeout=60)
        assert final.status is S.SUCCESS, (final.error, runner.log_tail())
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()
