"""The broker contract (:mod:`pynenc.testing`), run on every kombu URL we support.

``TestBroker`` runs the shipped suite on kombu's ``memory://``, pynenc's ``sqlite://`` (a
file in tmp_path), ``redis://`` (a fresh database of the session server per test) and
``amqp://`` (the session RabbitMQ of ``tests/servers.py``). The tests after it restart or
stop a server of their own (``redis_factory`` / ``rabbitmq_factory``) or use several
processes, so they run where that applies.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.broker import Envelope, KombuBroker, MalformedEnvelopeError
from pynenc.broker.envelope import decode_message, encode_batch
from pynenc.exceptions import BrokerError
from pynenc.testing.broker_contract import BrokerContract, collect, drain, sample_envelope
from tests.contract.urls import broker_url_for
from tests.servers import Server, free_port

BROKER_KINDS = ["memory", "sqlite", "redis", "amqp"]
SERVER_KINDS = ["redis", "amqp"]
# the names this module had before the suite moved to pynenc.testing
_envelope, _collect, _drain = sample_envelope, collect, drain


@pytest.fixture(params=BROKER_KINDS)
def broker_url(request: pytest.FixtureRequest) -> str:
    return broker_url_for(request.param, request)


class _LogEvent(logging.Handler):
    """Sets ``event`` when ``pynenc.broker`` logs a message containing ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = threading.Event()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.count += 1
            self.event.set()


@pytest.fixture
def broker_log() -> Iterator[Callable[[str], _LogEvent]]:
    logger = logging.getLogger("pynenc.broker")
    handlers: list[_LogEvent] = []

    def watch(text: str) -> _LogEvent:
        handler = _LogEvent(text)
        logger.addHandler(handler)
        handlers.append(handler)
        return handler

    yield watch
    for handler in handlers:
        logger.removeHandler(handler)


class TestBroker(BrokerContract):
    """Runs the broker contract on every transport in ``BROKER_KINDS``."""


def test_envelopes_from_before_priorities_still_decode() -> None:
    old = '{"v":1,"id":"i","task":"m.t","args":{},"ser":"json","queue":"q","retries":0}'
    assert Envelope.decode(old) == Envelope("i", "m.t", {}, "json", "q")
    assert Envelope.decode(_envelope(1, priority=7).encode()).priority == 7


def test_batch_envelopes_round_trip_and_reject_damage() -> None:
    batch = [Envelope(f"i{i}", "m.t", {"x": str(i)}, "json", "q", 0, "parent", 3) for i in range(3)]
    body = encode_batch(batch)
    assert decode_message(body) == batch
    assert decode_message(batch[0].encode()) == batch[:1]
    with pytest.raises(ValueError, match="one task, queue and parent"):
        encode_batch([batch[0], _envelope(1)])
    with pytest.raises(MalformedEnvelopeError, match="not one"):
        Envelope.decode(body)
    damaged = body.replace('"x":"1"', '"x":1')
    with pytest.raises(MalformedEnvelopeError, match="must be strings"):
        decode_message(damaged)
    with pytest.raises(MalformedEnvelopeError, match="bad field"):
        decode_message('{"v":1,"task":"m.t","ser":"json","batch":[]}')
    with pytest.raises(MalformedEnvelopeError, match="bad field"):
        decode_message('{"v":1,"task":"m.t","ser":"json","batch":[["only-an-id"]]}')


# -- servers that go away ----------------------------------------------------------------------


@pytest.fixture(params=SERVER_KINDS)
def own_server(request: pytest.FixtureRequest) -> Server:
    """A server of this test's own, to restart or stop."""
    kind = "redis" if request.param == "redis" else "rabbitmq"
    factory = request.getfixturevalue(f"{kind}_factory")
    return factory()  # type: ignore[no-any-return]


def _persist(server: Server) -> None:
    """Make a test redis keep its data across a restart, as a persistent server would."""
    if server.name == "redis":
        import redis

        redis.Redis.from_url(server.url).save()


def test_publish_retries_until_the_broker_is_back(
    own_server: Server, broker_log: Callable[[str], _LogEvent]
) -> None:
    broker = KombuBroker(own_server.url, f"retry-{uuid.uuid4().hex[:6]}", publish_retries=12)
    retrying = broker_log("retrying")
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            broker.publish([_envelope(7)])
        except BaseException as exc:
            errors.append(exc)

    own_server.stop()
    thread = threading.Thread(target=publish)
    thread.start()
    assert retrying.event.wait(10), "the publish did not fail and retry"
    own_server.start()
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert [e.invocation_id for e in _drain(broker, ["default"], 1)] == ["inv-7"]
    broker.close()


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:secret@127.0.0.1:{free_port()}/0",
        f"amqp://guest:secret@127.0.0.1:{free_port()}//",
    ],
    ids=["redis", "amqp"],  # the same ids in every xdist worker (the ports differ)
)
def test_publish_gives_up_naming_the_broker_and_queue(url: str) -> None:
    broker = KombuBroker(url, "giveup", publish_retries=1)
    with pytest.raises(BrokerError) as raised:
        broker.publish([_envelope(1, "emails")])
    message = str(raised.value)
    assert "'giveup.emails'" in message and "127.0.0.1" in message
    assert "secret" not in message and "2 attempts" in message
    broker.close()


def test_consumer_survives_a_restart_and_loses_nothing(
    own_server: Server, broker_log: Callable[[str], _LogEvent]
) -> None:
    broker = KombuBroker(own_server.url, f"restart-{uuid.uuid4().hex[:6]}", publish_retries=12)
    lost = broker_log("Lost the broker connection")
    broker.publish([_envelope(i) for i in range(3)])
    consumer = broker.consumer(["default"], prefetch=5)
    try:
        held = _collect(consumer, 3)  # delivered, never acked: the restart drops them
        assert len(held) == 3
        _persist(own_server)
        own_server.restart()
        broker.publish([_envelope(3)])  # after the restart
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < 4 and time.monotonic() < deadline:
            for delivery in consumer.get(4, timeout=0.5):  # [] while reconnecting, no raise
                assert delivery.envelope is not None
                got.append(delivery.envelope.invocation_id)
                delivery.ack()
        assert sorted(got) == ["inv-0", "inv-1", "inv-2", "inv-3"]
        for delivery in held:
            delivery.ack()  # from the dead connection: a no-op, not an error
        assert lost.count == 1, "a lost connection is logged once"
        assert consumer.get(1, timeout=0.2) == []
    finally:
        consumer.close()
        broker.close()


# -- the no-server transport across processes ------------------------------------------------


def _consume_in_child(url: str, app_id: str, total: int, done: Any, out: Any) -> None:
    broker = KombuBroker(url, app_id)
    consumer = broker.consumer(["default"], prefetch=4)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while done.value < total and time.monotonic() < deadline:
        for delivery in consumer.get(4, timeout=0.1):
            assert delivery.envelope is not None
            seen.append(delivery.envelope.invocation_id)
            delivery.ack()
            with done.get_lock():
                done.value += 1
    consumer.close()
    broker.close()
    out.put(seen)


def test_sqlite_two_processes_consume_each_message_exactly_once(tmp_path: Any) -> None:
    url, app_id, total = f"sqlite:///{tmp_path}/broker.db", "procs", 300
    ctx = multiprocessing.get_context("fork")
    done, out = ctx.Value("i", 0), ctx.SimpleQueue()
    children = [
        ctx.Process(target=_consume_in_child, args=(url, app_id, total, done, out))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    broker = KombuBroker(url, app_id)
    for i in range(0, total, 10):  # published while both children consume
        broker.publish([_envelope(j) for j in range(i, i + 10)])
    seen = [item for _ in children for item in out.get()]
    for child in children:
        child.join(10)
    broker.close()
    assert sorted(seen) == sorted(f"inv-{i}" for i in range(total))


def _hold_and_wait(url: str, app_id: str, held: Any) -> None:
    broker = KombuBroker(url, app_id)
    consumer = broker.consumer(["default"], prefetch=3)
    held.put(len(_collect(consumer, 3)))
    threading.Event().wait(60)  # until killed


def test_sqlite_messages_of_a_killed_consumer_come_back(tmp_path: Any) -> None:
    url, app_id = f"sqlite:///{tmp_path}/broker.db", "killed"
    broker = KombuBroker(url, app_id)
    broker.publish([_envelope(i) for i in range(3)])
    ctx = multiprocessing.get_context("fork")
    held = ctx.SimpleQueue()
    child = ctx.Process(target=_hold_and_wait, args=(url, app_id, held))
    child.start()
    assert held.get() == 3
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    got = _drain(broker, ["default"], 3)
    assert sorted(e.invocation_id for e in got) == ["inv-0", "inv-1", "inv-2"]
    broker.close()
