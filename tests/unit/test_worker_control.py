"""A pool worker follows its parent's stop instructions over its pipe (pure logic)."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any, cast

from pynenc.runner.signals import STOP, STOP_NOW
from pynenc.runner.supervisor import _follow_parent


class FakeRunner:
    runner_id = "worker-1"

    def __init__(self) -> None:
        self.requests: list[bool] = []
        self.changed = threading.Condition()

    @property
    def stopping(self) -> bool:
        return bool(self.requests)

    def stop_runner_loop(self, immediate: bool = False) -> None:
        with self.changed:
            self.requests.append(immediate)
            self.changed.notify_all()

    def wait_for(self, count: int) -> list[bool]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.requests) >= count, timeout=10)
            return list(self.requests)


def _follow(runner: FakeRunner) -> tuple[Any, threading.Thread]:
    reader, writer = multiprocessing.Pipe(duplex=False)
    thread = threading.Thread(target=_follow_parent, args=(reader, cast(Any, runner)))
    thread.start()
    return writer, thread


def test_stop_then_stop_now_then_parent_gone() -> None:
    runner = FakeRunner()
    writer, thread = _follow(runner)
    writer.send_bytes(STOP)
    assert runner.wait_for(1) == [False]
    writer.send_bytes(STOP)  # repeated: still one graceful request
    writer.send_bytes(STOP_NOW)
    assert runner.wait_for(2) == [False, True]
    writer.close()  # the parent exits after its worker: no further request
    thread.join(timeout=10)
    assert not thread.is_alive() and runner.requests == [False, True]


def test_a_parent_that_dies_means_a_graceful_stop() -> None:
    runner = FakeRunner()
    writer, thread = _follow(runner)
    writer.close()
    thread.join(timeout=10)
    assert runner.requests == [False]
