"""Hooks on real runners and a real Redis: every event fires, where it should, with its data.

The app (``tests.apps.hooked``) connects a handler to every event at import time; each
handler appends a JSON line to a file named after the app id, so events that fire in
worker processes (which import the app and receive its settings) are seen here too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import PublishVetoError, Pynenc, SyncInvocation
from tests.apps import hooked
from tests.servers import Server

SETTINGS = {"stop_grace": "5", "heartbeat_interval": "0.2", "threads": "2", "processes": "1"}


@pytest.fixture
def app() -> Iterator[Pynenc]:
    """``tests.apps.hooked`` with an app id of its own; put back on memory afterwards."""
    app = hooked.app
    app.conf.app_id = f"hooked-{uuid.uuid4().hex[:8]}"
    app.conf.dev_mode_force_sync_tasks = False
    app.reset_components()
    yield app
    hooked.events_path(app.app_id).unlink(missing_ok=True)
    app.conf.broker_url = app.conf.state_backend_url = "memory://"
    app.conf.runner_cls = "ThreadRunner"
    app.conf.dev_mode_force_sync_tasks = False
    app.reset_components()


def _on_redis(app: Pynenc, redis: Server, runner_cls: str) -> Pynenc:
    url = redis.db_url()
    app.conf.broker_url = app.conf.state_backend_url = url
    app.conf.runner_cls = runner_cls
    app.conf.runner.update(**SETTINGS)
    app.reset_components()
    return app


def _by(events: list[dict[str, Any]], event: str, **match: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["event"] == event and all(e.get(key) == value for key, value in match.items())
    ]


@pytest.mark.parametrize(
    "runner_cls", ["ThreadRunner", "ProcessRunner", "PersistentProcessRunner", "MultiThreadRunner"]
)
def test_every_event_fires_with_its_data(
    runner_cls: str, app: Pynenc, redis_server: Server, tmp_path: Path
) -> None:
    _on_redis(app, redis_server, runner_cls)
    with app.running_in_background(start_timeout=60, stop_timeout=90) as runner:
        ok = hooked.add(1, 2)
        failing = hooked.fail("boom")
        flaky = hooked.flaky(str(tmp_path / "marker"), 2)
        assert ok.get_result(timeout=60) == 3
        with pytest.raises(ValueError, match="boom"):
            failing.get_result(timeout=60)
        assert flaky.get_result(timeout=60) == 2
    events = hooked.read_events(app.app_id)
    me = os.getpid()
    in_child = runner_cls != "ThreadRunner"

    # publish: in the caller, before and after, once per call
    calls = {ok.invocation_id: {"x": 1, "y": 2}, failing.invocation_id: {"message": "boom"}}
    before = {i["id"]: i for e in _by(events, "before_publish", pid=me) for i in e["invocations"]}
    after = [i for e in _by(events, "after_publish", pid=me) for i in e["ids"]]
    assert (
        set(before) == set(after) == {ok.invocation_id, failing.invocation_id, flaky.invocation_id}
    )
    assert len(after) == 3  # a retry is not a new publish
    for invocation_id, kwargs in calls.items():
        assert before[invocation_id]["kwargs"] == kwargs
        assert before[invocation_id]["parent"] is None

    # run start and end: where the invocation runs, task.invocation set, this attempt's count
    starts = _by(events, "run_start")
    ends = _by(events, "run_end")
    assert all((e["pid"] != me) == in_child for e in starts + ends), events
    assert all(e["current"] and e["kind"] == "DistributedInvocation" for e in starts + ends)
    [start] = _by(starts, "run_start", id=ok.invocation_id)
    assert (start["task"], start["kwargs"], start["retries"]) == (
        "tests.apps.hooked.add",
        {"x": 1, "y": 2},
        0,
    )
    [end] = _by(ends, "run_end", id=ok.invocation_id)
    assert (end["status"], end["value"], end["result"], end["exception"]) == (
        "SUCCESS",
        3,
        "3",
        None,
    )
    assert end["pid"] == start["pid"] and end["duration"] >= 0
    [end] = _by(ends, "run_end", id=failing.invocation_id)
    assert (end["status"], end["exception"], end["error_type"]) == (
        "FAILED",
        "ValueError",
        "builtins.ValueError",
    )
    # each attempt's run_end is done before its retry is published: strictly in order
    assert [
        (e["event"], e["retries"], e.get("status"))
        for e in events
        if e["event"].startswith("run_") and e["id"] == flaky.invocation_id
    ] == [
        ("run_start", 0, None),
        ("run_end", 0, "RETRY"),
        ("run_start", 1, None),
        ("run_end", 1, "SUCCESS"),
    ]
    flaky_starts = _by(starts, "run_start", id=flaky.invocation_id)
    flaky_ends = _by(ends, "run_end", id=flaky.invocation_id)
    assert [e["retries"] for e in flaky_starts] == [0, 1]
    assert [(e["status"], e["retries"], e["exception"]) for e in flaky_ends] == [
        ("RETRY", 0, "Flaky"),
        ("SUCCESS", 1, None),
    ]

    # runners: start then stop, once each; pool runners' workers fire them in their process
    [started] = _by(events, "runner_start", pid=me)
    [stopped] = _by(events, "runner_stop", pid=me)
    assert started["runner"] == stopped["runner"] == runner_cls
    assert started["runner_id"] == stopped["runner_id"] == runner.runner_id
    lines = [(e["event"], e.get("id")) for e in events if e["pid"] == me]
    assert lines.index(("runner_start", None)) < lines.index(("runner_stop", None))
    workers = [e for e in events if e["event"].startswith("runner_") and e["pid"] != me]
    if runner_cls in ("PersistentProcessRunner", "MultiThreadRunner"):
        worker_ids = {e["runner_id"] for e in workers}
        assert worker_ids and all(e["runner"] == "ThreadRunner" for e in workers)
        for worker_id in worker_ids:
            kinds = [e["event"] for e in workers if e["runner_id"] == worker_id]
            assert kinds == ["runner_start", "runner_stop"], workers
    else:
        assert workers == []  # ProcessRunner's children run one invocation: run hooks only


def test_a_child_invocation_published_from_a_hook_runs_with_its_parent(
    app: Pynenc, redis_server: Server
) -> None:
    """A run_end handler may call a task (a callback): it is published with the finished
    invocation as its parent."""
    _on_redis(app, redis_server, "ThreadRunner")
    followers: list[Any] = []

    def follow_up(invocation: Any, outcome: Any) -> None:
        if invocation.task is hooked.add and outcome.value == 3:
            followers.append(hooked.add(outcome.value, 10))

    app.hooks.connect("run_end", follow_up)
    try:
        with app.running_in_background(stop_timeout=60):
            first = hooked.add(1, 2)
            assert first.get_result(timeout=60) == 3
            # run_end is done before the outcome is recorded: the follow-up exists already
            assert len(followers) == 1
            assert followers[0].get_result(timeout=60) == 13
    finally:
        app.hooks.disconnect("run_end", follow_up)
    events = hooked.read_events(app.app_id)
    [published] = [
        i
        for e in _by(events, "before_publish")
        for i in e["invocations"]
        if i["id"] == followers[0].invocation_id
    ]
    assert published["parent"] == first.invocation_id


def test_a_veto_refuses_the_call_before_anything_is_stored(
    app: Pynenc, redis_server: Server
) -> None:
    _on_redis(app, redis_server, "ThreadRunner")
    with pytest.raises(PublishVetoError, match="refused by a hook"):
        hooked.refused()
    assert app.state_backend.find() == []
    assert app.broker.consumer(["default"], prefetch=1).get(1, 0.5) == []
    events = hooked.read_events(app.app_id)
    assert len(_by(events, "before_publish")) == 1 and _by(events, "after_publish") == []


def test_dev_sync_mode_fires_run_hooks_but_no_publish_hooks(app: Pynenc, tmp_path: Path) -> None:
    """As Celery's eager mode: prerun/postrun/success/failure/retry fire, publish does not."""
    app.conf.dev_mode_force_sync_tasks = True
    ok = hooked.add(2, 2)
    flaky = hooked.flaky(str(tmp_path / "marker"), 2)
    failing = hooked.fail("sync boom")
    assert isinstance(ok, SyncInvocation) and ok.result == 4 and flaky.result == 2
    with pytest.raises(ValueError, match="sync boom"):
        failing.result
    events = hooked.read_events(app.app_id)
    assert _by(events, "before_publish") == _by(events, "after_publish") == []
    starts, ends = _by(events, "run_start"), _by(events, "run_end")
    assert all(e["pid"] == os.getpid() and e["current"] for e in starts + ends)
    assert all(e["kind"] == "SyncInvocation" for e in starts + ends)
    [end] = _by(ends, "run_end", id=ok.invocation_id)
    assert (end["status"], end["value"], end["result"]) == ("SUCCESS", 4, None)
    assert [e["retries"] for e in _by(starts, "run_start", id=flaky.invocation_id)] == [0, 1]
    assert [(e["status"], e["retries"]) for e in _by(ends, "run_end", id=flaky.invocation_id)] == [
        ("RETRY", 0),
        ("SUCCESS", 1),
    ]
    [end] = _by(ends, "run_end", id=failing.invocation_id)
    assert (end["status"], end["exception"], end["error_type"]) == ("FAILED", "ValueError", None)


def test_in_dev_sync_mode_a_direct_task_fires_the_run_hooks_too(app: Pynenc) -> None:
    """With no run hook a direct_task call in sync mode is a plain call; with one, it runs
    as a sync invocation so the hooks fire (the value is the same)."""
    app.conf.dev_mode_force_sync_tasks = True
    assert hooked.direct_double(21) == 42
    events = hooked.read_events(app.app_id)
    task = "tests.apps.hooked.direct_double"
    [start] = _by(events, "run_start", task=task)
    [end] = _by(events, "run_end", task=task)
    assert start["kwargs"] == {"x": 21} and (end["status"], end["value"]) == ("SUCCESS", 42)
