"""Broker transports measured: raw kombu against KombuBroker, per URL.

``python -m bench.broker_transports [redis] [amqp] [sqlite] [sqla] [memory]`` (default: all)
starts its own redis-server / rabbitmq-server on loopback (as the tests do) and prints, per
transport: raw kombu publish/s and consume+ack/s; ``KombuBroker.publish`` one envelope per
call and in batches of 100; ``BrokerConsumer.get`` + ack; request/reply p50 through the
broker with the replier in a thread and (for cross-process transports) in another process;
and a safety run — two consumer processes draining N messages while they are published,
counting lost and duplicated ones. Figures vary ±25 % between runs: compare within one.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import kombu

from pynenc.broker import Envelope, KombuBroker
from tests.servers import RabbitMQServer, RedisServer, Server, require_binary

N = 2000
ROUNDS = 200
BODY = '{"v":1,"id":"x","task":"bench.noop","args":{"x":"1"},"ser":"json"}' + " " * 130


def _rate(n: int, started: float) -> float:
    return n / (time.perf_counter() - started)


def raw_publish(url: str, options: dict[str, Any], queue: str, n: int) -> float:
    with kombu.Connection(url, transport_options=options) as conn:
        producer = kombu.Producer(conn.channel())
        kombu.Queue(queue, routing_key=queue)(producer.channel).declare()
        started = time.perf_counter()
        for _ in range(n):
            producer.publish(BODY, exchange="", routing_key=queue, content_type="text/plain")
        return _rate(n, started)


def raw_consume(url: str, options: dict[str, Any], queue: str, n: int) -> float:
    count = 0

    def on_message(message: Any) -> None:
        nonlocal count
        message.ack()
        count += 1

    with kombu.Connection(url, transport_options=options) as conn:
        channel = conn.channel()
        consumer = kombu.Consumer(
            channel,
            [kombu.Queue(queue, routing_key=queue)],
            on_message=on_message,
            prefetch_count=100,
            accept=["text/plain"],
        )
        consumer.consume()
        started = time.perf_counter()
        while count < n:
            conn.drain_events(timeout=5)
        rate = _rate(n, started)
        consumer.cancel()
        return rate


def _envelopes(n: int, queue: str = "default") -> list[Envelope]:
    return [Envelope(f"inv-{i}", "bench.noop", {"x": "1"}, "json", queue) for i in range(n)]


def broker_publish(broker: KombuBroker, n: int, batch: int) -> float:
    envelopes = _envelopes(n)
    started = time.perf_counter()
    for i in range(0, n, batch):
        broker.publish(envelopes[i : i + batch])
    return _rate(n, started)


def broker_consume(broker: KombuBroker, n: int, prefetch: int = 8) -> float:
    consumer = broker.consumer(["default"], prefetch)
    got = 0
    started = time.perf_counter()
    while got < n:
        for delivery in consumer.get(prefetch, 5):
            delivery.ack()
            got += 1
    rate = _rate(n, started)
    consumer.close()
    return rate


def _replier(url: str, app_id: str, options: dict[str, Any], rounds: int) -> None:
    broker = KombuBroker(url, app_id, options)
    consumer = broker.consumer(["req"], 1)
    done = 0
    while done < rounds:
        for delivery in consumer.get(1, 5):
            delivery.ack()
            broker.publish(_envelopes(1, "rep"))
            done += 1
    consumer.close()
    broker.close()


def request_reply(
    url: str, options: dict[str, Any], cross_process: bool, gap: float = 0.0
) -> float:
    """Median ms from publishing a request to receiving the reply (``gap`` s between)."""
    app_id = f"rr-{uuid.uuid4().hex[:6]}"
    broker = KombuBroker(url, app_id, options)
    broker.purge(["req", "rep"])
    replies = broker.consumer(["rep"], 1)
    args = (url, app_id, options, ROUNDS)
    worker: Any
    if cross_process:
        worker = multiprocessing.get_context("fork").Process(target=_replier, args=args)
    else:
        worker = threading.Thread(target=_replier, args=args)
    worker.start()
    time.sleep(0.3)  # let the replier subscribe; a benchmark, not a test
    samples = []
    for _ in range(ROUNDS):
        time.sleep(gap)
        started = time.perf_counter()
        broker.publish(_envelopes(1, "req"))
        got: list[Any] = []
        while not got:
            got = replies.get(1, 5)
        got[0].ack()
        samples.append((time.perf_counter() - started) * 1000)
    worker.join(30)
    replies.close()
    broker.close()
    return statistics.median(samples)


def _safety_consumer(url: str, app_id: str, options: dict[str, Any], out: Any) -> None:
    broker = KombuBroker(url, app_id, options)
    consumer = broker.consumer(["default"], 8)
    seen: list[str] = []
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 2.0:
        for delivery in consumer.get(8, 0.2):
            assert delivery.envelope is not None
            seen.append(delivery.envelope.invocation_id)
            delivery.ack()
            idle_since = time.monotonic()
    consumer.close()
    broker.close()
    out.put(seen)


def safety(url: str, options: dict[str, Any], n: int = N) -> str:
    """Two consumer processes drain ``n`` messages published meanwhile: lost / duplicated."""
    ctx = multiprocessing.get_context("fork")
    app_id = f"safe-{uuid.uuid4().hex[:6]}"
    broker = KombuBroker(url, app_id, options)
    broker.purge(["default"])
    out = ctx.SimpleQueue()
    workers = [
        ctx.Process(target=_safety_consumer, args=(url, app_id, options, out)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for i in range(0, n, 10):
        broker.publish([Envelope(f"inv-{j}", "bench.noop", {}, "json") for j in range(i, i + 10)])
    seen = [item for _ in workers for item in out.get()]
    for worker in workers:
        worker.join(30)
    broker.close()
    lost = n - len(set(seen))
    duplicated = len(seen) - len(set(seen))
    return f"{len(seen)} received, {lost} lost, {duplicated} duplicated"


@contextmanager
def _server(kind: type[Server], binary: str) -> Iterator[str]:
    server = kind(require_binary(binary))
    server.start()
    try:
        yield server.url
    finally:
        server.cleanup()


def _measure(name: str, url: str, options: dict[str, Any], cross_process: bool) -> None:
    queue = f"raw-{uuid.uuid4().hex[:6]}"
    row: dict[str, str] = {}
    row["raw publish/s"] = f"{raw_publish(url, options, queue, N):,.0f}"
    row["raw consume+ack/s"] = f"{raw_consume(url, options, queue, N):,.0f}"
    broker = KombuBroker(url, f"bench-{uuid.uuid4().hex[:6]}", options)
    row["broker publish/s (1 per call)"] = f"{broker_publish(broker, N, 1):,.0f}"
    row["broker get+ack/s"] = f"{broker_consume(broker, N):,.0f}"
    row["broker publish/s (batches of 100)"] = f"{broker_publish(broker, N, 100):,.0f}"
    broker.purge(["default"])
    broker.close()
    row["req/reply p50 ms (thread)"] = f"{request_reply(url, options, False):.2f}"
    if cross_process:
        row["req/reply p50 ms (process)"] = f"{request_reply(url, options, True):.2f}"
        row["req/reply p50 ms (process, 50 ms apart)"] = (
            f"{request_reply(url, options, True, 0.05):.2f}"
        )
        row["2 consumer processes"] = safety(url, options)
    print(f"\n## {name}  ({url.split('://')[0]})")
    for key, value in row.items():
        print(f"  {key:<36} {value}")


def _sqlite_url(prefix: str) -> str:
    return f"{prefix}:///{tempfile.mkdtemp(prefix='pynenc-bench-')}/broker.db"


CASES: dict[str, Callable[[], None]] = {
    "memory": lambda: _measure("kombu memory://", "memory://", {}, False),
    "sqlite": lambda: _measure("pynenc sqlite://", _sqlite_url("sqlite"), {}, True),
    "sqlite-noack": lambda: _measure(
        "pynenc sqlite://, ack_emulation off",
        _sqlite_url("sqlite"),
        {"ack_emulation": False},
        True,
    ),
}


def _sqla() -> None:
    # kombu's SQLAlchemy transport over SQLite (needs SQLAlchemy). It hands every transport
    # option to create_engine, so its 1 s polling interval is lowered on the class instead.
    from kombu.transport import sqlalchemy

    sqlalchemy.Transport.polling_interval = 0.001
    _measure("kombu sqlalchemy over sqlite, polling 1 ms", _sqlite_url("sqla+sqlite"), {}, True)


def _redis() -> None:
    with _server(RedisServer, "redis-server") as url:
        _measure("kombu redis://", url, {}, True)


def _amqp() -> None:
    with _server(RabbitMQServer, "rabbitmq-server") as url:
        _measure("kombu pyamqp:// (RabbitMQ), publisher confirms", url, {}, True)
        _measure("kombu pyamqp:// (RabbitMQ), no confirms", url, {"confirm_publish": False}, True)


CASES["sqla"] = _sqla
CASES["redis"] = _redis
CASES["amqp"] = _amqp


def main(argv: list[str]) -> None:
    for name in argv or ["memory", "sqlite", "sqlite-noack", "redis", "amqp"]:
        CASES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
