"""Raw kombu, no task system: a consumer that acks (and replies) and the client driving it.

The consumer runs in a subprocess on server transports (``python -m bench.kombu_peer URL
QUEUE``, stopped by SIGTERM) and in a thread on ``memory://``, whose queues are per process.
Requests are ~200-byte JSON messages published to the default exchange (straight to the
queue); the consumer acks each one, with a prefetch of 32 (Celery's 4 x 8). A request marked
``reply`` is answered on the caller's reply queue; a one-way batch is answered once, when its
last message has been acked. Replies are consumed without acks.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from typing import Any

import kombu

import pynenc.broker.transports  # noqa: F401  (registers the sqlite:// transport with kombu)
from bench.measure import MeasurementTimeout, remaining

PREFETCH = 32
#: memory:// cannot block on a read: poll every millisecond (the default is one second)
MEMORY_OPTIONS = {"polling_interval": 0.001}
PADDING = "x" * 140


def transport_options(url: str) -> dict[str, Any]:
    return dict(MEMORY_OPTIONS) if url.startswith("memory://") else {}


def serve(url: str, queue: str, stop: threading.Event) -> None:
    """Consume ``queue`` until ``stop`` is set."""
    with kombu.Connection(url, transport_options=transport_options(url)) as conn:
        replies = kombu.Producer(conn.channel())
        seen: dict[str, int] = {}

        def on_message(body: dict[str, Any], message: Any) -> None:
            reply_to = message.properties.get("reply_to")
            batch = body.get("batch")
            if batch is None:
                replies.publish({"id": body["id"]}, exchange="", routing_key=reply_to)
            else:
                seen[batch] = seen.get(batch, 0) + 1
                if seen[batch] == body["total"]:
                    del seen[batch]
                    replies.publish({"batch": batch}, exchange="", routing_key=reply_to)
            message.ack()

        channel = conn.channel()
        requests = kombu.Queue(queue, routing_key=queue)
        consumer = kombu.Consumer(
            channel, [requests], callbacks=[on_message], accept=["json"], prefetch_count=PREFETCH
        )
        with consumer:
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    continue


class KombuClient:
    """Publishes requests to the consumer's queue and collects replies on a private queue."""

    def __init__(self, url: str, queue: str) -> None:
        self.queue = queue
        self.conn = kombu.Connection(url, transport_options=transport_options(url))
        self.producer = kombu.Producer(self.conn.channel())
        kombu.Queue(queue, routing_key=queue)(self.producer.channel).declare()
        self.reply_queue = f"bench.kombu.reply.{uuid.uuid4().hex[:8]}"
        self.replies: list[dict[str, Any]] = []
        reply = kombu.Queue(self.reply_queue, routing_key=self.reply_queue)
        self.consumer = kombu.Consumer(
            self.conn.channel(),
            [reply],
            callbacks=[lambda body, _message: self.replies.append(body)],
            accept=["json"],
            no_ack=True,
        )
        self.consumer.consume()

    def publish(self, body: dict[str, Any]) -> None:
        body["pad"] = PADDING
        self.producer.publish(
            body,
            exchange="",
            routing_key=self.queue,
            serializer="json",
            reply_to=self.reply_queue,
        )

    def wait(self, count: int, deadline: float) -> None:
        """Until ``count`` replies have arrived since the last :meth:`clear`."""
        while len(self.replies) < count:
            try:
                self.conn.drain_events(timeout=min(1.0, remaining(deadline)))
            except TimeoutError:
                continue
            except MeasurementTimeout:
                raise MeasurementTimeout(f"{len(self.replies)}/{count} replies") from None

    def clear(self) -> None:
        self.replies.clear()

    def close(self) -> None:
        try:
            self.consumer.cancel()
        finally:
            self.conn.release()


def main(argv: list[str]) -> None:
    """Entry point of the consumer subprocess: ``python -m bench.kombu_peer URL QUEUE``."""
    url, queue = argv
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    started = time.monotonic()
    serve(url, queue, stop)
    print(f"kombu consumer stopped after {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
