"""What every measured system offers, and the transport it runs on."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bench.measure import Lane, Metrics, Unavailable
from bench.settings import CANVAS_SCENARIOS, DISTRIBUTED_SCENARIOS, Settings


@dataclass(frozen=True)
class Transport:
    """Where messages and results go for one block of measurements.

    :param name: ``embedded``, ``sqlite``, ``redis`` or ``rabbitmq``.
    :param broker_url: the message transport (a kombu URL, or pynenc's sqlite URL).
    :param state_url: where results/state live (Redis on server transports).
    :param redis_url: the Redis server, when there is one (to count commands per task).
    :param workdir: a private directory for logs and files of this block.
    """

    name: str
    broker_url: str
    state_url: str
    redis_url: str | None
    workdir: Path


class System(ABC):
    """A task system (or raw kombu) set up on one transport, measured by scenario.

    Scenario methods run on the system's :class:`Lane` (one thread, reused) and take a
    ``deadline`` (a ``time.monotonic()`` value) to bound every wait they can bound.
    """

    name: ClassVar[str]
    #: the distributed scenarios this system can run (others are not measured for it)
    scenarios: ClassVar[tuple[str, ...]] = DISTRIBUTED_SCENARIOS

    def __init__(self, transport: Transport, settings: Settings) -> None:
        self.transport = transport
        self.settings = settings
        self.lane = Lane(f"bench-{self.name}-{transport.name}")
        #: set when the system failed and could not be restarted; later measurements skip
        self.broken: str | None = None
        #: scenarios found unavailable on this system (reported once, then skipped)
        self.missing: set[str] = set()

    @property
    def label(self) -> str:
        return f"{self.name} on {self.transport.name}"

    @abstractmethod
    def start(self) -> None:
        """Start workers and wait until one task has gone through the whole system.

        :raises Unavailable: the system cannot run on this transport (yet), with the reason.
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop workers and release connections; safe to call twice."""

    def reset(self) -> None:  # noqa: B027 - most systems have nothing to clear
        """Drop what a previous measurement may have left (called before each one)."""

    @abstractmethod
    def throughput(self, n: int, deadline: float) -> Metrics:
        """Enqueue ``n`` no-op tasks, then wait for every result."""

    @abstractmethod
    def roundtrip(self, n: int, deadline: float) -> Metrics:
        """``n`` sequential calls of a tiny task, each waited for; latency percentiles."""

    @abstractmethod
    def parallel(self, n: int, deadline: float) -> Metrics:
        """One fan-out of ``n`` calls (parallelize / group), waited for as a whole."""

    def chord(self, n: int, deadline: float) -> Metrics:
        """A chord of ``n`` no-op members whose body sums their results, waited for."""
        raise Unavailable(f"{self.name} has no chord")

    def chain(self, n: int, deadline: float) -> Metrics:
        """A chain of ``n`` steps, each adding 1 to the previous result, waited for."""
        raise Unavailable(f"{self.name} has no chain")

    def warm_up(self) -> None:
        """Run a few tasks through every path so imports and connections are made."""
        deadline = time.monotonic() + self.settings.scenario_timeout
        self.throughput(self.settings.warmup, deadline)
        self.roundtrip(10, deadline)
        self.parallel(self.settings.warmup, deadline)
        self.warm_up_canvas(deadline)

    def warm_up_canvas(self, deadline: float) -> None:
        """A small chord and chain, when they are to be measured (a system that cannot run
        them says so when they are measured)."""
        for scenario in CANVAS_SCENARIOS:
            if scenario in self.settings.scenarios and scenario in self.scenarios:
                with contextlib.suppress(Unavailable):
                    getattr(self, scenario)(min(self.settings.size(scenario), 20), deadline)
