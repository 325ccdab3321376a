"""What the figures were measured on: CPUs, Python, library and server versions."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from typing import Any


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def redis_server_version() -> str | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    found = re.search(r"v=(\S+)", out.stdout)
    return found.group(1) if found else out.stdout.strip() or None


def rabbitmq_version(amqp_url: str) -> str | None:
    """The version a running RabbitMQ announces when a client connects."""
    import kombu

    with contextlib.suppress(Exception), kombu.Connection(amqp_url, connect_timeout=5) as conn:
        conn.connect()
        version = conn.connection.server_properties.get("version")
        return version.decode() if isinstance(version, bytes) else version
    return None


def describe_machine() -> dict[str, Any]:
    """Everything about this machine that a reader needs to compare two reports."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "pynenc": _package("pynenc"),
        "kombu": _package("kombu"),
        "celery": _package("celery"),
        "redis_py": _package("redis"),
        "amqp": _package("amqp"),
        "redis_server": redis_server_version(),
        "rabbitmq": None,  # filled in when a RabbitMQ server is started
        "loadavg_at_start": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: other work on the machine skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_times() -> tuple[float, float, float]:
    """Machine-wide (busy, total, steal) CPU seconds since boot, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0.0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, (busy + idle + iowait + steal) / tick, steal / tick


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and every live descendant (servers, workers)."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                after_name = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        pid = int(entry)
        parents[pid] = int(after_name[1])
        used[pid] = (int(after_name[11]) + int(after_name[12])) / tick
    total = 0.0
    for pid, seconds in used.items():
        node = pid
        while node > 1 and node != root:
            node = parents.get(node, 0)
        if node == root:
            total += seconds
    return total


class CpuMeter:
    """How busy the machine was during a measurement, and how much of that was not ours.

    ``others_pct`` is the share of all CPUs used by processes outside this bench's process
    tree (other people's tests, builds): when it is high, absolute figures are low.
    """

    def __init__(self) -> None:
        self.available = os.path.exists("/proc/stat")
        self._start: tuple[float, float, float, float] | None = None

    def start(self) -> None:
        if self.available:
            self._start = (*_cpu_times(), _tree_cpu(os.getpid()))

    def stop(self) -> dict[str, float]:
        if not self.available or self._start is None:
            return {}
        busy0, total0, steal0, ours0 = self._start
        busy1, total1, steal1 = _cpu_times()
        ours1 = _tree_cpu(os.getpid())
        elapsed = total1 - total0  # CPU-seconds of all CPUs, idle included
        if elapsed < 0.5 * (os.cpu_count() or 1):
            return {}  # under half a second: clock ticks (10 ms) make the shares meaningless
        ours = max(ours1 - ours0, 0.0)
        return {
            "ours_cpu_pct": 100 * ours / elapsed,
            "others_cpu_pct": max(0.0, 100 * (busy1 - busy0 - ours) / elapsed),
            "steal_pct": 100 * (steal1 - steal0) / elapsed,
        }
