"""Shared fixtures: a clean core app, and a runner started in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from tests.apps import core

pytest_plugins = ["tests.servers"]


@pytest.fixture
def core_app() -> Iterator[Pynenc]:
    """The ``tests.apps.core`` app, purged, in distributed mode."""
    app = core.app
    app.conf.dev_mode_force_sync_tasks = False
    app.purge()
    core.ATTEMPTS.clear()
    yield app
    app.conf.dev_mode_force_sync_tasks = False


@pytest.fixture
def running_app(core_app: Pynenc) -> Iterator[Pynenc]:
    """``core_app`` with its runner consuming in a background thread."""
    thread = threading.Thread(target=core_app.runner.run, daemon=True)
    thread.start()
    try:
        yield core_app
    finally:
        core_app.runner.stop_runner_loop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "runner did not stop"


@pytest.fixture
def sync_app(core_app: Pynenc) -> Iterator[Pynenc]:
    """``core_app`` in dev sync mode."""
    core_app.conf.dev_mode_force_sync_tasks = True
    yield core_app
