"""Messages a runner must not run — poison bodies, unsigned or forged ones — on real Redis.

Each is dead-lettered to ``<app_id>.<queue>.dead`` by a real CLI runner process, which keeps
running and serving the calls that follow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pynenc import Pynenc
from pynenc.broker.envelope import CONTENT_TYPE, Envelope
from pynenc.broker.signing import SIGNATURE_HEADER, Signer
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import Server

FAST = {"heartbeat_interval": "0.2", "dead_after": "2", "stop_grace": "5"}
POISON = "[" * 200_000 + "]" * 200_000
OLD_KEY = "old-key-0123456789abcdef"
NEW_KEY = "new-key-0123456789abcdef"


@dataclass
class SignedDeployment(Deployment):
    """A deployment whose runners get ``broker.signing_keys`` from the environment."""

    signing_keys: str = ""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PYNENC__BROKER__SIGNING_KEYS"] = self.signing_keys
        return env


def _publish_raw(app: Pynenc, body: str | bytes, headers: dict[str, Any] | None = None) -> None:
    """Put ``body`` on the app's default queue as any kombu client could."""
    broker = app.broker
    with broker.connection() as conn:
        conn.Producer().publish(
            body,
            exchange="",
            routing_key=broker.queue_name("default"),
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            headers=headers or {},
        )


def _dead_letters(app: Pynenc, want: int) -> list[Any]:
    """The messages of the default queue's dead-letter queue (taken off it)."""
    broker = app.broker
    wait_until(lambda: broker.dead_letters("default") >= want, 60, f"{want} dead letters")
    dead = broker.dead_letter_queue(broker.queue_name("default"))
    with broker.connection() as conn:
        queue = conn.SimpleQueue(broker.queue_entity(dead, dead_letters=False))
        messages = [queue.get(timeout=10) for _ in range(want)]
        for message in messages:
            message.ack()
        queue.close()
    return messages


@pytest.fixture
def redis_acks(redis_server: Server, tmp_path: Path) -> Iterator[Deployment]:
    """Redis with kombu's ack emulation on: an unacked message goes back to the queue."""
    yield Deployment(
        "redis-acks",
        redis_server.db_url(),
        redis_server.db_url(),
        FAST,
        broker_transport_options='{"ack_emulation": true, "visibility_timeout": 5}',
    )
    deploy.app.reset_components()


def test_poison_body_is_dead_lettered_and_runner_keeps_running(
    redis_acks: Deployment, tmp_path: Path
) -> None:
    app = redis_acks.configure()
    app.purge()
    runner = RunnerProcess(redis_acks, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2  # consuming
        _publish_raw(app, POISON)
        assert deploy.add(2, 2).get_result(timeout=30) == 4
        [dead] = _dead_letters(app, 1)
        assert dead.body == POISON.encode()
        assert "deeper than" in dead.headers["x-pynenc-error"]
        assert runner.process is not None and runner.process.poll() is None
    finally:
        assert runner.stop() == 0, runner.log_tail()


@pytest.fixture
def signed(redis_server: Server) -> Iterator[SignedDeployment]:
    deployment = SignedDeployment(
        "redis-signed",
        redis_server.db_url(),
        redis_server.db_url(),
        FAST,
        signing_keys=f"{NEW_KEY},{OLD_KEY}",
    )
    yield deployment
    deploy.app.conf.broker.signing_keys = ()
    deploy.app.reset_components()


def test_signed_calls_run_and_unsigned_or_forged_are_dead_lettered(
    signed: SignedDeployment, tmp_path: Path
) -> None:
    app = signed.configure()
    app.conf.broker.signing_keys = (OLD_KEY,)  # a caller not yet rotated to the new key
    app.purge()
    runner = RunnerProcess(signed, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 2).get_result(timeout=60) == 3  # accepted: OLD_KEY is listed
        body = Envelope("inv-forged", "tests.apps.deploy.add", {}, "json").encode()
        forged = Signer(["not-a-key-of-this-app-000"]).sign(body.encode())
        valid_for_other_body = Signer([NEW_KEY]).sign(b"{}")
        _publish_raw(app, body)  # unsigned
        _publish_raw(app, body, {SIGNATURE_HEADER: forged})
        _publish_raw(app, body, {SIGNATURE_HEADER: valid_for_other_body})
        app.conf.broker.signing_keys = (NEW_KEY, OLD_KEY)  # the caller rotated
        app.reset_components()
        assert deploy.add(2, 3).get_result(timeout=60) == 5
        reasons = [m.headers["x-pynenc-error"] for m in _dead_letters(app, 3)]
        assert "not signed" in reasons[0]
        assert "not in broker.signing_keys" in reasons[1]
        assert "does not match its body" in reasons[2]
        assert runner.process is not None and runner.process.poll() is None
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_unsigned_caller_is_refused_by_a_signing_runner(
    signed: SignedDeployment, tmp_path: Path
) -> None:
    app = signed.configure()
    app.purge()
    runner = RunnerProcess(signed, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        invocation = deploy.add(4, 4)  # this caller has no key: its message is unsigned
        [dead] = _dead_letters(app, 1)
        assert "not signed" in dead.headers["x-pynenc-error"]
        assert dead.headers.get(SIGNATURE_HEADER) is None
        assert invocation.status.name == "REGISTERED"  # nothing ran it
        app.conf.broker.signing_keys = (NEW_KEY,)
        app.reset_components()
        assert deploy.add(5, 5).get_result(timeout=60) == 10
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_dead_lettered_copy_keeps_the_signature(signed: SignedDeployment, tmp_path: Path) -> None:
    app = signed.configure()
    app.conf.broker.signing_keys = (NEW_KEY,)
    app.purge()
    runner = RunnerProcess(signed, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2
        signature = Signer([NEW_KEY]).sign(POISON.encode())
        _publish_raw(app, POISON, {SIGNATURE_HEADER: signature})  # signed, yet poison
        [dead] = _dead_letters(app, 1)
        assert dead.headers[SIGNATURE_HEADER] == signature
        assert "deeper than" in dead.headers["x-pynenc-error"]
    finally:
        assert runner.stop() == 0, runner.log_tail()
