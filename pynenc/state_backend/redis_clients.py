"""Redis clients that each hold one connection of the pool, lent to one operation at a time.

A plain ``redis.Redis`` takes a connection from its pool for every command and gives it
back after: the pool checks the process id twice and looks at the socket for stray data
(``can_read``: two ``ioctl`` and a ``recv`` that finds nothing), four to six system calls
and ~15 µs of Python per command, on the path of every call. A client lent from here keeps
its connection between operations (``single_connection_client``), so a command is a send
and a read; the pool still makes the connections, and pipelines and pub/sub still take
theirs from it.

One operation at a time holds a client, so the clients in use never outnumber the threads
that use the backend at once. A client whose operation failed other than by a Redis error
reply (a dropped connection, an interrupt in the middle of a reply) is closed with its
connection: a reply still on its way would be read as the answer to the next command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import redis

T = TypeVar("T")


class LentClients:
    """Idle single-connection clients of one pool, for :meth:`run`."""

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._idle: list[redis.Redis] = []
        self._lock = threading.Lock()

    def run(self, operation: Callable[[redis.Redis], T]) -> T:
        """``operation`` on a client no other thread uses meanwhile."""
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = redis.Redis(connection_pool=self._pool, single_connection_client=True)
        try:
            result = operation(client)
        except redis.ResponseError:
            self._give_back(client)  # the server answered: the connection is in step
            raise
        except BaseException:
            # a reply may still be on its way: the connection is closed, not handed on
            if client.connection is not None:
                client.connection.disconnect()  # type: ignore[no-untyped-call]
            client.close()
            raise
        self._give_back(client)
        return result

    def _give_back(self, client: redis.Redis) -> None:
        with self._lock:
            self._idle.append(client)

    def close(self) -> None:
        """Give every idle client's connection back to the pool."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()
