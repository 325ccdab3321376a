"""Shared fixtures: a clean core app, and a runner started in a thread."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from pynenc.testing import sync_mode
from tests.apps import core

pytest_plugins = ["tests.servers", "tests.parallel"]


@pytest.fixture(scope="module", autouse=True)
def root_log_level_restored() -> Iterator[None]:
    """The root logger's level put back after each test module: a real Celery worker
    (``celery.contrib.testing.worker.start_worker``) sets it to ERROR for the whole process,
    and the modules run after it in that process (any that xdist sends the same worker)
    would miss the warnings their tests watch for."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


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
    with core_app.running_in_background(stop_timeout=30):
        yield core_app


@pytest.fixture
def sync_app(core_app: Pynenc) -> Iterator[Pynenc]:
    """``core_app`` in dev sync mode."""
    with sync_mode(core_app):
        yield core_app
