"""GrowingPool: every job submitted starts, also after a shutdown (a runner run again)."""

from __future__ import annotations

import threading

from pynenc.runner.pool import GrowingPool

WAIT = 10.0  #: generous: a job starts in microseconds


def _blocking_job(
    pool: GrowingPool,
) -> tuple[threading.Event, threading.Event, list[threading.Thread]]:
    """Submit a job that blocks: (started, release, [its thread once started])."""
    started, release = threading.Event(), threading.Event()
    thread: list[threading.Thread] = []

    def job() -> None:
        thread.append(threading.current_thread())
        started.set()
        release.wait(6 * WAIT)  # longer than any wait of the tests: they release it

    pool.submit(job)
    assert started.wait(WAIT)
    return started, release, thread


def test_jobs_run_on_new_threads_when_none_is_idle() -> None:
    pool = GrowingPool("test")
    _, release, first = _blocking_job(pool)
    ran = threading.Event()
    pool.submit(ran.set)
    assert ran.wait(WAIT)  # a second thread: the first is still busy
    release.set()
    pool.shutdown()
    assert not first[0].is_alive()


def test_an_idle_thread_takes_the_next_job() -> None:
    pool = GrowingPool("test")
    names: list[str] = []
    done = threading.Event()

    def job() -> None:
        names.append(threading.current_thread().name)
        done.set()

    for _ in range(3):
        done.clear()
        pool.submit(job)
        assert done.wait(WAIT)
    pool.shutdown()
    assert len(names) == 3


def test_a_thread_finishing_after_a_shutdown_is_not_counted_idle_by_the_next_run() -> None:
    # the race a ThreadRunner hit when run again: a thread still finishing its job when
    # the pool was shut down counted itself idle afterwards, then exited; the next submit
    # was handed to it and never started
    pool = GrowingPool("test")
    _, release, old = _blocking_job(pool)
    pool.shutdown(wait=False)
    release.set()
    old[0].join(WAIT)
    assert not old[0].is_alive()
    ran = threading.Event()
    pool.submit(ran.set)
    assert ran.wait(WAIT), "a job submitted after the shutdown never started"
    pool.shutdown()


def test_a_thread_still_running_after_a_shutdown_does_not_hold_back_new_jobs() -> None:
    # the stop sentinel sent to the old thread must not stop the new run's thread
    pool = GrowingPool("test")
    _, release, old = _blocking_job(pool)
    pool.shutdown(wait=False)
    try:
        for _ in range(3):
            ran = threading.Event()
            pool.submit(ran.set)
            assert ran.wait(WAIT), "a job waited for a thread of the previous run"
        assert old[0].is_alive()
    finally:
        release.set()
    pool.shutdown()
    old[0].join(WAIT)
    assert not old[0].is_alive()


def test_shutdown_joins_idle_threads() -> None:
    pool = GrowingPool("test")
    threads: list[threading.Thread] = []
    done = threading.Event()

    def job() -> None:
        threads.append(threading.current_thread())
        done.set()

    pool.submit(job)
    assert done.wait(WAIT)
    pool.shutdown(wait=True)
    assert not threads[0].is_alive()
