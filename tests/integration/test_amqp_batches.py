"""RabbitMQ: what the runner's batches and the AMQP transport's shortcuts must keep.

- a claimed batch is acked with one ``multiple`` ack, and only when it is exactly the
  oldest unsettled deliveries; a second settle of an acked delivery is ignored;
- a runner killed after recording its claims and before acking them loses nothing and
  runs nothing twice;
- the buffered reads deliver messages larger than a read chunk, and small ones in bulk;
- the quick look before a publish still sees a server's ``connection.close``: the publish
  is sent again on a new connection instead of vanishing.

Real RabbitMQ (and Redis) servers from ``tests/servers.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import InvocationStatus
from pynenc.broker import Delivery, Envelope, KombuBroker
from pynenc.broker.amqp_transport import READ_CHUNK
from pynenc.testing.broker_contract import collect, drain, sample_envelope
from tests.apps import ack_kill
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.servers import RabbitMQServer, Server

S = InvocationStatus
FAST = {"heartbeat_interval": "0.2", "dead_after": "2", "stop_grace": "5"}


@pytest.fixture
def broker(rabbitmq_server: Server) -> Iterator[KombuBroker]:
    instance = KombuBroker(rabbitmq_server.url, f"amqp-batches-{uuid.uuid4().hex[:8]}")
    yield instance
    instance.purge(["default"])
    instance.close()


def _spy_acks(consumer: Any) -> list[tuple[int, bool]]:
    """Record every ``basic.ack`` the consumer's channel sends (and still send it)."""
    sent: list[tuple[int, bool]] = []
    channel = consumer._channel
    real = channel.basic_ack

    def basic_ack(delivery_tag: int, multiple: bool = False) -> None:
        sent.append((delivery_tag, multiple))
        real(delivery_tag, multiple=multiple)

    channel.basic_ack = basic_ack
    return sent


def _tag(delivery: Delivery) -> int:
    return int(delivery.message.delivery_tag)


def test_the_oldest_deliveries_are_acked_with_one_frame(broker: KombuBroker) -> None:
    broker.publish([sample_envelope(i) for i in range(6)])
    consumer = broker.consumer(["default"], prefetch=6)
    try:
        held = collect(consumer, 6)
        assert len(held) == 6
        sent = _spy_acks(consumer)
        Delivery.ack_all(held[:4])
        assert sent == [(_tag(held[3]), True)]
        held[5].requeue()
        Delivery.ack_all([held[4]])  # the only one left unsettled below it
        assert sent[-1] == (_tag(held[4]), False)  # a lone delivery: a plain ack
    finally:
        consumer.close()
    assert [e.invocation_id for e in drain(broker, ["default"], 1)] == ["inv-5"]
    assert drain(broker, ["default"], 1) == []  # nothing else came back


def test_a_batch_with_an_older_delivery_unsettled_is_acked_one_by_one(
    broker: KombuBroker,
) -> None:
    broker.publish([sample_envelope(i) for i in range(4)])
    consumer = broker.consumer(["default"], prefetch=4)
    try:
        held = collect(consumer, 4)
        sent = _spy_acks(consumer)
        Delivery.ack_all(held[1:3])  # a multiple ack would settle inv-0 too
        assert sent == [(_tag(held[1]), False), (_tag(held[2]), False)]
        held[0].requeue()
        held[3].requeue()
    finally:
        consumer.close()
    got = drain(broker, ["default"], 2)
    assert sorted(e.invocation_id for e in got) == ["inv-0", "inv-3"]


def test_a_second_settle_is_ignored_and_the_channel_lives(broker: KombuBroker) -> None:
    broker.publish([sample_envelope(i) for i in range(3)])
    consumer = broker.consumer(["default"], prefetch=3)
    try:
        held = collect(consumer, 3)
        Delivery.ack_all(held[:2])
        sent = _spy_acks(consumer)
        held[0].ack()  # on AMQP a second ack of a tag closes the channel
        held[1].reject()
        assert sent == []
        held[2].ack()
        broker.publish([sample_envelope(9)])
        [late] = collect(consumer, 1)
        assert late.envelope is not None and late.envelope.invocation_id == "inv-9"
        late.ack()
        assert consumer.generation == 0, "the channel was closed and reopened"
    finally:
        consumer.close()


def test_messages_larger_than_a_read_chunk_arrive_whole(broker: KombuBroker) -> None:
    big = "x" * (3 * READ_CHUNK + 17)
    sent = [
        Envelope(f"inv-{i}", "mod.task", {"x": big if i % 4 == 1 else str(i)}, "json")
        for i in range(40)
    ]
    broker.publish(sent)
    assert drain(broker, ["default"], 40, prefetch=8) == sent


def _close_from_server(server: Server, broker: KombuBroker) -> None:
    """Make RabbitMQ close the broker's publishing connection (as an operator, or a
    server enforcing a limit, does): it sends ``connection.close`` and drops what the
    client sends after it."""
    assert isinstance(server, RabbitMQServer)
    port = broker._local.connection.connection.transport.sock.getsockname()[1]
    cookie = (server.workdir / ".erlang.cookie").read_text().strip()
    ctl = [shutil.which("rabbitmqctl") or "rabbitmqctl", "--erlang-cookie", cookie]
    ctl += ["-n", server.node]
    env = server.environment()
    listing = subprocess.run(
        [*ctl, "list_connections", "pid", "peer_port"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [pid] = [line.split()[0] for line in listing.splitlines() if line.endswith(f"\t{port}")]
    subprocess.run(
        [*ctl, "close_connection", pid, "closed by the test"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )


def test_a_publish_after_the_server_closed_the_connection_is_sent_again(
    rabbitmq_server: Server, broker: KombuBroker
) -> None:
    broker.publish([sample_envelope(1)])  # opens this thread's publishing connection
    _close_from_server(rabbitmq_server, broker)
    wait_until(
        lambda: not broker._local.connection.connection.transport.nothing_to_read(),
        30,
        "the server's connection.close to arrive",
    )
    broker.publish([sample_envelope(2)])  # seen closed before sending: sent again
    got = drain(broker, ["default"], 2)
    assert [e.invocation_id for e in got] == ["inv-1", "inv-2"]


def _runs(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_a_runner_killed_between_its_claims_and_its_acks_runs_each_invocation_once(
    rabbitmq_server: Server,
    redis_server: Server,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    deployment = Deployment("rabbitmq", rabbitmq_server.url, redis_server.db_url(), FAST)
    app = deployment.configure(ack_kill.app)
    request.addfinalizer(app.reset_components)
    app.purge()
    runs = tmp_path / "runs.txt"
    n = 12
    invocations = ack_kill.note_run.parallelize([(i, str(runs)) for i in range(n)])
    ids = [inv.invocation_id for inv in invocations.invocations]
    app_ref = "tests.apps.ack_kill:app"
    deployment.extra_env = {"PYNENC_TEST_KILL_AT_ACK": "1"}
    doomed = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "4", log=tmp_path / "a.log", app_ref=app_ref
    ).start()
    assert doomed.process is not None
    assert doomed.process.wait(timeout=120) == -9, doomed.log_tail()
    claimed = [
        r for r in app.state_backend.get_many(ids) if r is not None and r.status is S.RUNNING
    ]
    assert claimed, "the runner died before claiming anything; nothing was tested"
    assert _runs(runs) == []  # claimed, never started, never acked
    deployment.extra_env = {}
    second = RunnerProcess(
        deployment, "ThreadRunner", "--threads", "4", log=tmp_path / "b.log", app_ref=app_ref
    ).start()
    try:
        # their messages come back (never acked): the claims refuse them, and the
        # invocations run once the dead runner's work is rerouted (runner.dead_after)
        results = [inv.get_result(timeout=120) for inv in invocations.invocations]
    finally:
        assert second.stop() == 0, second.log_tail()
    assert results == list(range(n))
    assert sorted(_runs(runs)) == list(range(n)), "an invocation ran twice or never"
    for record in claimed:
        statuses = [entry.status for entry in app.state_backend.history(record.invocation_id)]
        assert S.REROUTED in statuses, statuses
