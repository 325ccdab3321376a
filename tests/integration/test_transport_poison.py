"""Poison that reaches kombu before pynenc: raw items on a queue, and compression bombs.

Someone with write access to the broker pushes, on real servers, what kombu itself would
parse or decompress: garbage or 100 000-deep JSON as a Redis list item or SQLite row, a
garbage AMQP message with odd properties, a zlib bomb. A real CLI runner process must
dead-letter each to ``<app_id>.default.dead`` (compressed ones as they arrived), keep
running, and serve the next call.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import amqp
import pytest
import redis

from pynenc import Pynenc
from pynenc.broker.envelope import CONTENT_TYPE
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.integration.test_poison_messages import FAST
from tests.servers import Server

QUEUE = "tests-deploy.default"
DEEP = b"[" * 100_000 + b"]" * 100_000
#: 128 MiB once inflated, 130 KB on the wire (the QA bomb was 400 MiB)
#: where the runner moves the ``compression`` header of a message it will not inflate
REFUSED_COMPRESSION = "x-pynenc-refused-compression"
BOMB_SIZE = 128 * 1024 * 1024


@functools.cache
def bomb() -> bytes:
    return zlib.compress(b'{"v":1,"pad":"' + b"x" * BOMB_SIZE + b'"}', 9)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    deploy.app.reset_components()


def _running(deployment: Deployment, tmp_path: Path) -> tuple[Pynenc, RunnerProcess]:
    app = deployment.configure()
    app.purge()
    # a shared server (RabbitMQ) keeps other tests' dead letters of this app: not ours
    leftover = app.broker.dead_letters("default")
    if leftover:
        _dead_letters(app, leftover)
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2  # consuming
    except BaseException:
        runner.stop()
        raise
    return app, runner


def _still_serving(runner: RunnerProcess) -> None:
    assert deploy.add(2, 3).get_result(timeout=30) == 5, runner.log_tail()
    assert runner.process is not None and runner.process.poll() is None, runner.log_tail()


def _peak_rss_mb(runner: RunnerProcess) -> float:
    assert runner.process is not None
    status = Path(f"/proc/{runner.process.pid}/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def _dead_letters(app: Pynenc, want: int) -> list[Any]:
    """The messages of the default queue's dead-letter queue, taken off it undecoded."""
    broker = app.broker
    wait_until(lambda: broker.dead_letters("default") >= want, 60, f"{want} dead letters")
    dead = broker.dead_letter_queue(broker.queue_name("default"))
    with broker.connection() as conn:
        queue = broker.queue_entity(dead, dead_letters=False)(conn.channel())
        messages = [queue.get() for _ in range(want)]
        for message in messages:
            message.ack()
    return messages


def _publish_bomb(app: Pynenc) -> None:
    """A zlib bomb as kombu's ``compression`` support sends it (pynenc never compresses)."""
    with app.broker.connection() as conn:
        conn.Producer().publish(
            bomb(),
            exchange="",
            routing_key=QUEUE,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            headers={"compression": "application/x-gzip"},
        )


def _assert_raw_dead_letter(dead: Any, body: bytes, reason: str) -> None:
    assert dead.body == body
    assert dead.content_type == "application/octet-stream"
    assert dead.headers["x-original-queue"] == QUEUE
    assert reason in dead.headers["x-pynenc-error"]


def _assert_bomb_dead_letter(dead: Any, runner: RunnerProcess) -> None:
    assert dead.body == bomb()  # as it arrived: never inflated, here either
    assert dead.headers[REFUSED_COMPRESSION] == "application/x-gzip"
    # AMQP's dead-letter exchange moves a message unchanged: the reason is in the log only
    reason = dead.headers.get("x-pynenc-error") or runner.log_tail()
    assert "is compressed (application/x-gzip); pynenc never compresses" in reason
    assert _peak_rss_mb(runner) < BOMB_SIZE / 2**20, "the runner inflated the bomb"


@pytest.mark.parametrize("ack_emulation", [False, True], ids=["plain", "ack-emulation"])
def test_raw_redis_items_are_dead_lettered(
    redis_server: Server, tmp_path: Path, ack_emulation: bool
) -> None:
    deployment = Deployment(
        "redis-raw",
        redis_server.db_url(),
        redis_server.db_url(),
        FAST,
        broker_transport_options=f'{{"ack_emulation": {str(ack_emulation).lower()}}}',
    )
    app, runner = _running(deployment, tmp_path)
    try:
        client = redis.Redis.from_url(deployment.broker_url)
        client.lpush(QUEUE, b"garbage")  # what `redis-cli lpush` does
        client.lpush(QUEUE, DEEP)
        client.lpush(QUEUE, b'{"body": "x", "properties": {}}')  # JSON, not kombu's
        _still_serving(runner)
        garbage, deep, shapeless = _dead_letters(app, 3)
        _assert_raw_dead_letter(garbage, b"garbage", "not JSON")
        _assert_raw_dead_letter(deep, DEEP, "nested too deep")
        _assert_raw_dead_letter(shapeless, b'{"body": "x", "properties": {}}', "delivery_tag")
        assert "Dead-lettering an item of tests-deploy.default" in runner.log_tail()
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_redis_compression_bomb_is_dead_lettered_compressed(
    redis_server: Server, tmp_path: Path
) -> None:
    deployment = Deployment("redis-bomb", redis_server.db_url(), redis_server.db_url(), FAST)
    app, runner = _running(deployment, tmp_path)
    try:
        _publish_bomb(app)
        _still_serving(runner)
        [dead] = _dead_letters(app, 1)
        _assert_bomb_dead_letter(dead, runner)
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_raw_sqlite_rows_are_dead_lettered(tmp_path: Path) -> None:
    deployment = Deployment(
        "sqlite-raw", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db", FAST
    )
    app, runner = _running(deployment, tmp_path)
    try:
        with sqlite3.connect(tmp_path / "b.db") as db:  # a row written by hand
            db.executemany(
                "INSERT INTO pynenc_messages (queue, priority, payload) VALUES (?, 0, ?)",
                [(QUEUE, "garbage"), (QUEUE, DEEP.decode())],
            )
        _still_serving(runner)
        garbage, deep = _dead_letters(app, 2)
        _assert_raw_dead_letter(garbage, b"garbage", "not JSON")
        _assert_raw_dead_letter(deep, DEEP, "nested too deep")
        _publish_bomb(app)
        _still_serving(runner)
        [bomb] = _dead_letters(app, 1)
        _assert_bomb_dead_letter(bomb, runner)
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_raw_amqp_garbage_and_bomb_are_dead_lettered(
    rabbitmq_server: Server, redis_server: Server, tmp_path: Path
) -> None:
    deployment = Deployment("amqp-raw", rabbitmq_server.url, redis_server.db_url(), FAST)
    app, runner = _running(deployment, tmp_path)
    try:
        host = rabbitmq_server.url.split("@")[-1].split("/")[0]
        with amqp.Connection(host=host, userid="guest", password="guest") as conn:
            channel = conn.channel()
            channel.basic_publish(
                amqp.Message(b"\x00\xffgarbage", content_type="x/odd", content_encoding="zz"),
                exchange="",
                routing_key=QUEUE,
            )
            channel.basic_publish(amqp.Message(DEEP), exchange="", routing_key=QUEUE)
        _publish_bomb(app)
        _still_serving(runner)
        odd, deep, bomb = _dead_letters(app, 3)
        assert odd.body == b"\x00\xffgarbage" and odd.content_type == "x/odd"
        assert deep.body == DEEP
        _assert_bomb_dead_letter(bomb, runner)
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_unexpected_receive_error_is_logged_and_consuming_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = Deployment(
        "sqlite", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db"
    ).configure()
    consumer = app.broker.consumer(["default"], prefetch=1)
    try:
        assert consumer._conn is not None
        failing = consumer._conn

        def boom(**_: Any) -> None:
            raise RuntimeError("a transport bug")

        failing.drain_events = boom
        with caplog.at_level(logging.ERROR, "pynenc.broker"):
            assert consumer.get(1, timeout=0.1) == []
        assert "Unexpected error receiving" in caplog.text and "a transport bug" in caplog.text
        invocation = deploy.add(1, 2)  # registered and published; no runner here
        deliveries: list[Any] = []
        for _ in range(50):  # reconnects after the backoff and receives
            deliveries = consumer.get(1, timeout=0.2)
            if deliveries:
                break
        assert [d.envelope.invocation_id for d in deliveries if d.envelope] == [
            invocation.invocation_id
        ]
        assert consumer._conn is not failing
    finally:
        consumer.close()
