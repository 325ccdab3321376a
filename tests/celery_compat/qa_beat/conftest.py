"""Fixtures of the beat QA tests: a shop's Celery project on migration day.

``celery_project/shop`` is the project as the team runs it on Celery 5.7 (Django-style
settings read with ``config_from_object(..., namespace="CELERY")``, a ``beat_schedule`` of
crontabs and intervals, ``add_periodic_task`` in an ``on_after_configure`` handler);
``pynenc_project/shop`` is the same text with the import lines switched
(``test_qa_beat_project.py`` checks that nothing else differs). Both are the top-level
package ``shop``: the test process imports the migrated one, Celery's side runs in
processes of their own (:func:`celery_side`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from celery import _state as celery_state

from pynenc.trigger import firing
from pynenc_celery_compat import beat_install, config, routing
from tests.celery_compat.sidebyside.conftest import process_state_restored
from tests.servers import Server

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
CELERY_PROJECT = HERE / "celery_project"
PYNENC_PROJECT = HERE / "pynenc_project"
ZONE = ZoneInfo("Europe/Madrid")
#: how long a test waits for anything a process does (a loaded 2-core machine)
WAIT = 90.0


def at(*fields: int) -> float:
    """A wall-clock time in the shop's zone (``at(2024, 5, 17, 7, 30)``), in epoch seconds."""
    return dt.datetime(*fields, tzinfo=ZONE).timestamp()  # type: ignore[misc]


def shown(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, ZONE).strftime("%a %Y-%m-%d %H:%M:%S")


def project_env(project: Path, url: str, **more: str) -> dict[str, str]:
    """The environment of a process running ``project`` on the Redis ``url``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(project), str(ROOT)]),
        "SHOP_REDIS_URL": url,
        "PYTHONUNBUFFERED": "1",
        **more,
    }


def celery_side(
    timeline: list[float],
    url: str = "redis://127.0.0.1:1/0",
    schedulers: int = 1,
    send: bool = False,
    conf: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What Celery 5.7's beat sends for the original project along ``timeline`` (with the
    settings ``conf`` changed)."""
    request = json.dumps(
        {"timeline": timeline, "schedulers": schedulers, "send": send, "conf": conf or {}}
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.celery_compat.qa_beat.beat_driver"],
        input=request,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=project_env(CELERY_PROJECT, url),
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sent: list[dict[str, Any]] = json.loads(done.stdout)
    return sent


@pytest.fixture(scope="package", autouse=True)
def project_forgotten() -> Iterator[None]:
    """Forget the project once this package's tests are done: its modules, and the shared
    tasks it declared (Celery adds them to every app finalized later, whose worker
    processes would then be told to import ``shop`` modules they cannot find)."""
    finalizers = set(celery_state._on_app_finalizers)
    try:
        yield
    finally:
        celery_state._on_app_finalizers.intersection_update(finalizers)
        for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
            del sys.modules[name]


@pytest.fixture
def shop(redis_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The migrated project's ``shop.celery`` module, its app on a fresh Redis database."""
    monkeypatch.syspath_prepend(str(PYNENC_PROJECT))
    monkeypatch.setattr(config, "_warned", set())
    with process_state_restored():
        import shop.celery

        app = shop.celery.app
        app.set_current()  # as in the project's processes (its shared tasks call through it)
        url = redis_server.db_url()
        saved = {key: app.conf.get(key) for key in ("broker_url", "result_backend")}
        app.conf.update(broker_url=url, result_backend=url)
        try:
            yield shop.celery
        finally:
            app.conf.update(saved)
            app.conf.pop("pynenc_celery_tasks", None)
            routing.reload()


class Fired:
    """The trigger pass of the migrated app run along a timeline, noting each firing."""

    def __init__(self, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app, self.pynenc = app, app.pynenc
        self.now = 0.0
        self.pynenc.trigger.clock = lambda: self.now
        self.fired: list[dict[str, Any]] = []
        real = firing.fire

        def noting(pynenc: Any, definition: Any, occurrences: Any, *rest: Any) -> tuple[str, bool]:
            invocation_id, new = real(pynenc, definition, occurrences, *rest)
            if new:
                self.fired.append(
                    {"at": self.now, "trigger": definition.trigger_id, "id": invocation_id}
                )
            return invocation_id, new

        monkeypatch.setattr(firing, "fire", noting)
        app.loader.import_default_modules()  # as a worker does before it reads the schedule
        self.entries = beat_install.install(app, self.pynenc)
        self.names: dict[str, list[str]] = {}
        for name, trigger_id in beat_install.trigger_ids(self.pynenc).items():
            self.names.setdefault(trigger_id, []).append(name)

    def run(self, timeline: list[float]) -> list[dict[str, Any]]:
        """Run a pass at each moment; the new firings, one per entry name."""
        start = len(self.fired)
        for moment in timeline:
            self.now = moment
            self.pynenc.trigger.run_pass()
        found = []
        for fire in self.fired[start:]:
            for name in self.names[fire["trigger"]]:
                found.append({**fire, "entry": name})
        return found

    def record(self, invocation_id: str) -> Any:
        (found,) = self.pynenc.state_backend.get_many([invocation_id])
        return found


@pytest.fixture
def runs_redis(redis_server: Server) -> Iterator[redis.Redis]:
    """A client of a fresh Redis database (the tasks' audit list goes there)."""
    client = redis.Redis.from_url(redis_server.db_url(), socket_timeout=WAIT + 30)
    yield client
    client.close()
