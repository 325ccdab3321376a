"""Redis round trips per process, read from ``MONITOR``: how many requests each process
sent (a pipeline's commands count one by one, a script call counts once) and how many
commands ran inside its scripts, by command name.

``INFO commandstats`` counts the commands inside Lua scripts too, so it says what the
server did, not how often a process waited for it; this says the latter. ``MONITOR``
slows the server down: take rates from a run without it.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter, defaultdict
from types import TracebackType
from typing import Any

#: what the monitor thread is told to stop at
_STOP = "bench-redis-trips-stop"


class TripCounter:
    """``with TripCounter(url) as trips: ...`` records every command the server runs;
    :meth:`table` attributes them to processes by their connections' local ports."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self._client = redis.Redis.from_url(url)
        self._seen: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="redis-monitor", daemon=True)

    def __enter__(self) -> TripCounter:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.echo(_STOP)
        self._thread.join(30)
        self._client.close()

    def _listen(self) -> None:
        with self._client.monitor() as monitor:
            self._ready.set()
            for command in monitor.listen():
                if _STOP in command["command"]:
                    return
                self._seen.append(command)

    def table(self, roles: dict[str, int], per: int) -> list[str]:
        """Round trips and in-script commands per ``per`` tasks, for each role (a name
        for a process id; its child processes count as it), then by command name."""
        owner = {port: role for role, pid in roles.items() for port in _ports(_family(pid))}
        trips: dict[str, Counter[str]] = defaultdict(Counter)
        scripted: dict[str, Counter[str]] = defaultdict(Counter)
        last = "other"
        for command in self._seen:
            name = command["command"].split(" ", 1)[0].upper()
            if command.get("client_type") == "lua":  # ran inside the script ``last`` sent
                scripted[last][name] += 1
                continue
            last = owner.get(int(command.get("client_port") or 0), "other")
            trips[last][name] += 1
        lines = []
        for role in sorted(trips):
            sent, inside = trips[role], scripted[role]
            if sum(sent.values()) / per < 0.01:
                continue  # a stray client (this counter's own)
            lines.append(
                f"  {role:<7} round trips {sum(sent.values()) / per:6.2f}   "
                f"commands inside its scripts {sum(inside.values()) / per:6.2f}"
            )
            lines.append("          sent: " + _by_name(sent, per))
            if inside:
                lines.append("          in scripts: " + _by_name(inside, per))
        return lines


def _by_name(counts: Counter[str], per: int) -> str:
    return ", ".join(f"{name} {n / per:.2f}" for name, n in counts.most_common() if n / per >= 0.01)


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants (from ``/proc``)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents[parent].append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _ports(pids: list[int]) -> set[int]:
    """Local TCP ports of the sockets these processes hold (IPv4 and IPv6)."""
    ports: set[int] = set()
    for pid in pids:
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                found = re.fullmatch(r"socket:\[(\d+)\]", _readlink(f"/proc/{pid}/fd/{fd}"))
                if found:
                    inodes.add(found.group(1))
            for table in ("tcp", "tcp6"):
                with open(f"/proc/{pid}/net/{table}") as sockets:
                    for line in sockets.read().splitlines()[1:]:
                        fields = line.split()
                        if fields[9] in inodes:
                            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:  # the process is gone
            continue
    return ports


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""
