"""Fixtures of the canvas tests: the compat app of :mod:`canvas_tasks` with a real pynenc
runner, on the in-memory backends or on Redis (a fresh database).

``canvas`` is module-scoped and parametrised over the backends: one runner per backend for
each test module. The Redis case needs the Redis state backend to settle composition
links (``pynenc/state_backend/redis_links.py``); it is skipped until that has landed.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.celery_compat import canvas_tasks as tasks

#: how long a test waits for anything a runner does (a loaded 2-core machine)
WAIT = 60.0

REDIS_LINKS = importlib.util.find_spec("pynenc.state_backend.redis_links") is not None
BACKENDS = [
    "memory",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not REDIS_LINKS, reason="the Redis state backend settles no links yet"
        ),
    ),
]


@contextmanager
def configured(url: str | None, runner_cls: str | None = None) -> Iterator[Any]:
    """The tasks' pynenc app on ``url`` (``None``: in memory), its settings put back after."""
    app = tasks.pynenc_app
    conf = app.conf
    saved = (conf.broker_url, conf.state_backend_url, conf.runner_cls, app.reference)
    app.reset_components()
    if url is not None:
        conf.broker_url = url
        conf.state_backend_url = url
    if runner_cls is not None:
        conf.runner_cls = runner_cls
        app.reference = "tests.celery_compat.canvas_tasks:pynenc_app"
    try:
        yield app
    finally:
        app.reset_components()
        conf.broker_url, conf.state_backend_url, conf.runner_cls = saved[:3]
        app.reference = saved[3]


@contextmanager
def notes_in(folder: Path) -> Iterator[None]:
    previous = os.environ.get(tasks.NOTES)
    os.environ[tasks.NOTES] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(tasks.NOTES, None)
        else:
            os.environ[tasks.NOTES] = previous


@pytest.fixture(name="canvas", scope="module", params=BACKENDS)
def canvas_runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """:mod:`canvas_tasks` with a pynenc thread runner consuming its queue."""
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").db_url()
    with (
        notes_in(tmp_path_factory.mktemp("notes")),
        configured(url) as app,
        app.running_in_background(stop_timeout=WAIT),
    ):
        yield tasks
