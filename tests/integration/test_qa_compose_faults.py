"""A hostile world around a composition in flight: the state backend restarted, a broker
message of a released step lost, two runner processes ending chord members at once, a
purge. Real runner processes on SQLite and Redis; runs counted in files."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from pynenc import InvocationNotFoundError, InvocationStatus, chain, chord, group
from tests.apps import qa_compose as q
from tests.apps.qa_compose import lines
from tests.integration.compose_helpers import FAST, TIMEOUT, deployment, result_of, statuses
from tests.integration.deployments import Deployment, RunnerProcess, wait_until
from tests.integration.qa_compose_helpers import APP
from tests.servers import Server

S = InvocationStatus
KINDS = ["sqlite", "redis"]


@contextmanager
def runner(
    dep: Deployment, runner_cls: str, tmp: Path, *extra: str, slots: int = 2
) -> Iterator[RunnerProcess]:
    """A CLI runner of ``tests.apps.qa_compose`` for the block; stopped (SIGTERM) after."""
    log = tmp / f"runner-{uuid.uuid4().hex[:6]}.log"
    args = ("--threads", str(slots), "--processes", str(slots), *extra)
    process = RunnerProcess(dep, runner_cls, *args, log=log, app_ref=APP).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log_tail()


@pytest.fixture(params=KINDS)
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    current = deployment(request.param, tmp_path, request)
    app = current.configure(q.app)
    app.conf.dev_mode_force_sync_tasks = False
    app.purge()
    try:
        yield current
    finally:
        app.reset_components()


@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "ProcessRunner"])
def test_a_chain_survives_a_redis_restart_mid_chain(
    redis_factory: Callable[..., Server], tmp_path: Path, runner_cls: str
) -> None:
    """Redis (with persistence) restarted while a step runs: the step's end is recorded
    once Redis is back, the rest of the chain runs, each step once."""
    server = redis_factory(persistent=True)
    url = server.db_url()
    dep = Deployment("redis", url, url, dict(FAST))
    app = dep.configure(q.app)
    counter, gate = str(tmp_path / "runs"), tmp_path / "gate"
    try:
        run = chain(
            q.tally.sig(1, counter, "s1"),
            q.gated.sig(str(gate), counter, "s2"),
            q.tally.sig(counter, "s3"),
            q.tally.sig(counter, "s4"),
        ).run()
        with runner(dep, runner_cls, tmp_path):
            wait_until(lambda: lines(counter) == ["s1", "s2"], TIMEOUT, "the held step")
            server.restart()
            gate.touch()
            assert result_of(run) == 1
            assert statuses(app, run) == [S.SUCCESS] * 4
        assert lines(counter) == ["s1", "s2", "s3", "s4"]
    finally:
        app.reset_components()


def test_a_lost_message_of_a_released_step_is_published_again(
    dep: Deployment, tmp_path: Path
) -> None:
    """The message of a released step lost by the broker (its queue purged): the step
    stays REGISTERED, and redelivery (``runner.redeliver_after``) publishes it again."""
    counter, gate = str(tmp_path / "runs"), tmp_path / "gate"
    run = chain(
        q.gated.sig(1, str(gate), counter, "s1"),
        q.tally.sig(counter, "s2").with_options(queue="qa-lost"),
        q.tally.sig(counter, "s3"),
    ).run()
    released = run.steps[1]
    with runner(dep, "ThreadRunner", tmp_path, "--queues", "default"):
        wait_until(lambda: lines(counter) == ["s1"], TIMEOUT, "the first step")
        gate.touch()
        wait_until(lambda: released.status is S.REGISTERED, TIMEOUT, "the step's release")  # type: ignore[union-attr]
        assert q.app.broker.purge(["qa-lost"]) == 1  # the message is lost
    with runner(dep, "ThreadRunner", tmp_path, "--queues", "default,qa-lost"):
        assert result_of(run) == 1
    assert statuses(q.app, run) == [S.SUCCESS] * 3
    assert lines(counter) == ["s1", "s2", "s3"]


def test_two_runner_processes_ending_chord_members_release_the_body_once(
    dep: Deployment, tmp_path: Path
) -> None:
    counter = str(tmp_path / "runs")
    members = [q.tally.sig(i, counter, f"m{i}") for i in range(120)]
    with (
        runner(dep, "ThreadRunner", tmp_path, slots=4),
        runner(dep, "ProcessRunner", tmp_path, slots=2),
    ):
        # both consuming before the chord (one still starting would take no member)
        wait_until(lambda: len(q.app.state_backend.runners()) >= 2, TIMEOUT, "two runners")
        run = chord(members, q.tally.sig(counter, "body")).run()
        assert result_of(run) == list(range(120))
    assert sorted(lines(counter)) == sorted([f"m{i}" for i in range(120)] + ["body"])


def test_a_purge_while_a_chain_waits_wakes_its_waiter(dep: Deployment, tmp_path: Path) -> None:
    """Purged while a step runs and a caller waits on the last step: the caller gets
    InvocationNotFoundError (not a timeout), and the runner takes new work."""
    counter, gate = str(tmp_path / "runs"), tmp_path / "gate"
    run = chain(
        q.gated.sig(1, str(gate), counter, "s1"),
        q.tally.sig(counter, "s2"),
    ).run()
    seen: list[Any] = []

    def wait() -> None:
        try:
            seen.append(run.last.get_result(timeout=TIMEOUT))  # type: ignore[union-attr]
        except Exception as exc:
            seen.append(exc)

    with runner(dep, "ThreadRunner", tmp_path):
        wait_until(lambda: lines(counter) == ["s1"], TIMEOUT, "the first step")
        waiter = threading.Thread(target=wait)
        waiter.start()
        q.app.purge()
        gate.touch()
        waiter.join(TIMEOUT)
        assert not waiter.is_alive()
        assert len(seen) == 1 and isinstance(seen[0], InvocationNotFoundError), seen
        assert q.add(1, 2).get_result(timeout=TIMEOUT) == 3
    assert lines(counter) == ["s1"]


def _bytes_read(server: Server) -> int:
    """What the clients of ``server`` have read from it so far."""
    client = redis.Redis.from_url(server.url)
    try:
        return int(client.info("stats")["total_net_output_bytes"])
    finally:
        client.close()


def _traffic_per_member(
    redis_factory: Callable[..., Server], form: Callable[[int], Any], expected: Callable[[int], Any]
) -> list[float]:
    """What the clients read from Redis per member of ``form(size)``, at two sizes."""
    server = redis_factory()
    url = server.db_url()
    app = Deployment("redis", url, url, dict(FAST)).configure(q.app)
    try:
        per_member = []
        with app.running_in_background():
            for size in (300, 1200):
                before = _bytes_read(server)
                assert result_of(form(size).run()) == expected(size)
                per_member.append((_bytes_read(server) - before) / size)
        return per_member
    finally:
        app.reset_components()


def test_a_chord_member_costs_the_same_in_a_wide_chord(
    redis_factory: Callable[..., Server],
) -> None:
    """What a member's end reads from Redis does not grow with the chord: each member's
    runner read the body's whole record (its links name every member) to find it still
    WAITING, so a chord's traffic grew with its size squared (20,000 members: 116 s)."""
    per_member = _traffic_per_member(
        redis_factory,
        lambda size: chord([q.add.sig(i, 0) for i in range(size)], q.total.sig()),
        lambda size: sum(range(size)),
    )
    assert per_member[1] < 1.6 * per_member[0], per_member


def test_a_member_of_a_group_after_a_step_costs_the_same_in_a_wide_group(
    redis_factory: Callable[..., Server],
) -> None:
    """Each member receives the step's result without reading the step's links, which
    name every member (``links.then``): what a member reads does not grow with the
    group (it read the whole record, quadratic in the group's size)."""
    per_member = _traffic_per_member(
        redis_factory,
        lambda size: chain(
            q.add.sig(0, 1), group(q.add.sig(i) for i in range(size)), q.total.sig()
        ),
        lambda size: sum(range(size)) + size,
    )
    assert per_member[1] < 1.6 * per_member[0], per_member
