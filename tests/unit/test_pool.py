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


def test_a_burst_of_long_jobs_gets_a_thread_each() -> None:
    # a job submitted while a thread is on its way wakes nobody: the thread that takes a
    # job while more wait wakes the next one, so none waits behind a job that blocks
    pool = GrowingPool("test")
    release = threading.Event()
    started = [threading.Event() for _ in range(5)]
    for event in started:
        pool.submit(lambda event=event: (event.set(), release.wait(6 * WAIT)))  # type: ignore[misc]
    try:
        for event in started:
            assert event.wait(WAIT), "a job waited behind one that blocks"
    finally:
        release.set()
    pool.shutdown()


def test_a_burst_of_short_jobs_runs_on_the_threads_awake() -> None:
    # a thread per job costs a wake each (more than a short job): the thread awake takes
    # the next job before anyone else is woken or started
    pool = GrowingPool("test")
    ran: list[int] = []
    done = threading.Event()
    for i in range(50):
        pool.submit(lambda i=i: ran.append(i))
    pool.submit(done.set)
    assert done.wait(WAIT)
    pool.shutdown()
    assert sorted(ran) == list(range(50))
    assert pool._started <= 25, f"{pool._started} threads for 51 short jobs"


def test_jobs_handed_over_before_a_shutdown_still_run() -> None:
    pool = GrowingPool("test")
    _, release, old = _blocking_job(pool)
    ran = threading.Event()
    with pool._lock:  # the job waits in the crew: no thread may take it before the shutdown
        pool._crew.jobs.append(ran.set)
    pool.shutdown(wait=False)
    release.set()
    assert ran.wait(WAIT), "a job handed over before the shutdown was dropped"
    old[0].join(WAIT)
    assert not old[0].is_alive()
