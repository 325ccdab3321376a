"""Processes the bench owns: worker subprocesses and the loopback Redis/RabbitMQ servers.

Servers come from ``tests/servers.py`` (free loopback ports, private data directories).
Workers run in their own session so that a stop reaches every process they started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.measure import Unavailable

REPO_ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A worker subprocess: started with a log file, stopped by SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        """Raise :class:`Unavailable` with the log's tail when the worker has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise Unavailable(
                f"{self.name} exited with code {self.process.returncode}: {self.log_tail()}"
            )

    def log_tail(self, chars: int = 1500) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:].strip()

    def stop(self, grace: float) -> None:
        """SIGTERM to the worker's process group; SIGKILL what is left after ``grace`` s."""
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # children that outlived the leader (none expected) go too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def python_argv(*args: str) -> list[str]:
    """A command line running this interpreter (the venv's) with ``args``."""
    return [sys.executable, *args]


def _not_ready_yet(exc: Exception) -> bool:
    """Whether ``exc`` means "try again" (a timeout, a refused connection) rather than a bug."""
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return True
    import kombu.exceptions

    return isinstance(exc, kombu.exceptions.OperationalError) or "Timeout" in type(exc).__name__


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {Path(last.filename).name}:{last.lineno} ({last.name})"


def wait_ready(probe: Callable[[], object], worker: WorkerProcess | None, timeout: float) -> None:
    """Repeat ``probe`` (one round trip, raising on timeout) until it succeeds.

    Readiness is a task that went through the whole system, never a sleep. An error that is
    not a timeout or a refused connection fails at once: waiting would not fix it.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if worker is not None:
            worker.check_alive()
        try:
            probe()
            return
        except Unavailable:
            raise
        except Exception as exc:
            if not _not_ready_yet(exc):
                raise Unavailable(f"{type(exc).__name__}: {exc}{_where(exc)}") from exc
            last = exc
    tail = worker.log_tail() if worker is not None else ""
    raise Unavailable(f"no round trip within {timeout:.0f} s (last: {last!r}) {tail}".strip())


# -- servers -----------------------------------------------------------------------------------


def _server_classes() -> tuple[type, type, Callable[[str], str]]:
    # tests/servers.py is a pytest plugin too, so it imports pytest; both are dev dependencies
    from tests.servers import RabbitMQServer, RedisServer, require_binary

    return RedisServer, RabbitMQServer, require_binary


@contextlib.contextmanager
def running_server(kind: str) -> Iterator[str]:
    """Start ``redis`` or ``rabbitmq`` on a free loopback port; yield its URL; clean up."""
    import pytest

    redis_cls, rabbit_cls, require_binary = _server_classes()
    server_cls, binary = {
        "redis": (redis_cls, "redis-server"),
        "rabbitmq": (rabbit_cls, "rabbitmq-server"),
    }[kind]
    try:
        server = server_cls(require_binary(binary))
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise Unavailable(str(exc)) from None
    try:
        try:
            server.start()
        except RuntimeError as exc:
            raise Unavailable(f"{binary} did not start: {exc}") from None
        url: str = server.url
        if "127.0.0.1" not in url:
            raise Unavailable(f"refusing a non-loopback server URL {url}")
        yield url
    finally:
        server.cleanup()
