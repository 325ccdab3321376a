"""Deployments for integration tests: real backends, runners in their own processes.

``Deployment`` names the broker and state URLs; ``RunnerProcess`` starts
``python -m pynenc --app tests.apps.deploy:app runner start`` with them and stops it
(SIGTERM), or kills it (SIGKILL) for fault tests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pynenc import Pynenc
from tests.apps import deploy

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    name: str
    broker_url: str
    state_backend_url: str
    runner_settings: dict[str, str] = field(default_factory=dict)
    broker_transport_options: str = "{}"
    #: more environment variables for the runner processes (``PYNENC__…``, ``PYTHONPATH``)
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYNENC")}
        env.update(
            PYNENC__BROKER_URL=self.broker_url,
            PYNENC__STATE_BACKEND_URL=self.state_backend_url,
            PYNENC__BROKER__TRANSPORT_OPTIONS=self.broker_transport_options,
            PYTHONPATH=str(ROOT),
        )
        for name, value in self.runner_settings.items():
            env[f"PYNENC__RUNNER__{name.upper()}"] = value
        env.update(self.extra_env)
        return env

    def configure(self, app: Pynenc = deploy.app) -> Pynenc:
        """Point the test process's app at this deployment (fresh connections)."""
        app.reset_components()
        app.conf.broker_url = self.broker_url
        app.conf.state_backend_url = self.state_backend_url
        app.conf.broker.transport_options = self.broker_transport_options
        app.conf.runner.update(**self.runner_settings)
        return app


class RunnerProcess:
    """A runner started through the CLI in its own process (group)."""

    def __init__(
        self,
        deployment: Deployment,
        runner_cls: str,
        *extra: str,
        log: Path | None = None,
        app_ref: str = "tests.apps.deploy:app",
    ) -> None:
        self.deployment = deployment
        self.args = [
            sys.executable,
            "-m",
            "pynenc",
            "--app",
            app_ref,
            "runner",
            "start",
            "--runner",
            runner_cls,
            *extra,
        ]
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RunnerProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.args,
            env=self.deployment.environment(),
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        return self

    def signal(self, sig: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the runner (graceful) and wait; SIGKILL if it hangs."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            code = self.process.wait(timeout=10)
            raise AssertionError(f"runner did not stop on SIGTERM: {self.log_tail()}") from None
        finally:
            self.signal(signal.SIGKILL)  # leftovers of the process group, if any
        return code

    def kill(self) -> None:
        """kill -9 the whole runner (its worker processes too)."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""


def wait_until(predicate: object, timeout: float, what: str) -> None:
    """Poll a condition that lives in another process (no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def assert_due_shown(line: str, due: float, before: float, after: float) -> None:
    """A CLI's ``due`` value (``2025-01-01T09:10:00.000+00:00 (in 9m58s)``) shows ``due``,
    and how far off it was when the CLI ran, some time between ``before`` and ``after``
    (a CLI process may take seconds to start on a loaded machine)."""
    stamp, _, relative = line.partition(" (in ")
    assert dt.datetime.fromisoformat(stamp).timestamp() == pytest.approx(due, abs=1e-3), line
    minutes, _, seconds = relative.removesuffix(")").rpartition("m")
    shown = int(minutes or 0) * 60 + float(seconds.removesuffix("s"))
    assert int(due - after) - 1 <= shown <= due - before, (line, due - after, due - before)
