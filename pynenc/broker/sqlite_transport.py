"""``sqlite://``: a kombu virtual transport over one SQLite file — no server, many processes.

URL: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
convention: the path is what follows the third slash). Registered in kombu's transport alias
table by :mod:`pynenc.broker.transports`, so ``kombu.Connection("sqlite:///q.db")`` works
once :mod:`pynenc.broker` is imported.

What it adds to kombu's virtual base: the storage primitives (:mod:`.sqlite_store`), ack
emulation that survives a killed consumer (rows stay until acked; see ``MessageStore``),
priorities 0-9 (higher first, as in AMQP), batched publishing (one transaction per
``Producer.batch()``), and waiting without kombu's fixed 1 s poll: a publish wakes the
consumers of this process at once, and those of other processes through a socket beside the
file (:mod:`pynenc.file_wakeup`, topic ``"broker"``); such a consumer looks again unwoken
only every ``recheck_interval`` seconds, the bound of a lost wake-up. Where a process cannot
listen (not Linux, no socket beside the file), its consumers poll other processes' publishes
adaptively instead — every ``polling_interval_min`` seconds while messages flow, backing
off to ``polling_interval`` when idle. An idle look costs one ``PRAGMA data_version`` (no
lock, no table read).

Transport options: ``polling_interval`` (0.02), ``polling_interval_min`` (0.0005),
``recheck_interval`` (1.0), ``visibility_timeout`` (300), ``ack_emulation`` (True),
``busy_timeout`` (30), ``synchronous`` ("NORMAL"), ``restore_interval`` (1.0).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from queue import Empty
from typing import Any

from kombu.transport import virtual
from kombu.utils.json import dumps

from pynenc.broker.guard import GuardedChannel, refuse_compression
from pynenc.broker.sqlite_store import MessageStore, new_owner
from pynenc.broker.wakeup import Wakeup
from pynenc.file_wakeup import wakeup_of

#: the topic of publishes among the datagrams of :mod:`pynenc.file_wakeup`
TOPIC = "broker"
_WAKEUPS: dict[str, Wakeup] = {}
_WAKEUPS_LOCK = threading.Lock()


def _forget_wakeups_after_fork() -> None:
    # A child gets fresh wake-ups: a parent thread may have held one's lock at the fork.
    global _WAKEUPS_LOCK
    _WAKEUPS_LOCK = threading.Lock()
    _WAKEUPS.clear()


os.register_at_fork(after_in_child=_forget_wakeups_after_fork)


def database_path(url: str) -> str:
    """The file of a ``sqlite://`` URL, made absolute (it keys the in-process wake-up)."""
    rest = url.split("://", 1)[-1].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    if not path:
        raise ValueError(f"No database file in {url!r}: use sqlite:////absolute/path.db")
    return os.path.abspath(path)


def wakeup_for(path: str) -> Wakeup:
    """The process-wide wake-up of one database file, signalled on every publish."""
    with _WAKEUPS_LOCK:
        return _WAKEUPS.setdefault(path, Wakeup())


class QoS(virtual.QoS):  # type: ignore[misc]
    """Acks and requeues land in the database, so unacked messages outlive the process."""

    channel: Channel

    def ack(self, delivery_tag: Any) -> None:
        row_id = self.channel.rows.pop(delivery_tag, None)
        if row_id is not None:
            self.channel.store.ack(row_id, self.channel.owner or "")
        super().ack(delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        row_id = self.channel.rows.pop(delivery_tag, None)
        if row_id is not None:
            if requeue:
                self.channel.store.requeue([row_id], self.channel.owner or "")
                self.channel.notify()
            else:
                self.channel.store.ack(row_id, self.channel.owner or "")
        super().ack(delivery_tag)  # the base would re-publish a copy on requeue

    def restore_unacked(self) -> list[Any]:
        self._flush()
        if self.channel.owner is not None and self.channel.store.release_owner(self.channel.owner):
            self.channel.notify()
        self._delivered.clear()
        self.channel.rows.clear()
        return []


class _PublishBatch:
    """Rows published inside ``Producer.batch()``, inserted in one transaction on flush."""

    def __init__(self, channel: Channel, max_size: int) -> None:
        self.channel = channel
        self.max_size = max_size
        self.rows: list[tuple[str, int, str]] = []

    def publish(self, message: Any, **kwargs: Any) -> None:
        self.channel.basic_publish(message, _publish_batch=self, **kwargs)
        if len(self.rows) >= self.max_size:
            self.flush()

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if rows:
            self.channel.store.put(rows)
            self.channel.notify()

    def discard(self) -> None:
        self.rows = []

    close = discard


class Channel(GuardedChannel, virtual.Channel):  # type: ignore[misc]
    """One SQLite connection; consumes with one statement per message taken.

    Rows are opened with pynenc's bounds (:class:`~pynenc.broker.guard.GuardedChannel`):
    one that is not a kombu message is dead-lettered, never raised out of a poll.
    """

    QoS = QoS
    Message = refuse_compression(virtual.Message)
    do_restore = True
    supports_batch_publish = True
    visibility_timeout = 300.0
    ack_emulation = True
    busy_timeout = 30.0
    synchronous = "NORMAL"
    restore_interval = 1.0
    from_transport_options = (
        *virtual.Channel.from_transport_options,
        "visibility_timeout",
        "ack_emulation",
        "busy_timeout",
        "synchronous",
        "restore_interval",
        "max_message_bytes",
    )

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        if not self.ack_emulation:
            self.QoS = virtual.QoS
        self.path = database_path(connection.client.hostname)
        self.store = MessageStore(self.path, float(self.busy_timeout), str(self.synchronous))
        self.owner = new_owner() if self.ack_emulation else None
        self.rows: dict[Any, int] = {}  #: delivery tag → row id, while unacked
        self._wakeup = wakeup_for(self.path)
        self._idle_version: tuple[int, int] | None = None
        self._next_restore = 0.0

    def notify(self) -> None:
        """Messages were made available: wake the consumers, here and in other processes."""
        self._wakeup.notify()
        wakeup_of(self.path).send(TOPIC, None)

    # -- kombu's virtual primitives ------------------------------------------------------

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        row = (queue, self._get_message_priority(message), dumps(message))
        batch = kwargs.get("_publish_batch")
        if isinstance(batch, _PublishBatch):
            batch.rows.append(row)
            return
        self.store.put([row])
        self.notify()

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        taken = self._take([queue])
        if taken is None:
            raise Empty()
        return taken[0]

    def _poll(self, cycle: Any, callback: Any, timeout: float | None = None) -> Any:
        # One statement serves every consumed queue (priority first, then age), instead of
        # kombu's round robin of one query per queue.
        queues = self._active_queues
        if not queues:
            raise Empty()
        if time.monotonic() >= self._next_restore:
            self._restore_lost()
        version = self.store.version()
        if version == self._idle_version:
            raise Empty()  # nobody committed since our last empty look
        taken = self._take(queues)
        if taken is None:
            self._idle_version = version
            raise Empty()
        self._idle_version = None
        return callback(*taken)

    def _take(self, queues: list[str]) -> tuple[Any, str] | None:
        while (row := self.store.take(queues, self.owner)) is not None:
            row_id, queue, payload = row
            message = self.open_item(payload, queue)
            if message is None:  # dead-lettered: drop the row, look at the next one
                if self.owner is not None:
                    self.store.ack(row_id, self.owner)
                continue
            if self.owner is not None:
                self.rows[message["properties"]["delivery_tag"]] = row_id
            return message, queue
        return None

    def _restore_lost(self) -> None:
        self._next_restore = time.monotonic() + float(self.restore_interval)
        if self.owner is not None and self.store.restore(float(self.visibility_timeout)):
            self.notify()

    def _size(self, queue: str) -> int:
        return self.store.size(queue)

    def _purge(self, queue: str) -> int:
        return self.store.purge(queue)

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self.store.delete(queue)

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True  # queues exist implicitly, as rows

    def create_publish_batch(self, max_size: int) -> _PublishBatch:
        return _PublishBatch(self, max_size)

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()  # returns unacked rows through QoS.restore_unacked
        finally:
            self.store.close()


class Transport(virtual.Transport):  # type: ignore[misc]
    """The ``sqlite://`` transport."""

    Channel = Channel
    can_parse_url = True
    default_port = 0
    driver_type = "sqlite"
    driver_name = "sqlite"
    polling_interval = 0.02
    polling_interval_min = 0.0005
    #: longest idle wait of a consumer that other processes wake (a lost wake-up's bound)
    recheck_interval = 1.0
    connection_errors = (*virtual.Transport.connection_errors, sqlite3.OperationalError)
    implements = virtual.Transport.implements.extend(batch_publish=True)

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.polling_interval_min = float(
            options.get("polling_interval_min", self.polling_interval_min)
        )
        self.recheck_interval = float(options.get("recheck_interval", self.recheck_interval))
        self._path = database_path(client.hostname)
        self._wakeup = wakeup_for(self._path)
        self._interval = self.polling_interval_min
        self._interrupts = self._wakeup.interrupts  #: the last interrupt seen

    def driver_version(self) -> str:
        return sqlite3.sqlite_version

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:
        return uri  # a file path carries no password

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """Deliver one message, waiting up to ``timeout`` s (``None``: forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ceiling = float(self.polling_interval or self.polling_interval_min)
        # Woken by other processes: nothing to poll for (the recheck only bounds a lost
        # wake-up). The socket is armed before the last look ahead of a wait, so a publish
        # after that look wakes us, and only then: a busy consumer gets no datagrams.
        woken = self._listen()
        armed = False
        try:
            while True:
                seen = self._wakeup.snapshot()
                try:
                    self.cycle.get(self._deliver, timeout=0)
                except Empty:
                    pass
                else:
                    self._interval = self.polling_interval_min
                    return
                wait = max(ceiling, self.recheck_interval) if woken else self._interval
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError()
                    wait = min(wait, remaining)
                if self._wakeup.interrupts != self._interrupts:  # the broker's wake()
                    self._interrupts = self._wakeup.interrupts
                    raise TimeoutError()
                if woken and not armed:
                    wakeup_of(self._path).arm()
                    armed = True
                    continue  # look once more, armed
                if self._wakeup.wait(seen, wait):
                    self._interval = self.polling_interval_min  # woken by a publish
                else:
                    self._interval = min(self._interval * 2, ceiling)
        finally:
            if armed:
                wakeup_of(self._path).disarm()

    def _listen(self) -> bool:
        """Be woken by other processes' publishes; ``False`` where this process cannot."""
        path = self._path
        return wakeup_of(path).listen(TOPIC, lambda _: wakeup_for(path).notify())
