"""A thread pool that grows on demand, so waiting tasks never starve new ones.

``ThreadPoolExecutor`` has a fixed ceiling; a runner lends the slot of a task that waits
on another invocation to new work, so it may need more threads than slots for a while.

Waking a parked thread costs more than a short task (a futex wake, on a VM an interrupt
to another CPU, then a fight for the GIL), so the pool wakes as few as keep every job
moving: a job submitted while a thread is already on its way to take one (a *searcher*)
wakes nobody, and a searcher that takes a job while more wait wakes the next one. A
thread that finishes a job takes the next waiting one before it parks. Short jobs thus
run on the threads already awake; long ones each get a thread of their own, one wake
later than the job before them.

A runner shuts its pool down when it stops and may be run again. Each run gets a *crew*
of its own (threads, waiting jobs, counts): a thread of an earlier crew that finishes
its job after the shutdown, or still runs one it was given up on, never counts as idle in
the new crew nor takes a job meant for it. Otherwise a submit could hand a job to a
thread that was about to exit, and the job would never start.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

Job = Callable[[], None]


class JobPool(Protocol):
    """Where a ThreadRunner runs its jobs (a :class:`GrowingPool`; a worker process's
    :class:`~pynenc.runner.main_thread.MainThreadPool`)."""

    def submit(self, job: Job) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


class _Crew:
    """The threads started between two shutdowns, and the jobs waiting for them."""

    __slots__ = ("closed", "idle", "jobs", "searching", "threads", "wake")

    def __init__(self, lock: threading.Lock) -> None:
        self.jobs: deque[Job] = deque()
        #: threads parked on ``wake`` (between two jobs, none waiting)
        self.idle = 0
        #: threads woken or started to take a job, not running one yet: while there is
        #: one, a job submitted needs no other thread
        self.searching = 0
        self.threads: list[threading.Thread] = []
        self.wake = threading.Condition(lock)
        self.closed = False  #: shut down: the threads run what waits, then exit


class GrowingPool:
    """Runs jobs on the threads awake, waking or starting one when none is on its way."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._crew = _Crew(self._lock)
        self._started = 0  #: threads started so far (names them)

    def submit(self, job: Job) -> None:
        with self._lock:
            crew = self._crew
            crew.jobs.append(job)
            if not crew.searching:
                self._add_searcher(crew)

    def _add_searcher(self, crew: _Crew) -> None:
        """Wake a parked thread of ``crew``, or start one, to take a job (lock held)."""
        crew.searching += 1
        if crew.idle:
            crew.idle -= 1
            crew.wake.notify()
            return
        thread = threading.Thread(
            target=self._work, args=(crew,), name=f"{self._name}-{self._started}", daemon=True
        )
        self._started += 1
        crew.threads.append(thread)
        thread.start()

    def _work(self, crew: _Crew) -> None:
        searching = True  # started as a searcher
        while True:
            with self._lock:
                while not crew.jobs:
                    if searching:
                        crew.searching -= 1
                        searching = False
                    if crew.closed:
                        return
                    crew.idle += 1
                    crew.wake.wait()
                    # woken by _add_searcher, which counted it; or by the shutdown (the
                    # counts of a closed crew are not used again): run what waits, or exit
                    searching = not crew.closed
                job = crew.jobs.popleft()
                if searching:
                    crew.searching -= 1
                    searching = False
                if crew.jobs and not crew.searching and not crew.closed:
                    self._add_searcher(crew)  # more wait: the next thread, one at a time
            job()

    def shutdown(self, wait: bool = True) -> None:
        """Stop every thread once the jobs handed to it are done; ``wait`` joins them.
        The pool can be used again: later jobs go to new threads.

        Without ``wait``, threads still running a job finish it in the background (they are
        daemons: they don't keep the process alive).
        """
        with self._lock:
            crew, self._crew = self._crew, _Crew(self._lock)
            crew.closed = True
            crew.wake.notify_all()
        if wait:
            for thread in crew.threads:
                thread.join()
