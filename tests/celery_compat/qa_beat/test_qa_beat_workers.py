"""The migrated shop on two ``pynenc-celery worker`` processes (threads with ``-B``, and
prefork), on Redis, with no beat process: each occasion runs once, with the entry's
arguments and options; stopping every worker and starting them again keeps the schedule
(nothing runs twice, a missed occasion runs once, as ``trigger.missed = "once"`` says).

With Celery, the team ran one ``celery beat``: two of them would send every run twice
(no leader lock, Celery #4041; ``test_qa_beat_sidebyside.py`` shows it with Celery's own
scheduler). The workers take "now" from a Redis key the test moves on
(``clocked.py``), so cron occasions come without waiting.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from pynenc import Pynenc
from pynenc_celery_compat import beat_install
from tests.celery_compat.qa_beat.conftest import WAIT, at
from tests.celery_compat.qa_beat.processes import CLOCK, Runs, ShopWorker
from tests.integration.deployments import wait_until
from tests.servers import Server

pytestmark = pytest.mark.integration

DIGEST = "send_digest"


@pytest.fixture
def url(redis_server: Server) -> str:
    return redis_server.db_url()


@pytest.fixture
def client(url: str) -> Iterator[redis.Redis]:
    found = redis.Redis.from_url(url, socket_timeout=WAIT + 30)
    yield found
    found.close()


def trigger_ids(shop: ModuleType) -> list[str]:
    """The ids of the shop's beat triggers (the same in every process)."""
    shop.app.loader.import_default_modules()
    beat_install.install(shop.app, shop.app.pynenc)
    return sorted(set(beat_install.trigger_ids(shop.app.pynenc).values()))


def test_two_workers_run_each_occasion_once_across_restarts(
    shop: ModuleType, url: str, client: redis.Redis, tmp_path: Path
) -> None:
    ids = trigger_ids(shop)
    assert len(ids) == 11
    state = Pynenc({"app_id": "shop", "state_backend_url": url}).state_backend
    runs = Runs(client)

    def start_both(name: str) -> list[ShopWorker]:
        return [
            ShopWorker(url, "-P", "threads", "-c", "2", "-B", tmp=tmp_path / f"{name}-a"),
            ShopWorker(url, "-P", "prefork", "-c", "1", tmp=tmp_path / f"{name}-b"),
        ]

    client.set(CLOCK, at(2024, 5, 17, 7, 29))  # a Friday
    workers = start_both("first")
    try:
        wait_until(lambda: None not in state.get_values("trigger-state", ids), WAIT, "a pass")
        client.set(CLOCK, at(2024, 5, 17, 7, 30, 1))
        runs.until(runs.occasion_after(DIGEST, at(2024, 5, 17, 7, 30)), "the 07:30 digest")
        client.set(CLOCK, at(2024, 5, 17, 8, 0, 2))
        runs.until(runs.occasion_after("hourly_stats", at(2024, 5, 17, 8)), "08:00 stats")
        runs.until(runs.occasion_after("sync_inventory", at(2024, 5, 17, 8)), "08:00 sync")
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], [worker.output() for worker in workers]
    assert "Info: -B is not needed" in workers[0].output()
    late = [r for r in runs.seen if r["trigger"]["occasion"] > at(2025, 1, 1)]
    assert late == [], (late, [w.output() for w in workers])
    (digest,) = runs.of(DIGEST)
    assert digest["details"] == {"period": "daily", "recipients": ["ops@example.com"]}
    assert (digest["queue"], digest["priority"], digest["beat"]) == ("reports", 7, True)
    assert digest["expires"] is not None
    assert digest["trigger"]["occasion"] == at(2024, 5, 17, 7, 30)

    # every worker down from 08:00 to 08:50: sync-inventory's 08:15, 08:30 and 08:45 are
    # missed; the latest runs once when they are back; the digest and 08:00 runs do not
    # run again
    before = len(runs.seen)
    client.set(CLOCK, at(2024, 5, 17, 8, 50))
    workers = start_both("second")
    try:
        runs.until(runs.occasion_after("sync_inventory", at(2024, 5, 17, 8, 45)), "08:45 sync")
        client.set(CLOCK, at(2024, 5, 17, 8, 50, 31))  # a heartbeat tick: one more pass
        runs.until(runs.occasion_after("gateway_heartbeat", at(2024, 5, 17, 8, 50, 30)), "tick")
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], [worker.output() for worker in workers]
    (sync,) = runs.of("sync_inventory", before)
    assert sync["trigger"]["occasion"] == at(2024, 5, 17, 8, 45)
    assert runs.of(DIGEST, before) == [] and runs.of("hourly_stats", before) == []

    # started again at the same time: nothing runs again; then 09:00 runs once
    before = len(runs.seen)
    workers = start_both("third")
    try:
        client.set(CLOCK, at(2024, 5, 17, 9, 0, 1))
        runs.until(runs.occasion_after("hourly_stats", at(2024, 5, 17, 9)), "09:00 stats")
        runs.until(runs.occasion_after("sync_inventory", at(2024, 5, 17, 9)), "09:00 sync")
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], [worker.output() for worker in workers]
    assert [r["trigger"]["occasion"] for r in runs.of("sync_inventory", before)] == [
        at(2024, 5, 17, 9)
    ]
    assert len(runs.of("hourly_stats", before)) == 1

    # exactly once overall: one run per trigger and occasion, each with an id of its own
    runs.drain()
    occasions = Counter((r["trigger"]["trigger"], r["trigger"]["occasion"]) for r in runs.seen)
    assert [key for key, count in occasions.items() if count > 1] == []
    assert len({r["id"] for r in runs.seen}) == len(runs.seen)
    assert {r["hostname"] for r in runs.seen} >= {r["hostname"] for r in runs.seen[:1]}


def test_a_worker_killed_holding_the_lease_hands_the_schedule_on(
    shop: ModuleType, url: str, client: redis.Redis, tmp_path: Path
) -> None:
    """docs/celery.md: "a worker that dies hands the schedule to another one with the
    services lease". The worker evaluating the triggers is killed (SIGKILL); the other
    one runs the 07:30 digest, once, when its lease has run out (``runner.dead_after``)."""
    ids = trigger_ids(shop)
    state = Pynenc({"app_id": "shop", "state_backend_url": url}).state_backend
    runs = Runs(client)
    client.set(CLOCK, at(2024, 5, 17, 7, 29))
    workers = [ShopWorker(url, "-P", "threads", "-c", "1", tmp=tmp_path / name) for name in "ab"]
    try:
        wait_until(lambda: None not in state.get_values("trigger-state", ids), WAIT, "a pass")
        wait_until(lambda: len(state.runner_infos()) == 2, WAIT, "both workers up")
        holder = client.hget("pynenc:{shop}:lease:services", "holder")
        assert holder is not None
        pid = state.runner_infos()[holder.decode()]["pid"]
        (killed,) = [w for w in workers if w.process.pid == pid]
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(WAIT)
        client.set(CLOCK, at(2024, 5, 17, 7, 30, 1))
        runs.until(runs.occasion_after(DIGEST, at(2024, 5, 17, 7, 30)), "the digest")
    finally:
        survivors = [w for w in workers if w.process.poll() is None]
        codes = [worker.stop() for worker in survivors]
    assert codes == [0], [worker.output() for worker in workers]
    runs.drain()
    (digest,) = runs.of(DIGEST)
    assert digest["pid"] != pid and digest["trigger"]["occasion"] == at(2024, 5, 17, 7, 30)
