"""Messages the state backend cannot claim, and forged ones: dead-lettered with a reason.

A message whose text the backend cannot take (a lone surrogate: valid JSON, not encodable
as UTF-8) used to fail the whole claim, be requeued, and fail again a thousand times a
second, starving the runner. Now the runner finds the message, dead-letters it and serves
the calls that follow. Real Redis, a real CLI runner process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.broker.envelope import ENVELOPE_VERSION
from tests.apps import deploy
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.integration.test_poison_messages import FAST, _dead_letters, _publish_raw
from tests.servers import Server


@pytest.fixture
def redis(redis_server: Server) -> Iterator[Deployment]:
    yield Deployment("redis", redis_server.db_url(), redis_server.db_url(), FAST)
    deploy.app.reset_components()


def _envelope(invocation_id: str, arguments: dict[str, str]) -> str:
    return json.dumps(
        {
            "v": ENVELOPE_VERSION,
            "task": "tests.apps.deploy.add",
            "ser": "json",
            "queue": "default",
            "id": invocation_id,
            "args": arguments,
        }
    )


@contextmanager
def _serving(deployment: Deployment, tmp_path: Path) -> Iterator[tuple[Pynenc, RunnerProcess]]:
    """The app, purged, and a CLI runner that has served a first call; a lone-surrogate
    message is published and the runner must serve the next call and stop cleanly."""
    app = deployment.configure()
    app.purge()
    runner = RunnerProcess(deployment, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add(1, 1).get_result(timeout=60) == 2  # consuming
        # json.dumps writes the lone surrogate as the escape \ud800: valid JSON text
        _publish_raw(app, _envelope("bad-\ud800", {"x": "1", "y": "2"}))
        assert deploy.add(2, 2).get_result(timeout=30) == 4
        yield app, runner
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_a_message_the_backend_cannot_claim_is_dead_lettered(tmp_path: Path) -> None:
    """SQLite cannot bind a lone surrogate: the claim fails for that message alone."""
    sqlite = Deployment("sqlite", f"sqlite:///{tmp_path}/b.db", f"sqlite:///{tmp_path}/s.db", FAST)
    try:
        with _serving(sqlite, tmp_path) as (app, runner):
            [dead] = _dead_letters(app, 1)
            assert "cannot claim" in dead.headers["x-pynenc-error"]
            assert runner.process is not None and runner.process.poll() is None
            requeues = (tmp_path / "runner.log").read_text(errors="replace").count("requeueing")
            assert requeues == 0, "the message was requeued instead of dead-lettered"
    finally:
        deploy.app.reset_components()


def test_a_lone_surrogate_id_is_an_unknown_invocation_on_redis(
    redis: Deployment, tmp_path: Path
) -> None:
    """Redis stores such text as it is: the id is simply not registered."""
    with _serving(redis, tmp_path) as (_, runner):
        log = (tmp_path / "runner.log").read_text(errors="replace")
        assert "requeueing" not in log
        wait_until(lambda: "unknown" in runner.log_tail(), 30, "the refused claim logged")


def test_a_forged_message_is_dead_lettered_with_its_reason(
    redis: Deployment, tmp_path: Path
) -> None:
    app = redis.configure()
    app.purge()
    genuine = deploy.add(3, 4)  # registered and published; no runner yet
    _publish_raw(app, _envelope(genuine.invocation_id, {"x": "100", "y": "1"}))
    runner = RunnerProcess(redis, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert genuine.get_result(timeout=60) == 7  # the stored call, not the forged one
        [dead] = _dead_letters(app, 1)
        assert "does not match the stored invocation" in dead.headers["x-pynenc-error"]
    finally:
        assert runner.stop() == 0, runner.log_tail()


def test_a_caller_argument_with_a_lone_surrogate_round_trips(
    redis: Deployment, tmp_path: Path
) -> None:
    """A str from os.fsdecode() of a non-UTF-8 file name: the call works like any other."""
    app = redis.configure()
    app.purge()
    runner = RunnerProcess(redis, "ThreadRunner", log=tmp_path / "runner.log").start()
    try:
        assert deploy.add("name-\udcff", "!").get_result(timeout=60) == "name-\udcff!"
    finally:
        assert runner.stop() == 0, runner.log_tail()
