"""What one benchmark run measures and how hard: systems, transports, scenarios, sizes, limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SYSTEMS = ("pynenc", "celery", "kombu", "compat", "dramatiq")
TRANSPORTS = ("embedded", "sqlite", "redis", "rabbitmq")
SCENARIOS = ("throughput", "roundtrip", "parallel", "sync", "chord", "chain")
#: what ``python -m bench`` measures when ``--scenarios`` is not given
DEFAULT_SCENARIOS = SCENARIOS
#: composition (``pynenc.chord``/``chain``, Celery's canvas): measured by systems that have it
CANVAS_SCENARIOS = ("chord", "chain")
#: ``--scenarios`` names that stand for several scenarios
SCENARIO_GROUPS: dict[str, tuple[str, ...]] = {"canvas": CANVAS_SCENARIOS}
#: scenarios that run on a transport; ``sync`` runs once, in this process
DISTRIBUTED_SCENARIOS = ("throughput", "roundtrip", "parallel", *CANVAS_SCENARIOS)

#: which systems can run on which transport (pynenc alone has embedded and sqlite modes;
#: ``compat`` is pynenc_celery_compat: Celery's calling API on a pynenc runner; dramatiq runs
#: on its Redis and RabbitMQ brokers, with its Redis result backend)
SUPPORTED: dict[str, tuple[str, ...]] = {
    "embedded": ("pynenc", "kombu"),
    "sqlite": ("pynenc", "kombu"),
    "redis": ("pynenc", "celery", "kombu", "compat", "dramatiq"),
    "rabbitmq": ("pynenc", "celery", "kombu", "compat", "dramatiq"),
}

#: worker slots of the pynenc runner, the Celery worker and the dramatiq worker (threads)
WORKER_THREADS = 8


@dataclass(frozen=True)
class Settings:
    """Sizes and limits of one run; stored whole in the JSON report."""

    systems: tuple[str, ...] = SYSTEMS
    transports: tuple[str, ...] = TRANSPORTS
    scenarios: tuple[str, ...] = SCENARIOS
    #: tasks per throughput and parallel measurement
    n: int = 2000
    #: sequential round trips per roundtrip measurement
    roundtrips: int = 500
    #: calls per sync-mode measurement
    sync_calls: int = 10_000
    #: no-op members in the header of the chord scenario (its body sums their results)
    chord_size: int = 1000
    #: steps of the chain scenario (each adds 1 to the previous step's result)
    chain_length: int = 100
    #: interleaved rounds; every figure is the median over them
    rounds: int = 3
    #: upper bound of one measurement (a hung system is reported as "timeout")
    scenario_timeout: float = 120.0
    #: upper bound of starting one worker (readiness is one task's round trip)
    start_timeout: float = 60.0
    #: SIGTERM, then SIGKILL after this many seconds
    stop_grace: float = 10.0
    quick: bool = False
    json_path: str = "bench/results/latest.json"
    extra: dict[str, Any] = field(default_factory=dict)

    def size(self, scenario: str) -> int:
        """How many calls one measurement of ``scenario`` makes."""
        sizes = {
            "roundtrip": self.roundtrips,
            "chord": self.chord_size,
            "chain": self.chain_length,
        }
        return sizes.get(scenario, self.n)

    @property
    def warmup(self) -> int:
        """Tasks run once per system and transport before measuring (not recorded)."""
        return min(50, self.n)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quick_settings(**overrides: Any) -> Settings:
    """A smoke run: one round of small sizes, meant to finish in about two minutes."""
    values: dict[str, Any] = {
        "n": 200,
        "roundtrips": 100,
        "sync_calls": 2000,
        "chord_size": 200,
        "chain_length": 20,
        "rounds": 1,
        "scenario_timeout": 60.0,
        "start_timeout": 45.0,
        "stop_grace": 5.0,
        "quick": True,
    }
    values.update(overrides)
    return Settings(**values)
