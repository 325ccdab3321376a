"""Real servers for the tests: redis-server and rabbitmq-server on loopback, free ports.

A pytest plugin (loaded from ``tests/conftest.py``). Servers are started on first use and
stopped at the end of the session; ``*_factory`` fixtures give a test its own server to
restart or kill. When a server binary is missing the test is skipped locally, and fails
under CI (``CI=true``): CI must never pass by skipping the real thing.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_binary(name: str) -> str:
    # Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user, who cannot use our
    # private work directories; the script it wraps runs as the caller.
    wrapped = Path(f"/usr/lib/rabbitmq/bin/{name}")
    path = str(wrapped) if wrapped.exists() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: apt-get install {name})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI must run against the real server")
        pytest.skip(message)
    return path


class Server:
    """A server process we own: start, stop, kill, restart on the same port and data."""

    name = "server"

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"pynenc-{self.name}-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=self.environment(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in time: {self.log_tail()}")
            time.sleep(0.05)

    def ready(self) -> bool:
        return _port_open(self.port)

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        deadline = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class RedisServer(Server):
    name = "redis"

    #: databases of one server: tests take a fresh one each (``db_url``), so no test reads
    #: another's leftovers (queues, dead letters, records)
    DATABASES = 1024

    def __init__(self, binary: str, persistent: bool = False) -> None:
        super().__init__(binary)
        self.persistent = persistent  # append-only file: data survives a restart
        self._next_db = itertools.count(1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def db_url(self) -> str:
        """The URL of a database of this server that no other caller got (0 is ``url``'s)."""
        db = next(self._next_db)
        if db >= self.DATABASES:
            raise RuntimeError(f"redis test server: all {self.DATABASES} databases handed out")
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.workdir),
            "--databases",
            str(self.DATABASES),
            *persistence,
        ]


class RabbitMQServer(Server):
    name = "rabbitmq"

    def __init__(self, binary: str) -> None:
        super().__init__(binary)
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"pynenc{self.port}@localhost"
        (self.workdir / "enabled_plugins").write_text("[].\n")
        (self.workdir / "mnesia").mkdir()
        (self.workdir / "log").mkdir()
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def command(self) -> list[str]:
        return [self.binary]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        base = str(self.workdir)
        env.update(
            HOME=base,  # the Erlang cookie lives here
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=f"{base}/mnesia",
            RABBITMQ_FEATURE_FLAGS_FILE=f"{base}/mnesia/feature_flags",
            RABBITMQ_LOG_BASE=f"{base}/log",
            RABBITMQ_PID_FILE=f"{base}/rabbitmq.pid",
            RABBITMQ_ENABLED_PLUGINS_FILE=f"{base}/enabled_plugins",
            RABBITMQ_CONFIG_FILE=f"{base}/rabbitmq",
        )
        return env

    def ready(self) -> bool:
        if not _port_open(self.port):
            return False
        import kombu

        try:
            with kombu.Connection(self.url, connect_timeout=2) as conn:
                conn.connect()
            return True
        except Exception:
            return False

    def cleanup(self) -> None:
        super().cleanup()
        epmd = shutil.which("epmd")
        if epmd:  # epmd daemonizes itself; stop the one started on our port
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                capture_output=True,
                check=False,
                timeout=10,
            )


def _factory(kind: type[Server], binary: str) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def make(**options: Any) -> Server:
        server = kind(require_binary(binary), **options)
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Server]:
    yield from _shared(RedisServer, "redis-server")


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[Server]:
    yield from _shared(RabbitMQServer, "rabbitmq-server")


def _shared(kind: type[Server], binary: str) -> Iterator[Server]:
    server = kind(require_binary(binary))
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., Server]]:
    """Own redis servers for a test (to restart or kill); stopped after it."""
    yield from _factory(RedisServer, "redis-server")


@pytest.fixture
def rabbitmq_factory() -> Iterator[Callable[..., Server]]:
    """Own RabbitMQ servers for a test (to restart or kill); stopped after it."""
    yield from _factory(RabbitMQServer, "rabbitmq-server")


@pytest.fixture
def redis_url(redis_server: Server) -> str:
    return redis_server.url


@pytest.fixture
def amqp_url(rabbitmq_server: Server) -> str:
    return rabbitmq_server.url
