"""Guard rails of the pynenc command: exit codes, confirmations, clear --app errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pynenc import Pynenc
from pynenc.cli import main as cli_main
from pynenc.cli.main import cli
from tests.apps import core
from tests.integration.deployments import ROOT, wait_until

APP = "tests.apps.core:app"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_status_exits_1_for_a_failed_invocation(running_app: Pynenc) -> None:
    failed = core.fail_with("bad input")
    running_app.orchestrator.wait_final(failed.invocation_id, 20)
    assert run("--app", APP, "status", failed.invocation_id).exit_code == 1
    succeeded = core.add(1, 2)
    assert succeeded.result == 3
    assert run("--app", APP, "status", succeeded.invocation_id).exit_code == 0


def test_purge_without_yes_and_without_a_terminal_refuses(core_app: Pynenc) -> None:
    invocation = core.add(1, 1)
    result = run("--app", APP, "purge")
    assert result.exit_code == 1
    assert "--yes" in result.output
    assert core_app.state_backend.get(invocation.invocation_id) is not None


def test_purge_asks_on_a_terminal(core_app: Pynenc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "_interactive", lambda: True)
    invocation = core.add(1, 1)
    declined = run("--app", APP, "purge", stdin="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert core_app.state_backend.get(invocation.invocation_id) is not None
    accepted = run("--app", APP, "purge", stdin="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert core_app.state_backend.get(invocation.invocation_id) is None


def test_purge_yes_says_what_it_dropped(core_app: Pynenc) -> None:
    core.add(1, 1)
    core.add(2, 2)
    result = run("--app", APP, "purge", "--yes")
    assert result.exit_code == 0, result.output
    assert "2 queued messages" in result.output
    assert "2 stored invocations" in result.output
    assert "keep running" in result.output
    assert core_app.state_backend.find() == []


def test_runner_start_help_needs_no_app() -> None:
    result = run("runner", "start", "--help")
    assert result.exit_code == 0, result.output
    assert "--queues" in result.output


def test_a_command_without_app_says_so() -> None:
    result = run("show-config")
    assert result.exit_code == 2
    assert "--app" in result.output


def test_wrong_app_module_path_shows_what_was_tried() -> None:
    result = run("--app", "tests.apps.no_such_module:app", "show-config")
    assert result.exit_code == 1
    assert "No module 'tests.apps.no_such_module'" in result.output
    assert "searched" in result.output  # the directories tried


def test_missing_dependency_of_the_app_module_is_named() -> None:
    result = run("--app", "tests.apps.broken_dependency:app", "show-config")
    assert result.exit_code == 1
    assert "tests.apps.broken_dependency" in result.output
    assert "pynenc_test_missing_dependency" in result.output
    assert "not installed" in result.output
    assert "No module 'tests.apps.broken_dependency'" not in result.output


def test_missing_attribute_lists_the_apps_found() -> None:
    result = run("--app", "tests.apps.core:ap", "show-config")
    assert result.exit_code == 1
    assert "has no attribute 'ap'" in result.output
    assert "tests.apps.core:app" in result.output


def test_runner_start_warns_about_likely_mistakes(tmp_path: Path) -> None:
    """memory:// from the CLI, --processes with ThreadRunner, a queue no task uses."""
    log = tmp_path / "runner.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    args = ["runner", "start", "--runner", "ThreadRunner", "--processes", "2"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pynenc", "--app", APP, *args, "--queues", "default,nope"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until(lambda: "pynenc runner" in log.read_text(), 60, "the runner's banner")
    finally:
        process.kill()  # only the start matters here
        process.wait(timeout=60)
    text = log.read_text()
    banner = text.index("pynenc runner")
    warnings = [line for line in text[:banner].splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 3, text
    memory, processes, queue = warnings
    assert "no other process can send it work" in memory
    assert "--processes is ignored by ThreadRunner" in processes
    assert "queue 'nope' is consumed but no task" in queue


def test_commands_print_configuration_warnings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env.update(PYNENC__TASK__TESTS_APPS_CORE_ADDD__QUEUE="q", PYNENC_LOGGING_LEVEL="debug")
    done = subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", APP, "show-config"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(lines) == 2, done.stderr
    assert "PYNENC_LOGGING_LEVEL is ignored" in lines[0] and "PYNENC__LOGGING_LEVEL" in lines[0]
    assert "TESTS_APPS_CORE_ADDD" in lines[1] and "no task" in lines[1]
    assert "PYNENC__TASK__TESTS_APPS_CORE_ADDD__QUEUE" in lines[1]
