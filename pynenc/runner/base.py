"""What every runner offers: ``run()`` in the calling thread, ``stop_runner_loop()``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pynenc.identifiers import new_runner_id

if TYPE_CHECKING:
    from pynenc.app import Pynenc

DEFAULT_QUEUE = "default"


class BaseRunner(ABC):
    """Consumes invocations of one app and executes them."""

    def __init__(self, app: Pynenc, queues: list[str] | None = None) -> None:
        self.app = app
        self.runner_id = new_runner_id(type(self).__name__)
        self._queues = queues

    @property
    def queues(self) -> list[str]:
        """Queues consumed: the explicit list, else ``runner.queues``, else every queue
        the app's registered tasks use (always including ``default``)."""
        if self._queues:
            return list(self._queues)
        if self.app.conf.runner.queues:
            return list(self.app.conf.runner.queues)
        used = {task.conf.queue for task in self.app.tasks.values()}
        return sorted(used | {DEFAULT_QUEUE})

    @abstractmethod
    def run(self) -> None:
        """Consume and execute until :meth:`stop_runner_loop` is called (blocks)."""

    @abstractmethod
    def stop_runner_loop(self) -> None:
        """Ask :meth:`run` to stop: no new work is taken, running work finishes."""
