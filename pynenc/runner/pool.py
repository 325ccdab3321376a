"""A thread pool that grows on demand, so waiting tasks never starve new ones.

``ThreadPoolExecutor`` has a fixed ceiling; a runner lends the slot of a task that waits
on another invocation to new work, so it may need more threads than slots for a while.

A runner shuts its pool down when it stops and may be run again. Each run gets a *crew*
of its own (threads, job queue, idle count): a thread of an earlier crew that finishes
its job after the shutdown, or still runs one it was given up on, never counts as idle in
the new crew nor takes a job or a stop sentinel meant for it. Otherwise a submit could
hand a job to a thread that was about to exit, and the job would never start.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Job = Callable[[], None]


class _Crew:
    """The threads started between two shutdowns, and the jobs handed to them."""

    __slots__ = ("idle", "jobs", "threads")

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        #: threads of this crew between two jobs: each takes one job from ``jobs`` next
        self.idle = 0
        self.threads: list[threading.Thread] = []


class GrowingPool:
    """Runs jobs on idle threads, starting a new thread when none is idle."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._crew = _Crew()
        self._started = 0  #: threads started so far (names them)

    def submit(self, job: Job) -> None:
        with self._lock:
            crew = self._crew
            if crew.idle:
                crew.idle -= 1
            else:
                thread = threading.Thread(
                    target=self._work,
                    args=(crew,),
                    name=f"{self._name}-{self._started}",
                    daemon=True,
                )
                self._started += 1
                crew.threads.append(thread)
                thread.start()
            crew.jobs.put(job)

    def _work(self, crew: _Crew) -> None:
        while True:
            job = crew.jobs.get()
            if job is None:
                return
            job()
            with self._lock:
                if crew is not self._crew:
                    return  # shut down while it ran: no new job may count on this thread
                crew.idle += 1

    def shutdown(self, wait: bool = True) -> None:
        """Stop every thread once its job is done; ``wait`` joins them. The pool can be
        used again: later jobs go to new threads.

        Without ``wait``, threads still running a job finish it in the background (they are
        daemons: they don't keep the process alive).
        """
        with self._lock:
            crew, self._crew = self._crew, _Crew()
        for _ in crew.threads:
            crew.jobs.put(None)
        if wait:
            for thread in crew.threads:
                thread.join()
