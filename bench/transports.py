"""Setting up each transport for one block of measurements: servers, URLs, a work directory."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.machine import rabbitmq_version
from bench.measure import Unavailable
from bench.procs import running_server
from bench.system import Transport


@contextlib.contextmanager
def open_transport(name: str, machine: dict[str, Any], keep_logs: Path) -> Iterator[Transport]:
    """Start what transport ``name`` needs (on loopback), yield it, stop everything after.

    Worker logs are copied to ``keep_logs/<transport>/`` before the work directory goes.

    :raises Unavailable: a server binary is missing or did not start.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        with contextlib.ExitStack() as stack:
            if name == "embedded":
                yield Transport(name, "memory://", "memory://", None, workdir)
            elif name == "sqlite":
                yield Transport(
                    name,
                    f"sqlite:///{workdir}/broker.sqlite",
                    f"sqlite:///{workdir}/state.sqlite",
                    None,
                    workdir,
                )
            elif name == "redis":
                redis_url = stack.enter_context(running_server("redis"))
                yield Transport(name, redis_url, redis_url, redis_url, workdir)
            elif name == "rabbitmq":
                redis_url = stack.enter_context(running_server("redis"))
                amqp_url = stack.enter_context(running_server("rabbitmq"))
                machine["rabbitmq"] = rabbitmq_version(amqp_url)
                yield Transport(name, amqp_url, redis_url, redis_url, workdir)
            else:
                raise Unavailable(f"unknown transport {name!r}")
    finally:
        target = keep_logs / name
        target.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, target / log.name)
        shutil.rmtree(workdir, ignore_errors=True)


def redis_commands(url: str) -> int:
    """Commands a Redis server has executed so far (``INFO commandstats``, summed)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(entry["calls"]) for entry in stats.values())
