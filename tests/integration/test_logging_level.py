"""``logging_level`` shows pynenc's lines from code and from the CLI, never twice."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc
from tests.apps import deploy
from tests.integration.deployments import ROOT, Deployment, RunnerProcess, wait_until
from tests.servers import Server

log_app = Pynenc(app_id="tests-logging")


@log_app.task
def hello(name: str) -> str:
    return f"hello {name}"


@pytest.fixture
def pynenc_logger() -> Iterator[logging.Logger]:
    """The ``pynenc`` logger with no handler (earlier tests' apps may have added pynenc's
    fallback handler), put back as it was (level and handlers) after the test."""
    logger = logging.getLogger("pynenc")
    level, handlers = logger.level, list(logger.handlers)
    logger.handlers[:] = []
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_unset_logging_level_leaves_the_logger_alone(
    pynenc_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYNENC__LOGGING_LEVEL", raising=False)
    pynenc_logger.setLevel(logging.DEBUG)  # the application's own choice
    Pynenc(app_id="tests-logging-unset")
    assert pynenc_logger.level == logging.DEBUG
    assert pynenc_logger.handlers == []


def test_level_assigned_after_construction_applies_when_the_runner_starts(
    pynenc_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    log_app.purge()
    log_app.conf.logging_level = "info"  # as a Celery user does with app.conf.update
    with log_app.running_in_background():
        invocation = hello("you")
        assert invocation.result == "hello you"
    assert pynenc_logger.level == logging.INFO
    assert any(
        r.name == "pynenc.invocation" and f"[{invocation.invocation_id}] succeeded" in r.message
        for r in caplog.records
    )


_SCRIPT = """
import logging, sys
if sys.argv[1] == "basicConfig":
    logging.basicConfig(format="ROOT %(name)s: %(message)s")
from tests.apps import core
with core.app.running_in_background():
    print(core.add(1, 2).result)
"""


@pytest.mark.parametrize(
    ("level", "setup", "lines"),
    [("info", "none", 1), ("info", "basicConfig", 1), ("", "none", 0), ("", "basicConfig", 0)],
)
def test_a_script_shows_info_lines_once_when_logging_level_says_so(
    level: str, setup: str, lines: int
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
    env["PYTHONPATH"] = str(ROOT)
    if level:
        env["PYNENC__LOGGING_LEVEL"] = level
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, setup],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    succeeded = re.findall(r"Task tests\.apps\.core\.add\[[-\w]+\] succeeded in", done.stderr)
    assert len(succeeded) == lines, done.stderr
    if lines and setup == "basicConfig":
        assert "ROOT pynenc.invocation: Task tests.apps.core.add[" in done.stderr


# -- the CLI runner, real processes and a real Redis --------------------------------------------


def _deployment(redis: Server, **runner: str) -> Deployment:
    settings = {"stop_grace": "0.5", "heartbeat_interval": "0.2", **runner}
    return Deployment("redis", redis.db_url(), redis.db_url(), settings)


def test_cli_runner_shows_a_line_per_invocation_by_default(
    redis_server: Server, tmp_path: Path
) -> None:
    deployment = _deployment(redis_server)
    app = deployment.configure()
    app.purge()
    log = tmp_path / "runner.log"
    runner = RunnerProcess(deployment, "ThreadRunner", "--threads", "2", log=log).start()
    try:
        ok = deploy.add(1, 2)
        failing = deploy.fail_with("boom")
        retried = deploy.flaky(str(tmp_path / "marker"), 2)
        assert ok.get_result(timeout=60) == 3
        with pytest.raises(ValueError, match="boom"):
            failing.get_result(timeout=60)
        assert retried.get_result(timeout=60) == 2
        slow = deploy.sleep_then_add(1, 60)  # still running at the stop: rerouted
        wait_until(lambda: f"[{slow.invocation_id}] started" in log.read_text(), 60, "start")
    finally:
        assert runner.stop() == 0, runner.log_tail()
    text = log.read_text()
    task = "Task tests.apps.deploy"
    assert re.search(rf"INFO .*{task}\.add\[{ok.invocation_id}\] started", text)
    assert re.search(rf"INFO .*{task}\.add\[{ok.invocation_id}\] succeeded in \d", text)
    assert text.count(f"{task}.add[{ok.invocation_id}] succeeded") == 1  # not twice
    failed = rf"WARNING .*{task}\.fail_with\[{failing.invocation_id}\] failed in [\d.]+ s: "
    assert re.search(failed + r"ValueError: boom\nTraceback", text), text
    assert f"{task}.flaky[{retried.invocation_id}] failed in " in text
    assert re.search(rf"\[{retried.invocation_id}\] failed in [\d.]+ s, retry 1/3: Flaky", text)
    assert f"{task}.flaky[{retried.invocation_id}] started (retry 1)" in text
    assert re.search(rf"WARNING .*{task}\.sleep_then_add\[{slow.invocation_id}\] rerouted: ", text)
    app.purge()
    app.reset_components()


@pytest.mark.parametrize("runner_cls", ["ProcessRunner", "MultiThreadRunner"])
def test_worker_processes_show_their_lines_too(
    runner_cls: str, redis_server: Server, tmp_path: Path
) -> None:
    deployment = _deployment(redis_server, processes="1")
    app = deployment.configure()
    app.purge()
    log = tmp_path / "runner.log"
    runner = RunnerProcess(deployment, runner_cls, log=log).start()
    try:
        invocation = deploy.add(2, 3)
        assert invocation.get_result(timeout=60) == 5
        line = f"Task tests.apps.deploy.add[{invocation.invocation_id}] succeeded"
        wait_until(lambda: line in log.read_text(), 30, "the worker's log line")
    finally:
        assert runner.stop() == 0, runner.log_tail()
    assert log.read_text().count(line) == 1
    app.reset_components()


def test_cli_loglevel_option_turns_the_info_lines_off(redis_server: Server, tmp_path: Path) -> None:
    deployment = _deployment(redis_server)
    app = deployment.configure()
    app.purge()
    log = tmp_path / "runner.log"
    runner = RunnerProcess(deployment, "ThreadRunner", "--loglevel", "WARNING", log=log).start()
    marker = uuid.uuid4().hex
    try:
        ok = deploy.add(1, 1)
        failing = deploy.fail_with(marker)
        assert ok.get_result(timeout=60) == 2
        with pytest.raises(ValueError):
            failing.get_result(timeout=60)
        wait_until(lambda: marker in log.read_text(), 30, "the failure's log line")
    finally:
        assert runner.stop() == 0, runner.log_tail()
    text = log.read_text()
    assert f"[{failing.invocation_id}] failed in" in text
    assert f"[{ok.invocation_id}]" not in text
    app.reset_components()
