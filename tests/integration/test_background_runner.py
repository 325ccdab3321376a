"""``app.running_in_background()``: a runner in a thread for scripts and tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc import BackgroundRunner, Pynenc, ThreadRunner
from pynenc.exceptions import RunnerError
from pynenc.runner.process import ProcessRunner
from tests.apps import core
from tests.integration.deployments import wait_until


@pytest.fixture(autouse=True)
def open_gates() -> Iterator[None]:
    core.GATES.clear()
    core.STARTED.clear()
    yield
    for gate in core.GATES.values():
        gate.set()


def test_runs_invocations_and_stops_on_exit(core_app: Pynenc) -> None:
    background = core_app.running_in_background()
    with background as runner:
        assert runner is core_app.runner
        assert runner.consuming.is_set()  # consuming when the block starts, not later
        assert core.add(1, 2).result == 3
        thread = background.thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
    assert not runner.consuming.is_set()


def test_an_exception_in_the_block_still_stops_the_runner(core_app: Pynenc) -> None:
    background = core_app.running_in_background()
    with pytest.raises(ZeroDivisionError), background:
        assert core.add(2, 2).result == 4
        raise ZeroDivisionError
    assert background.thread is not None and not background.thread.is_alive()


def test_the_runner_can_run_again_after_a_block(core_app: Pynenc) -> None:
    background = core_app.running_in_background()
    with background:
        assert core.add(1, 1).result == 2
    with background:  # the same object, entered again
        assert core.add(2, 1).result == 3
    with core_app.running_in_background():
        assert core.add(3, 1).result == 4


def test_entering_while_it_runs_is_refused(core_app: Pynenc) -> None:
    with core_app.running_in_background() as runner:
        refused = pytest.raises(RunnerError, match=f"{runner.runner_id}.*already running")
        with refused, core_app.running_in_background():
            pass  # pragma: no cover
        assert core.add(1, 2).result == 3  # the first one is unharmed


def test_a_runner_that_cannot_start_raises_at_once(core_app: Pynenc) -> None:
    runner = ProcessRunner(core_app)  # needs cross-process backends; core_app is memory://
    with pytest.raises(RunnerError, match="failed to start") as info, BackgroundRunner(runner):
        pass  # pragma: no cover
    assert "cross-process" in str(info.value.__cause__)
    # not left marked as running: it can be tried again
    with pytest.raises(RunnerError, match="failed to start"), BackgroundRunner(runner):
        pass  # pragma: no cover


class _CrashingRunner(ThreadRunner):
    def claim(self, deliveries: Any) -> Any:
        raise RuntimeError("claim exploded")


def test_a_runner_that_crashes_is_reported_on_exit(core_app: Pynenc) -> None:
    runner = _CrashingRunner(core_app)
    with pytest.raises(RunnerError, match="crashed") as info, BackgroundRunner(runner):
        wait_until(lambda: not runner.consuming.is_set(), 30, "the crash")
    assert "claim exploded" in str(info.value.__cause__)


def test_a_runner_that_does_not_stop_in_time_raises(core_app: Pynenc) -> None:
    grace = core_app.conf.runner.stop_grace
    core_app.conf.runner.stop_grace = 60  # the running task may take all that
    try:
        background = core_app.running_in_background(stop_timeout=0.5)
        with pytest.raises(RunnerError, match=r"did not stop within 0\.5 s"), background:
            core.wait_gate("stuck")
            core.STARTED.setdefault("stuck", threading.Event()).wait(30)
        core.GATES.setdefault("stuck", threading.Event()).set()
        assert background.thread is not None
        background.thread.join(30)
        assert not background.thread.is_alive()
    finally:
        core_app.conf.runner.stop_grace = grace
