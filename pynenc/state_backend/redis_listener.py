"""A process's subscription to the app's Redis channel: one thread that turns the messages
announcing invocations' ends into wake-ups of the threads waiting for them
(:class:`~pynenc.state_backend._waiters.Waiters`), keeps the last ends announced
(:class:`~pynenc.state_backend.redis_notices.RecentEnds`) and reconnects for ever.

While no thread of the process waits it reads in batches (``_listen_pace``). On every
(re)subscription, and on the empty message a purge publishes, it wakes every waiter to read
its status again: what was published while it was not listening is covered that way.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from pynenc.state_backend._listen_pace import ListenPace
from pynenc.state_backend._waiters import Waiters
from pynenc.state_backend.redis_notices import RecentEnds, announced

logger = logging.getLogger("pynenc.state_backend.redis")

#: Seconds the listener blocks for a message before looking at its stop flag.
LISTEN_TICK = 0.25
#: Most messages the listener reads in one batch while nobody waits (_listen_pace).
BATCH_READ_MAX = 10_000


class Listener:
    """The listener thread of one backend instance in one process (started on first use)."""

    def __init__(self, channel: str, name: str, waiters: Waiters, recent: RecentEnds) -> None:
        self.channel = channel
        self.name = name
        self.waiters = waiters
        self.recent = recent
        self.pace = ListenPace(waiters)
        #: the unbroken stretch of messages it is in (0: not listening); a call registered
        #: during one cannot have its end pass unseen while it lasts
        self.listening = 0
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure(self, client: redis.Redis) -> None:
        """Start the thread unless it runs."""
        thread = self.thread
        if thread is not None and thread.is_alive():  # the usual case: no lock
            return
        with self._lock:
            if self.thread is None or not self.thread.is_alive():
                self._stop = threading.Event()
                self.thread = threading.Thread(
                    target=self._run, args=(client, self._stop), name=self.name, daemon=True
                )
                self.thread.start()

    def close(self) -> None:
        """Stop the thread, waiting for it a little (it is a daemon)."""
        with self._lock:
            thread, self.thread = self.thread, None
        self._stop.set()
        self.pace.wake()
        self.listening = 0
        if thread is not None:
            thread.join(timeout=LISTEN_TICK * 4)

    def _run(self, client: redis.Redis, stop: threading.Event) -> None:
        try:
            self._loop(client, stop)
        finally:
            self.listening = 0  # however it ended: calls registered now are read first
            self.pace.stop_batching()  # no waiter waits for a batch read that won't come

    def _loop(self, client: redis.Redis, stop: threading.Event) -> None:
        backoff = 0.05
        pace = self.pace
        while not stop.is_set():
            pubsub: redis.client.PubSub = client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                while not stop.is_set():
                    if self.listening and pace.should_batch():
                        # nobody waits: what came in meanwhile, in one go (_listen_pace)
                        pace.pause()
                        self._read_arrived(pubsub)
                        continue
                    if pace.batching:  # a thread waits: what came in since the last batch
                        self._read_arrived(pubsub)
                        pace.stop_batching()
                    message = pubsub.get_message(timeout=LISTEN_TICK)
                    if message is not None and self._on_message(message):
                        backoff = 0.05
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self.listening = 0
                pace.stop_batching()  # a waiter reads its status: nothing to catch up
                logger.debug("Redis listener lost its connection, reconnecting: %s", exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 0.5)
            finally:
                pubsub.close()

    def _read_arrived(self, pubsub: redis.client.PubSub) -> None:
        """Read the messages that have arrived, without waiting for more."""
        for _ in range(BATCH_READ_MAX):
            message = pubsub.get_message(timeout=0)
            if message is None:
                return
            self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> bool:
        """Turn one pub/sub message into wake-ups; ``True`` for a (re)subscription."""
        kind: str = message["type"]
        if kind == "subscribe":
            self.listening += 1  # a new unbroken stretch of messages
        if kind == "message" and message["data"]:
            for invocation_id, sent in announced(message["data"]):
                # kept before waking: a waiter that checks the recent ends after
                # registering itself misses neither (RedisStateBackend._wait)
                self.recent.keep(invocation_id, sent)
                self.waiters.notify(invocation_id, sent)
        else:  # (re)subscribed, so what was published meanwhile was missed; or purged
            if kind == "message":
                self.recent.clear()  # purged: an id may name a new call next
            self.waiters.notify_all()
        return kind == "subscribe"
