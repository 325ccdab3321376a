"""A thread pool that grows on demand, so waiting tasks never starve new ones.

``ThreadPoolExecutor`` has a fixed ceiling; a runner lends the slot of a task that waits
on another invocation to new work, so it may need more threads than slots for a while.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Protocol

Job = Callable[[], None]


class JobPool(Protocol):
    """Where a ThreadRunner runs its jobs (a :class:`GrowingPool`; a worker process's
    :class:`~pynenc.runner.main_thread.MainThreadPool`)."""

    def submit(self, job: Job) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


class GrowingPool:
    """Runs jobs on idle threads, starting a new thread when none is idle."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True) -> None:
        """Stop every thread once its job is done; ``wait`` joins them.

        Without ``wait``, threads still running a job finish it in the background (they are
        daemons: they don't keep the process alive).
        """
        with self._lock:
            threads, self._threads = self._threads, []
            self._idle = 0
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()
