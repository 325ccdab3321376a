"""ListenPace: when a Redis listener reads in batches, and the hand-over to a new waiter."""

from __future__ import annotations

import threading
import time

import pytest

from pynenc.state_backend import _listen_pace
from pynenc.state_backend._listen_pace import ListenPace
from pynenc.state_backend._waiters import Waiters

LONG = 60.0  #: a pause nobody ends would outlast every wait of these tests
WAIT = 10.0


def _in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_batches_only_once_nobody_has_waited_for_the_window() -> None:
    waiters = Waiters()
    pace = ListenPace(waiters, active_window=LONG)
    assert not pace.should_batch()  # nobody waited yet, but not for the whole window
    with waiters.watch("a"):
        assert waiters.idle_for() == 0.0
        pace.active_window = 0.0
        assert not pace.should_batch(), "a thread waits"
    assert pace.should_batch()


def test_a_pause_ends_when_a_thread_starts_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_listen_pace, "CATCH_UP_TIMEOUT", LONG)
    waiters = Waiters()
    pace = ListenPace(waiters, active_window=0.0, lazy_tick=LONG)
    paused = _in_thread(pace.pause)
    deadline = time.monotonic() + WAIT
    while not pace.batching and time.monotonic() < deadline:
        time.sleep(0.001)  # the flag is set first thing: no event to wait on
    assert pace.batching
    with waiters.watch("a"):
        catching_up = _in_thread(pace.catch_up)
        paused.join(WAIT)
        assert not paused.is_alive(), "the listener slept on while a thread waited"
        assert catching_up.is_alive(), "the waiter went on before the listener read"
        pace.stop_batching()  # (the listener read what came in)
        catching_up.join(WAIT)
        assert not catching_up.is_alive()


def test_a_pause_started_after_a_thread_began_waiting_does_not_sleep() -> None:
    # the waiter may have looked at the flag before the listener set it: the listener
    # must not sleep through its wait
    waiters = Waiters()
    pace = ListenPace(waiters, active_window=0.0, lazy_tick=LONG)
    with waiters.watch("a"):
        paused = _in_thread(pace.pause)
        paused.join(WAIT)
        assert not paused.is_alive()
        assert pace.batching


def test_a_thread_waits_for_nothing_when_the_listener_reads_each_message() -> None:
    pace = ListenPace(Waiters())
    pace.catch_up()  # returns at once: the test would hang otherwise
    assert not pace.batching


def test_waking_ends_a_pause() -> None:
    pace = ListenPace(Waiters(), active_window=0.0, lazy_tick=LONG)
    paused = _in_thread(pace.pause)
    pace.wake()
    paused.join(WAIT)
    assert not paused.is_alive()
