"""A password in the broker or state backend URL reaches no output: banner, logs, errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import deploy
from tests.integration.deployments import ROOT, Deployment, RunnerProcess
from tests.servers import RedisServer, require_binary

SECRET = "s3cr3t-Pa55word"


class PasswordRedis(RedisServer):
    """A redis-server that refuses clients without ``SECRET``."""

    def command(self) -> list[str]:
        return [*super().command(), "--requirepass", SECRET]


@pytest.fixture
def password_redis() -> Iterator[PasswordRedis]:
    server = PasswordRedis(require_binary("redis-server"))
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


class DebugDeployment(Deployment):
    """Runners log at DEBUG: every message that could carry a URL is written."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PYNENC__LOGGING_LEVEL": "debug"}


def _url(server: PasswordRedis, db: int) -> str:
    return f"redis://:{SECRET}@127.0.0.1:{server.port}/{db}"


def _cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynenc", "--app", "tests.apps.deploy:app", *args],
        env=deployment.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_password_in_urls_is_never_printed(password_redis: PasswordRedis, tmp_path: Path) -> None:
    deployment = DebugDeployment("redis-password", _url(password_redis, 1), _url(password_redis, 2))
    app = deployment.configure()
    app.purge()
    log = tmp_path / "runner.log"
    runner = RunnerProcess(deployment, "ThreadRunner", log=log).start()
    try:
        assert deploy.add(2, 3).get_result(timeout=60) == 5  # the password works
    finally:
        assert runner.stop() == 0, runner.log_tail()
    outputs = {"runner": log.read_text(errors="replace")}
    assert "pynenc runner" in outputs["runner"]  # the banner was printed
    commands = (["show-config"], ["status", "no-such-id"], ["runners"], ["invocations"], ["purge"])
    for command in commands:
        done = _cli(deployment, *command)
        outputs[" ".join(command)] = done.stdout + done.stderr
    assert "not known to the state backend" in outputs["status no-such-id"]
    assert "pass --yes" in outputs["purge"] and "redis://:" in outputs["purge"]  # masked URLs
    leaked = [name for name, text in outputs.items() if SECRET in text]
    assert not leaked, {name: outputs[name][-2000:] for name in leaked}
    app.reset_components()
