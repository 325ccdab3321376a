"""The pynenc command on the embedded default (runner start on real servers: test_deployments)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from pynenc import Pynenc
from pynenc.cli.main import cli
from tests.apps import core


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_show_config_prints_values_and_sources() -> None:
    code, out = invoke("--app", "tests.apps.core:app", "show-config")
    assert code == 0
    app_line = next(line for line in out.splitlines() if line.startswith("app_id "))
    assert app_line.split()[1:] == ["'tests-core'", "(config_values)"]
    assert "runner.threads" in out and "(config_values)" in out
    assert "tasks.tests.apps.core.flaky.max_retries" in out
    assert "tests.apps.core.FlakyError" in out


def test_dotted_app_reference_works_too() -> None:
    code, out = invoke("--app", "tests.apps.core.app", "show-config")
    assert code == 0 and "runner.threads" in out


def test_status_shows_history_and_result(running_app: Pynenc) -> None:
    invocation = core.add(2, 2)
    assert invocation.result == 4
    code, out = invoke("--app", "tests.apps.core:app", "status", invocation.invocation_id)
    assert code == 0
    assert "status      SUCCESS" in out
    assert "REGISTERED" in out and "RUNNING" in out
    assert running_app.runner.runner_id in out
    assert "result      4" in out


def test_status_shows_the_error(running_app: Pynenc) -> None:
    invocation = core.fail_with("bad input")
    running_app.orchestrator.wait_final(invocation.invocation_id, 20)
    code, out = invoke("--app", "tests.apps.core:app", "status", invocation.invocation_id)
    assert code == 1  # FAILED
    assert "status      FAILED" in out
    assert "builtins.ValueError: bad input" in out
    assert "Traceback" in out


def test_status_shows_a_cancellation_error_once(core_app: Pynenc) -> None:
    invocation = core.add(1, 1)  # no runner: cancelled before it starts
    invocation.cancel(reason="not needed")
    code, out = invoke("--app", "tests.apps.core:app", "status", invocation.invocation_id)
    assert code == 1  # CANCELLED
    assert "status      CANCELLED" in out
    assert out.count("InvocationCancelledError: ") == 1, out  # no traceback: one line


def test_status_of_unknown_invocation_fails_clearly(core_app: Pynenc) -> None:
    result = CliRunner().invoke(cli, ["--app", "tests.apps.core:app", "status", "nope"])
    assert result.exit_code == 1
    assert "Invocation nope is not known" in result.output


def test_purge(core_app: Pynenc) -> None:
    invocation = core.add(1, 1)
    code, out = invoke("--app", "tests.apps.core:app", "purge", "--yes")
    assert code == 0 and "Purged app 'tests-core'" in out
    assert core_app.state_backend.get(invocation.invocation_id) is None


def test_unimportable_app_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["--app", "no_such_module:app", "show-config"])
    assert result.exit_code == 1
    assert "No module 'no_such_module'" in result.output


def test_reference_to_something_else_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["--app", "tests.apps.core:add", "show-config"])
    assert result.exit_code == 1
    assert "is Task, not a Pynenc app" in result.output


def test_process_runner_refuses_in_memory_backends() -> None:
    result = CliRunner().invoke(
        cli, ["--app", "tests.apps.core:app", "runner", "start", "--runner", "ProcessRunner"]
    )
    assert result.exit_code == 1
    assert "needs a cross-process state backend and broker" in result.output


def test_python_dash_m_pynenc() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", "tests.apps.core:app", "show-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "broker_url" in done.stdout
