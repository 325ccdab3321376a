"""The app of a trigger unit test on the memory backend, afresh for each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pynenc import Pynenc


@contextmanager
def on_memory(app: Pynenc, clock: Callable[[], float] | None = None) -> Iterator[Pynenc]:
    """``app`` on an empty memory backend (runners off sync mode), its trigger pass
    reloading what is stored; ``clock``: the trigger pass's time. Purged afterwards."""
    app.reset_components()
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.conf.dev_mode_force_sync_tasks = False
    if clock is not None:
        app.trigger.clock = clock
    app.trigger.lease_lost()
    app.purge()
    try:
        yield app
    finally:
        app.purge()
        app.reset_components()
