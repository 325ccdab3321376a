"""``pynenc status`` and ``pynenc invocations`` of composed invocations (chains, chords,
error callbacks) and of calls made inside a task, with real runners: a thread runner in
this process on memory, a process runner (CLI, own process) on SQLite, a thread runner
(CLI) on Redis. A backend that does not settle composition links yet is skipped for the
tests that need a runner to go through a composition."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pynenc import Pynenc, chord
from pynenc.cli.main import cli
from pynenc.records import InvocationRecord, InvocationStatus, Links, StatusEntry, StatusUpdate
from pynenc.runner.followers import PUBLISHED_BY
from pynenc.state_backend import StateBackend
from tests.apps import canvas_vis as cv
from tests.integration.deployments import ROOT, Deployment, RunnerProcess
from tests.servers import Server

S = InvocationStatus
APP = "tests.apps.canvas_vis:app"
KINDS = ["memory", "sqlite", "redis"]
#: the runner each kind runs (memory: in this process)
RUNNERS = {"sqlite": "ProcessRunner", "redis": "ThreadRunner"}
#: the scheduler looks for released work rarely: the runner that ended a step publishes its
#: followers (the scheduler would publish one it found released first, legitimately)
SETTINGS = {"scheduler_poll": "60"}


@dataclass
class Site:
    """Where a test runs: the deployment, and the CLI pointed at it."""

    kind: str
    deployment: Deployment
    app: Pynenc
    tmp_path: Path

    def cli(self, *args: str) -> tuple[int, str]:
        """``pynenc --app … args``: in this process on memory (the store is the
        process's), else as a command of its own."""
        if self.kind == "memory":
            result = CliRunner().invoke(cli, ["--app", APP, *args], catch_exceptions=False)
            return result.exit_code, result.output
        done = subprocess.run(
            [sys.executable, "-m", "pynenc", "--app", APP, *args],
            env=self.deployment.environment(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout + done.stderr

    def status(self, invocation_id: str, *args: str) -> tuple[int, str]:
        return self.cli("status", invocation_id, *args)

    @contextmanager
    def runner(self) -> Iterator[None]:
        """A runner consuming for the block (stopped gracefully after it)."""
        if self.kind == "memory":
            with self.app.running_in_background(stop_timeout=60):
                yield
            return
        log = self.tmp_path / "runner.log"
        process = RunnerProcess(
            self.deployment, RUNNERS[self.kind], "--threads", "4", log=log, app_ref=APP
        ).start()
        try:
            yield
        finally:
            assert process.stop() == 0, process.log_tail()


@pytest.fixture(params=KINDS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    kind = request.param
    if kind == "memory":
        deployment = Deployment(kind, "memory://", "memory://", dict(SETTINGS))
    elif kind == "sqlite":
        state = f"sqlite:///{tmp_path}/s.db"
        deployment = Deployment(kind, f"sqlite:///{tmp_path}/b.db", state, dict(SETTINGS))
    else:
        redis: Server = request.getfixturevalue("redis_server")
        deployment = Deployment(kind, redis.db_url(), redis.db_url(), dict(SETTINGS))
    app = deployment.configure(cv.app)
    app.purge()
    yield Site(kind, deployment, app, tmp_path)
    app.purge()
    app.reset_components()


@pytest.fixture
def linked(site: Site) -> Site:
    """``site``, when its state backend settles composition links (skipped otherwise)."""
    if not _settles_links(site.app.state_backend):
        pytest.skip(f"the {site.kind} state backend does not settle composition links yet")
    site.app.purge()
    return site


def _settles_links(backend: StateBackend) -> bool:
    """Whether ending an invocation releases what waits for it, on this backend."""
    first, then = uuid.uuid4().hex, uuid.uuid4().hex
    records = [
        InvocationRecord(first, "probe.first", {}, links=Links(then=(then,))),
        InvocationRecord(then, "probe.then", {}, status=S.WAITING, links=Links(after=(first,))),
    ]
    now = time.time()
    backend.register(records, now)
    entry = StatusEntry(S.SUCCESS, now, "probe", None)
    backend.set_status(StatusUpdate(first, frozenset({S.REGISTERED}), entry))
    record = backend.get(then)
    return record is not None and record.status is not S.WAITING


def _lines(out: str, label: str) -> list[str]:
    """The line starting with ``label`` and the indented lines under it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(label))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def _ender(app: Pynenc, invocation_id: str) -> str:
    """The runner that ended ``invocation_id`` (from its history)."""
    final = app.state_backend.history(invocation_id)[-1]
    assert final.status.is_final and final.runner_id, final
    return final.runner_id


def _wait(app: Pynenc, *invocation_ids: str) -> None:
    assert app.state_backend.wait_final_many(list(invocation_ids), 120), invocation_ids


def test_a_chain_step_shows_what_it_waits_for_receives_and_who_published_it(
    linked: Site,
) -> None:
    site = linked
    with site.runner():
        run = (cv.add.sig(1, 2) | cv.double.sig()).on_error(cv.report.sig()).run()
        assert run.result == 6
        first, second = (step.invocation_id for step in run.steps)  # type: ignore[union-attr]
        errbacks = site.app.state_backend.get(first).links.then  # type: ignore[union-attr]
        _wait(site.app, *errbacks)
    ender = _ender(site.app, first)

    code, out = site.status(first)
    assert code == 0, out
    followers = _lines(out, "followers")
    assert followers[0] == "followers   2, 0 pending"
    step = next(line for line in followers[1:] if second in line)
    assert step.split() == [
        *("next", "step", second, "tests.apps.canvas_vis.double", "SUCCESS"),
        *("published", "by", ender),
    ]
    callback = next(line for line in followers[1:] if "error callback" in line)
    assert callback.split()[4:] == [
        *("CANCELLED", "not", "run:", "not", "needed:"),
        *(first, "ended", "SUCCESS"),
    ]

    code, out = site.status(second)
    assert code == 0, out
    waits = _lines(out, "waits for")
    assert waits[0] == "waits for   1 to succeed: 1 SUCCESS"
    assert [line.split() for line in waits[1:]] == [[first, "tests.apps.canvas_vis.add", "SUCCESS"]]
    assert f"receives    the result of {first} (as x)" in out
    history = _lines(out, "history:")
    assert [line.split()[1] for line in history[1:3]] == ["WAITING", "SCHEDULED"]
    assert history[2].split()[1:] == ["SCHEDULED", "released", "by", first], history
    published = history[3].split(None, 3)
    assert published[1:3] == ["REGISTERED", ender], history
    assert published[3] == PUBLISHED_BY + first


def test_a_chord_body_and_its_members(linked: Site) -> None:
    site = linked
    with site.runner():
        run = chord([cv.add.sig(i, 1) for i in range(3)], cv.total.sig()).run()
        assert run.result == 6
    members = [inv.invocation_id for inv in run.steps[0].invocations]  # type: ignore[union-attr]
    body = run.steps[1].invocation_id  # type: ignore[union-attr]

    code, out = site.status(body)
    assert code == 0, out
    waits = _lines(out, "waits for")
    assert waits[0] == "waits for   3 to succeed: 3 SUCCESS"
    assert [line.split() for line in waits[1:]] == [
        [member, "tests.apps.canvas_vis.add", "SUCCESS"] for member in members
    ]
    assert "receives    the results of the 3 it waits for, in their order (as values)" in out
    released = next(line for line in out.splitlines() if "released by" in line)
    last = released.rsplit(" ", 1)[1]
    assert last in members  # the member whose end released it: the last to succeed
    # published by the first runner to publish after the release: that of any member
    # whose end came before it (each publishes the body after its own end)
    published = next(line for line in out.splitlines() if PUBLISHED_BY in line)
    publisher = published.rsplit(" ", 1)[1]
    assert publisher in members
    assert published.split()[2] == _ender(site.app, publisher)

    code, out = site.status(members[0])
    assert code == 0, out
    (row,) = _lines(out, "followers")[1:]
    assert row.split()[:5] == ["chord", "body", body, "tests.apps.canvas_vis.total", "SUCCESS"]


def test_a_failed_step_shows_its_error_callback_and_the_steps_not_run(linked: Site) -> None:
    site = linked
    with site.runner():
        run = (cv.boom.sig(7) | cv.double.sig()).on_error(cv.report.sig()).run()
        failed, skipped = (step.invocation_id for step in run.steps)  # type: ignore[union-attr]
        links = site.app.state_backend.get(failed).links  # type: ignore[union-attr]
        _wait(site.app, skipped, *links.then)
    ender = _ender(site.app, failed)

    code, out = site.status(failed)
    assert code == 1, out  # FAILED
    rows = _lines(out, "followers")[1:]
    callback = next(row for row in rows if row.startswith("  error callback"))
    assert callback.split()[3:] == [
        *("tests.apps.canvas_vis.report", "SUCCESS"),
        *("published", "by", ender),
    ]
    step = next(row for row in rows if skipped in row)
    assert step.split()[4:] == ["FAILED", "not", "run:", failed, "ended", "FAILED"], step

    code, out = site.status(skipped)
    assert code == 1, out
    assert (
        f"error       builtins.ValueError: boom 7  (from {failed}, which it waited for: not run)"
        in out
    )
    # its own error callback is not needed: the step that failed called its own
    (own,) = _lines(out, "followers")[1:]
    assert own.split()[4:] == [
        *("CANCELLED", "not", "run:", "not", "needed:"),
        *(skipped, "ended", "FAILED"),
    ]


def test_pending_followers_and_the_waiting_listing(site: Site) -> None:
    """No runner: the first step waits to be run, everything after it is WAITING."""
    run = (cv.add.sig(1, 1) | cv.double.sig() | cv.double.sig()).on_error(cv.report.sig()).run()
    ids = [inv.invocation_id for inv in run.invocations]
    records = site.app.state_backend.get_many(ids)
    waiting = {r.invocation_id for r in records if r is not None and r.status is S.WAITING}
    waiting |= {inv for r in records if r is not None and r.links for inv in r.links.then}
    assert len(waiting) == 2 + 3  # two steps, an error callback per step

    code, out = site.status(ids[0])
    assert code == 0, out
    assert "status      REGISTERED" in out
    followers = _lines(out, "followers")
    assert followers[0] == "followers   2, 2 pending"
    assert all(line.split()[-2:] == ["WAITING", "pending"] for line in followers[1:])
    code, out = site.status(ids[1])
    assert "status      WAITING" in out
    assert "waits for   1 to succeed: 1 REGISTERED" in out

    code, out = site.cli("invocations", "--status", "waiting")
    assert code == 0, out
    table = _lines(out, "INVOCATION")  # (memory prints a note first)
    assert table[0].split()[:3] == ["INVOCATION", "TASK", "STATUS"]
    rows = [line.split() for line in out.splitlines()[out.splitlines().index(table[0]) + 1 :]]
    assert {row[0] for row in rows} == waiting
    assert {row[2] for row in rows} == {"WAITING"}


def test_children_of_a_task(site: Site) -> None:
    compose = _settles_links(site.app.state_backend)
    site.app.purge()
    with site.runner():
        spawned = cv.spawn(2 if compose else 4, compose)
        children = spawned.result
    assert len(children) == 4  # four calls, or two and a chain of two
    tasks = ["add", "add", "add", "double"] if compose else ["add"] * 4

    code, out = site.status(spawned.invocation_id)
    assert code == 0, out
    listed = _lines(out, "children")
    assert listed[0] == "children    4"
    assert [line.split() for line in listed[1:]] == [
        [child, f"tests.apps.canvas_vis.{task}", "SUCCESS"]
        for child, task in zip(children, tasks, strict=True)
    ]
    code, out = site.status(spawned.invocation_id, "--limit", "2")
    assert _lines(out, "children")[0] == "children    2 (the first 2; --limit shows more)"
    assert [line.split()[0] for line in _lines(out, "children")[1:]] == children[:2]
    code, out = site.status(children[-1])
    assert f"parent      {spawned.invocation_id}\n" in out


def test_a_delayed_step_shows_its_delay(site: Site) -> None:
    """``with_options(delay=/eta=)`` on a step that waits: ``status`` says it counts from
    its release (no runner needed: the steps are registered, the first not run)."""
    eta = 1_893_456_000.0  # 2030-01-01T00:00:00 UTC
    delayed = cv.double.sig().with_options(delay=2.5)
    at_eta = cv.double.sig().with_options(eta=dt.datetime.fromtimestamp(eta, dt.UTC))
    run = (cv.add.sig(1, 2) | delayed | at_eta).run()
    _, second, third = (step.invocation_id for step in run.steps)  # type: ignore[union-attr]
    code, out = site.status(second)
    assert code == 0, out
    assert "delayed     2.5 s after its release" in out
    code, out = site.status(third)
    assert code == 0, out
    assert "delayed     not before 2030-01-01T00:00:00.000+00:00" in out
