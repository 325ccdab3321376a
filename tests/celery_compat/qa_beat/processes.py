"""Worker processes of the beat QA tests, and the shop's audit list they write to."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.celery_compat.qa_beat.conftest import (
    CELERY_PROJECT,
    PYNENC_PROJECT,
    ROOT,
    WAIT,
    project_env,
)
from tests.celery_compat.test_worker_command import WorkerProcess
from tests.integration.deployments import wait_until

APP = "tests.celery_compat.qa_beat.clocked"
CLOCK = "shop-clock"
RUNS = "shop-runs"


class ShopWorker(WorkerProcess):
    """``pynenc-celery -A clocked worker ARGS`` on the test's Redis and clock."""

    def __init__(self, url: str, *args: str, tmp: Path, **env: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = tmp / "worker.log"
        environ = project_env(PYNENC_PROJECT, url, SHOP_CLOCK=CLOCK, SHOP_RUNS_KEY=RUNS, **env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, "worker", *args],
            cwd=ROOT,
            env=environ,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )


class CeleryWorker(WorkerProcess):
    """``celery -A shop worker`` (Celery's own command) on ``project``, ready when built."""

    def __init__(self, url: str, project: Path, *args: str, tmp: Path, **env: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = tmp / "celery-worker.log"
        command = [sys.executable, "-m", "celery", "-A", "shop", "worker", "-l", "info"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", *args]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=project_env(project, url, SHOP_RUNS_KEY=RUNS, **env),
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )
        started = lambda: "ready." in self.output() or self.process.poll() is not None  # noqa: E731
        wait_until(started, WAIT, "the Celery worker")
        assert self.process.poll() is None, self.output()


class Runs:
    """The shop's audit list: every run any worker made."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.seen: list[dict[str, Any]] = []

    def until(self, done: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        """Read runs until ``done(every run read)``."""
        while not done(self.seen):
            popped = self.client.blpop([RUNS], timeout=WAIT)
            assert popped is not None, f"{what}: not seen; runs: {self.seen}"
            self.seen.append(json.loads(popped[1]))

    def drain(self) -> None:
        """Read what is left (every worker stopped)."""
        while (raw := self.client.lpop(RUNS)) is not None:
            self.seen.append(json.loads(raw))

    def of(self, task: str, since: int = 0) -> list[dict[str, Any]]:
        return [run for run in self.seen[since:] if run["task"] == task]

    def occasion_after(self, task: str, moment: float) -> Callable[[list[Any]], bool]:
        """Whether the runs read include one of ``task`` for an occasion at ``moment`` or
        later (a run a trigger fired)."""

        def check(found: list[dict[str, Any]]) -> bool:
            return any(
                r["task"] == task and (r["trigger"] or {}).get("occasion", 0) >= moment
                for r in found
            )

        return check


__all__ = ["CELERY_PROJECT", "CLOCK", "RUNS", "CeleryWorker", "Runs", "ShopWorker"]
