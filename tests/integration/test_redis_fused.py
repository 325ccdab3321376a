"""One Redis for broker and state: a call registers and publishes in one script
(``pynenc.state_backend.redis_fused``), and the message announcing an invocation's end
carries its final record (``pynenc.state_backend.redis_notices``), on a real Redis server
with a real ThreadRunner."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pynenc import InvocationStatus, Pynenc
from pynenc.broker import KombuBroker
from pynenc.call import Call
from pynenc.records import InvocationRecord, StatusEntry, StatusUpdate
from pynenc.state_backend.redis import RedisStateBackend
from pynenc.state_backend.redis_fused import FusedPath, same_redis
from pynenc.testing.broker_contract import collect
from tests.integration.deployments import wait_until
from tests.servers import Server

S = InvocationStatus
app = Pynenc(app_id="tests-redis-fused")


@app.task
def add(x: int, y: int) -> int:
    return x + y


#: opened by the caller's first read: the task ends only once the caller waits
GATE = threading.Event()


@app.task
def big(size: int) -> str:
    GATE.wait(30)
    return "x" * size


@app.task(priority=9)
def urgent() -> str:
    return "urgent"


@app.task(priority=0)
def lazy() -> str:
    return "lazy"


def _use(state_url: str, broker_url: str) -> None:
    app.reset_components()
    app.conf.state_backend_url = state_url
    app.conf.broker_url = broker_url


@pytest.fixture
def url(redis_server: Server) -> Iterator[str]:
    url = str(redis_server.db_url())  # type: ignore[attr-defined]
    _use(url, url)
    try:
        yield url
    finally:
        app.purge()
        app.state_backend.close()
        app.reset_components()


def _queue_items(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every Redis list of the app's queues, item by item, as kombu stored them."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        keys = [k for k in client.scan_iter(match=f"{app.app_id}.*") if client.type(k) == "list"]
        return {key: [json.loads(i) for i in client.lrange(key, 0, -1)] for key in keys}
    finally:
        client.close()


@pytest.mark.parametrize(
    ("state", "broker", "same"),
    [
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1", True),
        ("redis://127.0.0.1/0", "redis://127.0.0.1:6379", True),
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/2", False),
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6380/1", False),
        ("redis://:a@127.0.0.1:6379/1", "redis://:b@127.0.0.1:6379/1", False),
        ("rediss://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1", False),
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1;redis://h2:6379/1", False),
    ],
)
def test_only_the_same_server_and_database_is_fused(state: str, broker: str, same: bool) -> None:
    assert same_redis(state, broker) is same


def test_the_fused_path_is_taken_only_where_it_applies(redis_server: Server) -> None:
    url = str(redis_server.db_url())  # type: ignore[attr-defined]
    try:
        _use(url, url)
        assert isinstance(app.orchestrator.fused, FusedPath)
        _use(url, str(redis_server.db_url()))  # type: ignore[attr-defined]
        assert app.orchestrator.fused is None, "another database: two round trips"
        _use(url, "memory://")
        assert app.orchestrator.fused is None
        _use("memory://", "memory://")
        assert app.orchestrator.fused is None
    finally:
        app.reset_components()


def test_a_call_is_stored_and_queued_by_one_script_then_runs(url: str) -> None:
    invocation = add(1, 2)
    record = app.state_backend.get(invocation.invocation_id)
    assert record is not None and record.status is InvocationStatus.REGISTERED
    (items,) = _queue_items(url).values()
    assert len(items) == 1
    with app.running_in_background(stop_timeout=30):
        assert invocation.get_result(timeout=30) == 3


def test_the_item_pushed_is_the_one_kombu_would_have_pushed(url: str) -> None:
    """Same list (each priority has its own), same wire format: the runner reads both."""
    keys = set()
    for task in (urgent, lazy):
        plan = app.orchestrator.plan([Call(task, task.args())])
        pushes = app.broker.pushes(plan.envelopes)
        app.broker.publish(plan.envelopes)  # the separate path, for comparison
        assert pushes is not None
        ((key, item),) = pushes
        stored = _queue_items(url)[key]
        sent = json.loads(item)
        assert sent["properties"].pop("delivery_tag") != stored[-1]["properties"].pop(
            "delivery_tag"
        )
        assert sent == stored[-1]
        keys.add(key)
    assert len(keys) == 2, "two priorities, two lists"


def test_a_caller_chosen_id_seen_before_is_neither_stored_nor_queued_again(url: str) -> None:
    chosen = f"order-{uuid.uuid4()}"
    first = add.with_options(invocation_id=chosen)(1, 2)
    again = add.with_options(invocation_id=chosen)(1, 2)
    assert first.invocation_id == again.invocation_id == chosen
    (items,) = _queue_items(url).values()
    assert len(items) == 1, "the second call published nothing"
    with app.running_in_background(stop_timeout=30):
        assert again.get_result(timeout=30) == 3


def test_a_waiter_woken_by_the_end_message_reads_the_record_no_more(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller's own backend (not the runner's, which wakes its waiters itself); each
    task ends only after the caller's first read, so the wake-up is what it waits for."""
    caller = RedisStateBackend(app.app_id, url)
    reads: list[str] = []
    real_get = caller.get

    def get(invocation_id: str) -> Any:
        reads.append(invocation_id)
        record = real_get(invocation_id)
        GATE.set()
        return record

    monkeypatch.setattr(caller, "get", get)
    caller.recheck_interval = 60.0  # only the message can end the wait in time
    try:
        with app.running_in_background(stop_timeout=30):
            # the first wait starts the caller's listener, whose subscription wakes
            # every waiter once to read again (what was published before it is missed)
            for size, expected_reads in ((1, None), (10, 1), (20_000, 2)):
                GATE.clear()
                invocation = big(size)
                record = caller.wait_final_record(invocation.invocation_id, 30)
                assert record is not None and record.status is InvocationStatus.SUCCESS
                assert invocation.get_result(timeout=30) == "x" * size
                # a large record does not travel on the message: read after the wake-up
                if expected_reads is not None:
                    assert reads.count(invocation.invocation_id) == expected_reads
    finally:
        GATE.set()
        caller.close()


def test_a_result_asked_for_after_its_end_was_announced_costs_no_read(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listening process keeps the last ends announced; a purge forgets them."""
    caller = RedisStateBackend(app.app_id, url)
    reads: list[str] = []
    real_get = caller.get
    monkeypatch.setattr(caller, "get", lambda i: reads.append(i) or real_get(i))
    GATE.set()
    try:
        with app.running_in_background(stop_timeout=30):
            first = big(1)
            assert caller.wait_final_record(first.invocation_id, 30) is not None
            # that wait started the listener, but may have been answered by a read before
            # the listener's SUBSCRIBE went through: an end announced before it is missed
            wait_until(lambda: caller._listener.listening, 30, "the listener to subscribe")
            later = big(2)
            assert later.get_result(timeout=30) == "xx"
            wait_until(lambda: caller._recent.get(later.invocation_id), 30, "its end message")
            reads.clear()
            record = caller.wait_final_record(later.invocation_id, 30)
            assert record is not None and record.status is InvocationStatus.SUCCESS
            assert reads == [], "told of its end already: nothing read"
            caller.purge()
            assert caller.wait_final_record(later.invocation_id, 0.1) is None, "purged"
    finally:
        caller.close()


def _ended_by_another_process(url: str, invocation_id: str, after: threading.Event) -> None:
    """What a runner does: claim, then record SUCCESS (its own backend, its own client)."""
    runner = RedisStateBackend(app.app_id, url)
    try:
        after.wait(30)
        claim = StatusUpdate(
            invocation_id, frozenset({S.REGISTERED}), StatusEntry(S.RUNNING, 1.0, "r"), "r"
        )
        assert runner.set_status(claim)
        end = StatusEntry(S.SUCCESS, 2.0, "r", None)
        done = StatusUpdate(
            invocation_id, frozenset({S.RUNNING}), end, expected_owner="r", result='"ok"'
        )
        assert runner.set_status(done)
    finally:
        runner.close()


@pytest.mark.parametrize("listening", [True, False], ids=["listening", "not-yet"])
def test_a_call_registered_while_listening_is_not_read_before_the_wait(
    url: str, monkeypatch: pytest.MonkeyPatch, listening: bool
) -> None:
    """Its end cannot pass unseen: the wait reads nothing at all. Registered before the
    listener listened, it is read first (its end may have been announced unheard)."""
    caller = RedisStateBackend(app.app_id, url)
    try:
        if listening:
            warm = uuid.uuid4().hex
            caller.register([InvocationRecord(warm, "m.t", {}, queue="q")], 1.0)
            now = threading.Event()
            now.set()
            threading.Thread(target=_ended_by_another_process, args=(url, warm, now)).start()
            assert caller.wait_final_record(warm, 30) is not None
            # answered maybe by a read before the listener's SUBSCRIBE went through
            wait_until(lambda: caller._listener.listening, 30, "the listener to subscribe")
        inv = uuid.uuid4().hex
        caller.register([InvocationRecord(inv, "m.t", {}, queue="q")], 1.0)
        reads: list[str] = []
        real_get = caller.get
        waiting = threading.Event()

        def get(invocation_id: str) -> Any:
            reads.append(invocation_id)
            return real_get(invocation_id)

        monkeypatch.setattr(caller, "get", get)
        monkeypatch.setattr(caller, "_ensure_listener", _then(caller._ensure_listener, waiting))
        caller.recheck_interval = 60.0
        ender = threading.Thread(target=_ended_by_another_process, args=(url, inv, waiting))
        ender.start()
        record = caller.wait_final_record(inv, 30)
        ender.join(30)
        assert record is not None and record.status is S.SUCCESS and record.result == '"ok"'
        assert reads == ([] if listening else [inv, inv][: len(reads)])
        assert listening or reads, "not listening yet: read before waiting"
    finally:
        caller.close()


def _then(call: Any, event: threading.Event) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = call(*args, **kwargs)
        event.set()
        return result

    return wrapped


def test_a_signed_item_pushed_is_the_one_kombu_would_have_pushed(url: str) -> None:
    broker = KombuBroker(url, app.app_id, signing_keys=["fused-signing-key-0123456789abcdef"])
    try:
        plan = app.orchestrator.plan([Call(add, add.args(1, 2))])
        pushes = broker.pushes(plan.envelopes)
        broker.publish(plan.envelopes)
        assert pushes is not None
        ((key, item),) = pushes
        stored = _queue_items(url)[key][-1]
        sent = json.loads(item)
        assert sent["headers"] and sent["headers"] == stored["headers"], "signed alike"
        sent["properties"].pop("delivery_tag")
        stored["properties"].pop("delivery_tag")
        assert sent == stored
        consumer = broker.consumer(["default"], prefetch=2)
        try:
            got = collect(consumer, 1)
            assert got and got[0].error is None, "a signed push passes the runner's check"
        finally:
            consumer.close()
    finally:
        broker.close()
