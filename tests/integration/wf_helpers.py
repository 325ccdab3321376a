"""Deployments of ``tests.apps.wf_pause`` for the workflow tests: memory:// with the
app's ThreadRunner in this process, or SQLite / Redis with a CLI runner in its own process.

A :class:`Deployed` can stop its runner and start a new one (a restart) while the
workflows it ran stay in the state backend; :func:`footprint` counts what a workflow
keeps there, on each backend, for the storage bounds of continue-as-new.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pynenc import Pynenc
from pynenc.runner.background import BackgroundRunner
from tests.apps import wf_pause
from tests.integration.deployments import Deployment, RunnerProcess
from tests.servers import Server

APP = "tests.apps.wf_pause:app"
#: (backend, runner): a runner in this process on memory://, runner processes on the two
#: backends processes share (a process runner: each attempt in a child process)
DEPLOYMENTS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]
#: generous on a loaded 2-core machine: a lost workflow waits forever
WAIT = 60.0
#: the value namespaces of the workflow layer
WF_NAMESPACES = ("wf-journal", "wf-state", "wf-data", "wf-run")


@dataclass
class Deployed:
    """``tests.apps.wf_pause`` on ``kind`` with a runner of ``slots`` slots consuming."""

    kind: str
    runner_cls: str
    workdir: Path
    slots: int
    app: Pynenc = field(default=wf_pause.app, init=False)
    deployment: Deployment | None = field(default=None, init=False)
    _process: RunnerProcess | None = field(default=None, init=False)
    _background: BackgroundRunner | None = field(default=None, init=False)
    _starts: int = field(default=0, init=False)

    def start(self) -> None:
        self._starts += 1
        if self.deployment is None:
            self._background = self.app.running_in_background(stop_timeout=WAIT)
            self._background.__enter__()
            return
        args = ("--threads", str(self.slots), "--processes", str(self.slots))
        log = self.workdir / f"runner-{self._starts}.log"
        self._process = RunnerProcess(self.deployment, self.runner_cls, *args, log=log, app_ref=APP)
        self._process.start()

    def stop(self) -> None:
        if self._background is not None:
            background, self._background = self._background, None
            background.__exit__(None, None, None)
        if self._process is not None:
            process, self._process = self._process, None
            code = process.stop()
            assert code == 0, process.log_tail()

    def restart(self) -> None:
        """Stop the runner (gracefully) and start a new one."""
        self.stop_for_good()
        self.start()

    def stop_for_good(self) -> None:
        """Stop the runner; the next :meth:`start` starts a new one (on memory://, a new
        runner object: the app forgets the stopped one)."""
        self.stop()
        self.app.__dict__.pop("runner", None)

    def log_tail(self) -> str:
        return self._process.log_tail() if self._process is not None else ""


@contextmanager
def deployed(
    kind: str, runner_cls: str, workdir: Path, request: pytest.FixtureRequest, slots: int
) -> Iterator[Deployed]:
    """A :class:`Deployed` with its runner started; stopped and forgotten on exit."""
    found = Deployed(kind, runner_cls, workdir, slots)
    app = found.app
    app.reset_components()
    app.conf.dev_mode_force_sync_tasks = False
    if kind == "memory":
        app.conf.broker_url = "memory://"
        app.conf.state_backend_url = "memory://"
        app.conf.runner.threads = slots
    else:
        if kind == "sqlite":
            dep = Deployment(kind, f"sqlite:///{workdir}/b.db", f"sqlite:///{workdir}/s.db")
        else:
            redis: Server = request.getfixturevalue("redis_server")
            dep = Deployment(kind, redis.db_url(), redis.db_url())
        dep.configure(app)
        found.deployment = dep
    app.purge()
    found.start()
    try:
        yield found
    finally:
        found.stop()
        app.reset_components()


def footprint(deployed: Deployed, workflow_id: str) -> dict[str, int]:
    """What the backend keeps, counted the backend's own way: ``values`` in the ``wf-*``
    namespaces of ``workflow_id``, ``all_values`` in those namespaces for every workflow,
    ``records`` (invocation records) and, on Redis, ``keys`` (DBSIZE of the state
    database). The status history is left out (see the history test)."""
    app = deployed.app
    backend: Any = app.state_backend
    if deployed.kind == "memory":
        store = backend._store
        with store.lock:
            wf_keys = [k for (ns, k) in store.values if ns in WF_NAMESPACES]
            records = len(store.records)
        return {
            "values": sum(1 for k in wf_keys if k.startswith(workflow_id)),
            "all_values": len(wf_keys),
            "records": records,
        }
    if deployed.kind == "sqlite":
        assert deployed.deployment is not None
        path = deployed.deployment.state_backend_url.removeprefix("sqlite:///")
        marks = ",".join("?" * len(WF_NAMESPACES))
        with sqlite3.connect(path) as db:
            (mine,) = db.execute(
                f"SELECT COUNT(*) FROM pynenc_values WHERE namespace IN ({marks}) "
                "AND CAST(key AS TEXT) LIKE ?",
                (*WF_NAMESPACES, f"{workflow_id}%"),
            ).fetchone()
            (every,) = db.execute(
                f"SELECT COUNT(*) FROM pynenc_values WHERE namespace IN ({marks})",
                WF_NAMESPACES,
            ).fetchone()
            (records,) = db.execute("SELECT COUNT(*) FROM pynenc_invocations").fetchone()
        return {"values": int(mine), "all_values": int(every), "records": int(records)}
    client = backend._client
    prefix = backend.prefix
    mine = sum(
        1 for ns in WF_NAMESPACES for _ in client.scan_iter(f"{prefix}kv:{ns}:{workflow_id}*")
    )
    every = sum(1 for ns in WF_NAMESPACES for _ in client.scan_iter(f"{prefix}kv:{ns}:*"))
    return {"values": mine, "all_values": every, "keys": int(client.dbsize())}
