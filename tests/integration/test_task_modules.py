"""Runners import only the modules the app declares: real runner processes, SQLite.

The app's module, the modules of its registered tasks and ``task_modules``. A message naming
a task of any other module fails its invocation with an error saying how to allow it, and
nothing is imported (the module's import would write a marker file: there is none).
"""

from __future__ import annotations

import os
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


def test_registered_tasks_run_whatever_task_modules_names(tmp_path: Path) -> None:
    """``task_modules`` adds modules; it neither replaces the app's tasks nor is imported
    before a task of it is called (a name that does not exist breaks nothing)."""
    deployment = _deployment(tmp_path, tmp_path, PYNENC__TASK_MODULES="no_such.module")
    app = deployment.configure()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 2).get_result(timeout=60) == 3
    finally:
        assert runner.stop() == 0, runner.log_tail()
        app.reset_components()
