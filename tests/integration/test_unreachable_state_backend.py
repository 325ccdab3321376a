"""A state backend that cannot be reached fails fast, for a caller and for a starting runner.

No server needed: a free port with nothing listening refuses at once; a listening socket
that never answers stands for a server that accepts connections but is stuck.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.exceptions import StateBackendError
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import free_port

#: Generous margin over the configured timeout: the machine is loaded.
MARGIN = 8.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def _caller(url: str, connect_timeout: float | None) -> Pynenc:
    app = Deployment("unreachable", "memory://", url).configure()
    if connect_timeout is not None:
        app.conf.state_backend_connect_timeout = connect_timeout
    return app


@pytest.mark.parametrize("connect_timeout", [None, 1.0])
def test_refused_connection_fails_the_call_within_the_timeout(
    connect_timeout: float | None,
) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    app = _caller(url, connect_timeout)
    limit = app.conf.state_backend_connect_timeout
    started = time.monotonic()
    try:
        with pytest.raises(StateBackendError) as raised:
            deploy.add(1, 2)
    finally:
        app.reset_components()
    elapsed = time.monotonic() - started
    assert elapsed < limit + MARGIN, f"took {elapsed:.1f} s"
    message = str(raised.value)
    assert "s3cret" not in message and "127.0.0.1" in message
    assert "state_backend_connect_timeout" in message
    assert "PYNENC__STATE_BACKEND_CONNECT_TIMEOUT" in message
    assert "attempt" in message and "refused" in message.lower()


def test_silent_server_fails_the_call_within_the_timeout(silent_port: int) -> None:
    app = _caller(f"redis://127.0.0.1:{silent_port}/0", 1.0)
    started = time.monotonic()
    try:
        with pytest.raises(StateBackendError, match="state_backend_connect_timeout"):
            deploy.add(1, 2)
    finally:
        app.reset_components()
    assert time.monotonic() - started < 1.0 + MARGIN


class _FastFailing(Deployment):
    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PYNENC__STATE_BACKEND_CONNECT_TIMEOUT": "1"}


def test_runner_start_fails_fast_and_before_its_banner(tmp_path: Path) -> None:
    deployment = _FastFailing(
        "unreachable", f"sqlite:///{tmp_path}/b.db", f"redis://127.0.0.1:{free_port()}/0"
    )
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    assert runner.process is not None
    try:
        code = runner.process.wait(timeout=1 + 30)  # python start-up included, loaded machine
    except subprocess.TimeoutExpired:
        runner.kill()
        raise AssertionError(f"the runner kept going: {runner.log_tail()}") from None
    output = runner.log_tail()
    assert code == 1, output
    assert "state_backend_connect_timeout" in output, output
    assert "pynenc runner" not in output, "the banner was printed before the check"
