"""Beat with ``pynenc-celery worker`` processes: two workers (threads, prefork) of a
project whose schedule is written as Celery's documentation shows it
(``tests.celery_compat.beat_app``) run each occasion once, with no beat process;
``pynenc-celery beat`` says so and lists the entries.

The workers take "now" for their trigger pass from a Redis key the test moves on, so cron
occasions come without waiting minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from click.testing import CliRunner

from pynenc import Pynenc
from pynenc_celery_compat import beat_install
from pynenc_celery_compat.cli import cli
from tests.celery_compat import beat_app
from tests.celery_compat.test_worker_command import WorkerProcess
from tests.integration.deployments import wait_until
from tests.servers import Server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.celery_compat.beat_app"
CLOCK = "beat-test-clock"
WAIT = 90.0
START = dt.datetime(2024, 5, 17, 10, 2, tzinfo=ZoneInfo("Europe/Madrid"))


class BeatWorker(WorkerProcess):
    """``pynenc-celery -A beat_app worker ARGS`` with the test's URL and clock."""

    def __init__(self, url: str, *args: str, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = tmp / "worker.log"
        env = {
            **os.environ,
            "BEAT_TEST_URL": url,
            "BEAT_TEST_CLOCK": CLOCK,
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pynenc_celery_compat", "-A", APP, "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def url(redis_server: Server) -> str:
    return redis_server.db_url()


@pytest.fixture
def client(url: str) -> Iterator[redis.Redis]:
    found = redis.Redis.from_url(url, socket_timeout=WAIT + 30)
    yield found
    found.close()


def trigger_ids() -> list[str]:
    """The ids of the project's beat triggers (the same in every process)."""
    app = beat_app.app
    return sorted(beat_install.trigger_ids(_installed(app)).values())


def _installed(app: Any) -> Any:
    pynenc = app.pynenc
    beat_install.install(app, pynenc)
    return pynenc


def take(client: redis.Redis, count: int) -> list[dict[str, Any]]:
    found = []
    for _ in range(count):
        popped = client.blpop([beat_app.RUNS], timeout=WAIT)
        assert popped is not None, f"{len(found)} of {count} runs came: {found}"
        found.append(json.loads(popped[1]))
    return found


def test_two_workers_run_each_occasion_once(url: str, client: redis.Redis, tmp_path: Path) -> None:
    ids = trigger_ids()
    assert len(ids) == 2  # beat_schedule's entry and the one on_after_configure added
    state = Pynenc({"app_id": "beatapp", "state_backend_url": url}).state_backend
    client.set(CLOCK, START.timestamp())
    workers = [
        BeatWorker(url, "-P", "threads", "-c", "2", "-B", tmp=tmp_path / "a"),
        BeatWorker(url, "-P", "prefork", "-c", "1", tmp=tmp_path / "b"),
    ]
    try:
        wait_until(
            lambda: None not in state.get_values("trigger-state", ids), WAIT, "a trigger pass"
        )
        client.set(CLOCK, (START + dt.timedelta(minutes=3, seconds=1)).timestamp())  # 10:05:01
        assert [run["label"] for run in take(client, 1)] == ["five"]
        client.set(CLOCK, (START + dt.timedelta(minutes=8, seconds=1)).timestamp())  # 10:10:01
        runs = take(client, 2)
        assert sorted(run["label"] for run in runs) == ["five", "ten"]
        client.set(CLOCK, (START + dt.timedelta(minutes=13, seconds=1)).timestamp())  # 10:15:01
        runs += take(client, 1)
        assert client.blpop([beat_app.RUNS], timeout=2) is None  # nothing twice
    finally:
        codes = [worker.stop() for worker in workers]
    outputs = [worker.output() for worker in workers]
    assert codes == [0, 0], outputs
    assert len({run["id"] for run in runs}) == 3
    assert "Info: -B is not needed: pynenc runners run the beat_schedule" in outputs[0]
    assert "Warning: -B" not in outputs[0]


def test_the_beat_command_lists_the_entries_and_exits_0() -> None:
    result = CliRunner().invoke(cli, ["-A", APP, "beat", "-l", "info"])
    assert result.exit_code == 0, result.output
    assert "no beat process is needed" in result.output
    assert "every-five-minutes: tests.celery_compat.beat_app.report cron '*/5 * * * *'" in (
        result.output
    )
    assert "every ten: tests.celery_compat.beat_app.report cron '*/10 * * * *'" in result.output
    assert "{'label': 'five'}" in result.output
    assert "pynenc-celery -A tests.celery_compat.beat_app worker" in result.output
