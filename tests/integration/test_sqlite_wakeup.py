"""Wake-ups of SQLite waiters and consumers across processes (``pynenc/file_wakeup.py``).

Real processes throughout. Where a test proves that a wake-up (not a re-read) ended a wait,
the re-read interval is longer than the wait's timeout, and the other process acts only
after the waiter's last read before its wait (the first read made armed: a hook on it sets
the event the other process waits for): nothing but the wake-up can end the wait in time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import kombu
import pytest

import pynenc.broker  # noqa: F401  (registers the sqlite:// transport with kombu)
from pynenc.broker import sqlite_transport
from pynenc.file_wakeup import SUFFIX, SUPPORTED, FileWakeup, wakeup_of
from pynenc.records import InvocationStatus
from pynenc.state_backend import create_state_backend
from pynenc.state_backend.sqlite import SqliteStateBackend
from pynenc.testing.state_backend_contract import sample_record, sample_update

S = InvocationStatus
SPAWN = multiprocessing.get_context("spawn")
FORK = multiprocessing.get_context("fork")
#: longer than any wait of these tests: a re-read never ends one in time
NEVER = 600.0

pytestmark = pytest.mark.skipif(not SUPPORTED, reason="wake-ups are Linux-only; others poll")


def _backend(tmp_path: Path) -> SqliteStateBackend:
    backend = create_state_backend(f"sqlite:///{tmp_path}/state.db", "wake")
    assert isinstance(backend, SqliteStateBackend)
    return backend


def _finish(url: str, inv: str, go: Any, silent: bool) -> None:
    """In a child: once ``go`` is set, take ``inv`` to SUCCESS (``silent``: send nothing)."""
    if silent:
        FileWakeup.send = lambda *args: None  # type: ignore[method-assign,assignment]
    backend = create_state_backend(url, "wake")
    assert go.wait(60)
    assert backend.set_status(sample_update(inv, {S.REGISTERED}, S.RUNNING, owner="c"))
    assert backend.set_status(
        sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="c", result="1")
    )
    backend.close()


def _wait_after_first_read(
    backend: SqliteStateBackend, inv: str, go: Any, timeout: float
) -> tuple[S | None, S | None]:
    """``wait_final_record`` that sets ``go`` after its first read that is armed (the one
    after which it waits; the first of all where it polls); (first seen, final)."""
    seen: list[S | None] = []
    get = backend.get
    channel = wakeup_of(backend.path)

    def get_then_go(invocation_id: str) -> Any:
        found = get(invocation_id)
        seen.append(None if found is None else found.status)
        if channel._armed or not channel.listening:
            go.set()
        return found

    backend.get = get_then_go  # type: ignore[method-assign]
    try:
        final = backend.wait_final_record(inv, timeout)
    finally:
        del backend.get
    return seen[0], None if final is None else final.status


def _finish_in_child(backend: SqliteStateBackend, inv: str, *, silent: bool = False) -> Any:
    """Start a child that finishes ``inv`` once the returned event is set."""
    go = SPAWN.Event()
    child = SPAWN.Process(target=_finish, args=(backend.url, inv, go, silent))
    child.start()
    return go, child


def test_a_lost_wake_up_is_caught_by_the_re_read(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    backend.recheck_interval = 0.2  # the safety net, made short for this test
    record = sample_record()
    backend.register([record], time.time())
    go, child = _finish_in_child(backend, record.invocation_id, silent=True)
    first, final = _wait_after_first_read(backend, record.invocation_id, go, 120)
    child.join(60)
    assert child.exitcode == 0
    assert first is S.REGISTERED and final is S.SUCCESS


def test_an_unwritable_socket_directory_falls_back_to_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a file where the socket directory should be: no socket can be made there (a
    # permission-based setup would not stop root, who runs CI containers)
    (tmp_path / f"state.db{SUFFIX}").write_text("not a directory")
    backend = _backend(tmp_path)
    backend.recheck_interval = NEVER  # ignored when polling: polling must end the wait
    record = sample_record()
    backend.register([record], time.time())
    go, child = _finish_in_child(backend, record.invocation_id)
    with caplog.at_level(logging.WARNING, logger="pynenc.file_wakeup"):
        first, final = _wait_after_first_read(backend, record.invocation_id, go, 120)
    child.join(60)
    assert child.exitcode == 0
    assert first is S.REGISTERED and final is S.SUCCESS
    [line] = [r.getMessage() for r in caplog.records if r.name == "pynenc.file_wakeup"]
    assert backend.path in line and "poll" in line


def _listen_and_hang(url: str, ready: Any) -> None:
    backend = create_state_backend(url, "wake")
    record = sample_record()
    backend.register([record], time.time())
    assert isinstance(backend, SqliteStateBackend)
    _wait_after_first_read(backend, record.invocation_id, ready, NEVER)


def _kill_a_waiter(backend: SqliteStateBackend) -> str:
    """Start a waiting child, SIGKILL it; the name of the socket file it left behind."""
    ready = SPAWN.Event()
    child = SPAWN.Process(target=_listen_and_hang, args=(backend.url, ready))
    child.start()
    assert ready.wait(60)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    [stale] = [n for n in os.listdir(backend.path + SUFFIX) if n.startswith(f"{child.pid}-")]
    return stale


def test_the_socket_of_a_killed_waiter_is_removed_by_the_next_sender(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    stale = _kill_a_waiter(backend)
    record = sample_record()
    backend.register([record], time.time())
    backend.set_status(sample_update(record.invocation_id, {S.REGISTERED}, S.CANCELLED))
    assert stale not in os.listdir(backend.path + SUFFIX)


def test_the_socket_of_a_killed_waiter_is_swept_by_the_next_listener(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    stale = _kill_a_waiter(backend)
    assert wakeup_of(backend.path).listen("other", lambda items: None)
    assert stale not in os.listdir(backend.path + SUFFIX)


def _wait_in_fork(backend: SqliteStateBackend, inv: str, go: Any) -> None:
    backend.recheck_interval = NEVER
    first, final = _wait_after_first_read(backend, inv, go, 120)
    sys.exit(0 if (first, final) == (S.REGISTERED, S.SUCCESS) else 1)  # runs the finalizers


def test_a_forked_child_listens_on_a_socket_of_its_own(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    done = sample_record()
    backend.register([done], time.time())
    backend.set_status(sample_update(done.invocation_id, {S.REGISTERED}, S.CANCELLED))
    assert backend.wait_final(done.invocation_id, 10)  # this process listens: the child
    parent_socket = set(os.listdir(backend.path + SUFFIX))  # inherits its socket
    record = sample_record()
    backend.register([record], time.time())
    go = FORK.Event()
    child = FORK.Process(target=_wait_in_fork, args=(backend, record.invocation_id, go))
    child.start()
    assert go.wait(60)
    assert backend.set_status(
        sample_update(record.invocation_id, {S.REGISTERED}, S.RUNNING, owner="p")
    )
    assert backend.set_status(
        sample_update(record.invocation_id, {S.RUNNING}, S.SUCCESS, expected_owner="p")
    )
    child.join(60)
    assert child.exitcode == 0, "the child was not woken by the parent's final status"
    # the parent still listens where it did; the child removed its socket on exit
    assert set(os.listdir(backend.path + SUFFIX)) == parent_socket


def _send(path: str, topic: str, batches: list[list[str]]) -> None:
    channel = FileWakeup(path)  # not listening: sends to every listener
    for items in batches:
        channel.send(topic, items)


def test_a_reader_whose_queue_filled_up_looks_at_everything(tmp_path: Path) -> None:
    path = str(tmp_path / "file.db")
    calls: list[list[str] | None] = []
    blocked, release, everything = threading.Event(), threading.Event(), threading.Event()

    def handler(items: list[str] | None) -> None:
        calls.append(items)
        if items is None:
            everything.set()
        blocked.set()
        release.wait(60)  # the reader thread stays here while the queue fills up

    channel = FileWakeup(path)
    try:
        assert channel.listen("t", handler)
        channel.arm()  # as a waiting thread does
        first = SPAWN.Process(target=_send, args=(path, "t", [["first"]]))
        first.start()
        assert blocked.wait(60)
        flood = SPAWN.Process(target=_send, args=(path, "t", [[str(i)] for i in range(100)]))
        flood.start()
        flood.join(60)  # most of its datagrams found the queue full and were dropped
        assert flood.exitcode == 0
        release.set()
        assert everything.wait(60)
        received = [item for items in calls if items for item in items]
        assert len(received) < 101, "no datagram was dropped: the test proves nothing"
    finally:
        release.set()
        channel.close()
        first.join(30)


def test_a_process_that_waits_for_nothing_is_sent_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "file.db")
    calls: list[list[str] | None] = []
    second = threading.Event()

    def handler(items: list[str] | None) -> None:
        calls.append(items)
        if items == ["armed"]:
            second.set()

    channel = FileWakeup(path)
    try:
        assert channel.listen("t", handler)
        for items, armed in ((["idle"], False), (["armed"], True)):
            if armed:
                channel.arm()
            sender = SPAWN.Process(target=_send, args=(path, "t", [items]))
            sender.start()
            sender.join(60)  # a datagram sent is queued before sendto returns
            assert sender.exitcode == 0
        assert second.wait(60)
        assert calls == [["armed"]]  # the datagrams of one sender arrive in order
    finally:
        channel.close()


def _listen_armed(path: str, ready: Any, got: Any) -> None:
    channel = wakeup_of(path)
    assert channel.listen("t", lambda items: got.set())
    channel.arm()
    ready.set()
    assert got.wait(60)


def test_a_sender_that_listed_the_directory_before_sees_a_new_listener(tmp_path: Path) -> None:
    path = str(tmp_path / "file.db")
    os.makedirs(path + SUFFIX)
    past = time.time() - 3600  # an old directory: the sender's listing of it is trusted
    os.utime(path + SUFFIX, (past, past))
    sender = FileWakeup(path)
    sender.send("t", ["nobody listens yet"])  # lists the directory, and keeps the list
    ready, got = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=_listen_armed, args=(path, ready, got))
    child.start()
    assert ready.wait(60)
    sender.send("t", ["a"])
    child.join(60)
    assert child.exitcode == 0, "the new listener was not sent the datagram"


def _consume_one(url: str, ready: Any, out: Any) -> None:
    options = {"polling_interval_min": NEVER, "polling_interval": NEVER, "recheck_interval": NEVER}
    poll = sqlite_transport.Channel._poll

    def poll_then_ready(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return poll(self, *args, **kwargs)
        finally:
            ready.set()  # the publisher publishes only after this first look

    sqlite_transport.Channel._poll = poll_then_ready  # type: ignore[method-assign]
    with kombu.Connection(url, transport_options=options) as conn:
        queue = conn.SimpleQueue("wake")
        message = queue.get(block=True, timeout=120)
        message.ack()
        out.put(message.payload)
        queue.close()


def test_a_consumer_in_another_process_is_woken_by_a_publish(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/broker.db"
    ready, out = SPAWN.Event(), SPAWN.Queue()
    child = SPAWN.Process(target=_consume_one, args=(url, ready, out))
    child.start()
    assert ready.wait(60)
    with kombu.Connection(url) as conn:
        queue = conn.SimpleQueue("wake")
        queue.put({"hello": 1})
        queue.close()
    assert out.get(timeout=120) == {"hello": 1}
    child.join(60)
    assert child.exitcode == 0
