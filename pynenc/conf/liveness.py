"""The rule tying ``runner.dead_after`` to ``runner.heartbeat_interval``.

Recovery declares a runner dead when its last heartbeat is older than ``dead_after``. A live
runner's heartbeat is late by up to one interval plus the time its write takes (a busy
machine, a slow backend), and the runner holding the services lease looks only once per
interval too. With ``dead_after`` below the interval, two live runners declare each other
dead on every pass and every running invocation runs again. Three intervals let a live
runner miss two beats in a row before anyone takes its work.
"""

from __future__ import annotations

from typing import Protocol

from pynenc.exceptions import ConfigError

#: ``dead_after`` must be at least this many heartbeat intervals.
MIN_DEAD_AFTER_RATIO = 3


class _Sources(Protocol):
    def source_of(self, name: str) -> str: ...


def check_liveness(
    sources: _Sources,
    heartbeat_interval: float,
    dead_after: float,
    assigned: frozenset[str] = frozenset(),
) -> None:
    """Refuse a ``dead_after`` shorter than ``MIN_DEAD_AFTER_RATIO`` heartbeat intervals.

    :param sources: where the current values came from (``source_of``).
    :param assigned: names being assigned now (their source is the assignment).
    :raises ConfigError: naming both options with their values, sources and what to set.
    """
    if dead_after >= MIN_DEAD_AFTER_RATIO * heartbeat_interval:
        return

    def origin(name: str) -> str:
        return "assignment" if name in assigned else sources.source_of(name)

    raise ConfigError(
        f"runner.dead_after = {dead_after} (from {origin('dead_after')}) must be at least "
        f"{MIN_DEAD_AFTER_RATIO} times runner.heartbeat_interval = {heartbeat_interval} "
        f"(from {origin('heartbeat_interval')}); otherwise live runners are declared dead "
        f"between two heartbeats and their work runs twice. Set runner.dead_after >= "
        f"{MIN_DEAD_AFTER_RATIO * heartbeat_interval:g} or runner.heartbeat_interval <= "
        f"{dead_after / MIN_DEAD_AFTER_RATIO:.4g} (to change both at once, use "
        "conf.runner.update(heartbeat_interval=..., dead_after=...))."
    )
