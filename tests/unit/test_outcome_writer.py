"""OutcomeWriter: immediate when idle, one batch for what finished during a write."""

from __future__ import annotations

import threading
import time
from typing import Any

from pynenc.exceptions import StateBackendUnavailableError
from pynenc.orchestrator import Orchestrator
from pynenc.records import InvocationStatus, StatusEntry, StatusUpdate
from pynenc.runner.outcomes import OutcomeWriter


def _update(i: int) -> StatusUpdate:
    entry = StatusEntry(InvocationStatus.SUCCESS, time.time(), "r")
    return StatusUpdate(f"inv-{i}", frozenset({InvocationStatus.RUNNING}), entry)


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def record_updates(self, updates: list[StatusUpdate]) -> list[bool]:
        self.batches.append([u.invocation_id for u in updates])
        self.entered.set()
        assert self.release.wait(10)
        return [True] * len(updates)


def test_an_idle_writer_writes_at_once_in_the_calling_thread() -> None:
    recorder = _Recorder()
    writer = OutcomeWriter(recorder)  # type: ignore[arg-type]
    writer.record(_update(1))
    assert recorder.batches == [["inv-1"]]  # written before record() returned
    assert writer.flush(timeout=1)


def test_outcomes_finishing_during_a_write_go_in_one_batch() -> None:
    recorder = _Recorder()
    recorder.release.clear()
    writer = OutcomeWriter(recorder)  # type: ignore[arg-type]
    first = threading.Thread(target=writer.record, args=(_update(0),))
    first.start()
    assert recorder.entered.wait(10)  # the first write is in flight
    for i in range(1, 6):
        writer.record(_update(i))  # queued: returns without writing
    assert not writer.flush(timeout=0.01)
    recorder.release.set()
    first.join(10)
    assert writer.flush(timeout=10)
    assert recorder.batches == [["inv-0"], [f"inv-{i}" for i in range(1, 6)]]


def test_a_failing_write_is_logged_and_the_writer_goes_on(caplog: Any) -> None:
    class Failing(_Recorder):
        def record_updates(self, updates: list[StatusUpdate]) -> list[bool]:
            super().record_updates(updates)
            if len(self.batches) == 1:
                raise StateBackendUnavailableError("backend down")
            return [True] * len(updates)

    recorder = Failing()
    writer = OutcomeWriter(recorder)  # type: ignore[arg-type]
    writer.record(_update(1))
    writer.record(_update(2))
    assert recorder.batches == [["inv-1"], ["inv-2"]]
    assert "Could not record the outcomes of 1 invocations" in caplog.text


def test_an_outcome_the_backend_refuses_is_recorded_as_failed_and_the_others_are_kept() -> None:
    """A result the backend cannot store must not leave its invocation RUNNING (rerouted,
    run and refused again): the batch is retried one by one and that one is FAILED."""

    class Refusing(_Recorder):
        status_update = staticmethod(Orchestrator.status_update)

        def __init__(self) -> None:
            super().__init__()
            self.recorded: dict[str, InvocationStatus] = {}

        def record_updates(self, updates: list[StatusUpdate]) -> list[bool]:
            super().record_updates(updates)
            if any(u.invocation_id == "inv-bad" and u.result is not None for u in updates):
                raise ValueError("cannot store this result")
            for update in updates:
                self.recorded[update.invocation_id] = update.entry.status
            return [True] * len(updates)

    recorder = Refusing()
    recorder.release.clear()
    writer = OutcomeWriter(recorder)  # type: ignore[arg-type]
    first = threading.Thread(target=writer.record, args=(_update(0),))
    first.start()
    assert recorder.entered.wait(10)
    entry = StatusEntry(InvocationStatus.SUCCESS, time.time(), "r")
    writer.record(StatusUpdate("inv-bad", frozenset({InvocationStatus.RUNNING}), entry, result="1"))
    writer.record(_update(2))
    recorder.release.set()
    first.join(10)
    assert writer.flush(timeout=10)
    assert recorder.recorded == {
        "inv-0": InvocationStatus.SUCCESS,
        "inv-2": InvocationStatus.SUCCESS,
        "inv-bad": InvocationStatus.FAILED,
    }
