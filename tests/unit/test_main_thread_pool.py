"""A one-slot worker process's jobs in its main thread (``pynenc.runner.main_thread``), and
the soft-limit signal leaving the runner's own bookkeeping alone (``shielded`` code)."""

from __future__ import annotations

import threading
import time

import pytest

from pynenc import SoftTimeoutExceeded
from pynenc.attempt import Attempt
from pynenc.runner.main_thread import MainThreadPool, run_on_main_thread
from pynenc.runner.soft_limit import soft_limit_signal

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="runs jobs in the main thread",
)


def _in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def _main() -> bool:
    return threading.current_thread() is threading.main_thread()


def test_jobs_run_in_the_main_thread_and_overflow_while_it_is_busy() -> None:
    pool = MainThreadPool("t")
    ran: list[tuple[str, bool]] = []
    second_done = threading.Event()

    def first() -> None:
        ran.append(("first", _main()))
        pool.submit(second)  # the main thread is busy: another thread runs it
        assert second_done.wait(30)

    def second() -> None:
        ran.append(("second", _main()))
        second_done.set()

    def feed() -> None:
        pool.submit(first)
        assert second_done.wait(30)
        deadline = time.monotonic() + 30
        while pool.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        pool.submit(lambda: ran.append(("third", _main())))
        pool.shutdown(wait=True)  # after the job handed over, serve() returns

    feeder = _in_thread(feed)
    pool.serve()
    feeder.join(30)
    assert ran == [("first", True), ("second", False), ("third", True)]


def test_a_closed_pool_sends_jobs_elsewhere_and_reports_a_busy_main_thread() -> None:
    pool = MainThreadPool("t")
    assert pool.close() is True  # idle
    pool.serve()  # closed: returns at once
    where: list[bool] = []
    done = threading.Event()

    def job() -> None:
        where.append(_main())
        done.set()

    pool.submit(job)
    assert done.wait(30) and where == [False]


def test_the_consumer_is_told_when_the_main_thread_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runner stops while the main thread runs a job it gave up on: the process exits
    (here: the exit is recorded and the job released)."""
    exits: list[int] = []
    started, release = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(30)

    class Runner:
        runner_id = "r"

        def __init__(self, pool: MainThreadPool) -> None:
            self.pool = pool

        def run(self) -> None:
            self.pool.submit(stuck)
            assert started.wait(30)

    def fake_exit(runner: object, code: int) -> None:
        exits.append(code)
        release.set()

    monkeypatch.setattr("pynenc.runner.main_thread._exit_now", fake_exit)
    pool = MainThreadPool("t")
    run_on_main_thread(Runner(pool), pool, lambda: 75)  # type: ignore[arg-type]
    assert exits == [75]


def test_what_the_runner_raises_is_raised_in_the_main_thread() -> None:
    class Runner:
        runner_id = "r"

        def run(self) -> None:
            raise RuntimeError("preflight failed")

    pool = MainThreadPool("t")
    with pytest.raises(RuntimeError, match="preflight failed"):
        run_on_main_thread(Runner(), pool, lambda: 0)  # type: ignore[arg-type]


def _bookkeeping(log: list[str]) -> None:
    time.sleep(0.3)  # the signal comes meanwhile: it must not raise here
    log.append("bookkeeping done")


def _body(log: list[str]) -> str:
    try:
        _bookkeeping(log)
        time.sleep(10)
    except SoftTimeoutExceeded:
        log.append("caught in the body")
        return "cleaned up"
    return "slept"


def test_the_soft_limit_signal_waits_for_shielded_code_to_return() -> None:
    log: list[str] = []
    attempt = Attempt("inv", "mod.task", soft_timeout=0.05)
    shielded = frozenset({_bookkeeping.__code__})
    began = time.monotonic()
    with soft_limit_signal(attempt, _body, shielded):
        assert _body(log) == "cleaned up"
    assert log == ["bookkeeping done", "caught in the body"]
    assert time.monotonic() - began < 5


def test_lending_a_slot_is_shielded() -> None:
    from pynenc.runner.thread import _SHIELDED, ThreadRunner

    assert ThreadRunner._lend_slot.__wrapped__.__code__ in _SHIELDED  # type: ignore[attr-defined]
