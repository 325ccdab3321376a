"""Progress, the result cache and the client data store, with real runners on every backend.

One runner per deployment (memory, SQLite, Redis; thread and process runners), started in
the background by the test process; a ProcessRunner runs each invocation in a process of
its own, so what the tests see went through the state backend and the broker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pynenc import InvocationStatus, Pynenc
from pynenc.call import PreSerializedCall, submit
from pynenc.cli.main import cli
from pynenc.client_data_store import NAMESPACE, REFERENCE, digest, is_reference
from pynenc.exceptions import ClientDataStoreError
from pynenc.orchestrator import result_cache
from pynenc.serializer import get_serializer
from pynenc.state_backend import StateBackend
from tests.apps import data
from tests.integration.deployments import wait_until
from tests.servers import Server

S = InvocationStatus
DEPLOYMENTS = [
    ("memory", "ThreadRunner"),
    ("sqlite", "ThreadRunner"),
    ("sqlite", "ProcessRunner"),
    ("redis", "ThreadRunner"),
    ("redis", "ProcessRunner"),
]
MIN_SIZE = 1024  #: the client data store threshold in these tests (characters)


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=lambda p: f"{p[0]}-{p[1]}")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pynenc]:
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"{kind}-{runner_cls}")
    if kind == "memory":
        broker = state = "memory://"
    elif kind == "sqlite":
        broker, state = f"sqlite:///{tmp}/broker.db", f"sqlite:///{tmp}/state.db"
    else:
        redis: Server = request.getfixturevalue("redis_server")
        broker, state = redis.db_url(), redis.db_url()
    app = data.app
    app.reset_components()
    app.conf.update(broker_url=broker, state_backend_url=state, runner_cls=runner_cls)
    app.conf.client_data_store.min_size = MIN_SIZE
    app.purge()
    with app.running_in_background(start_timeout=60, stop_timeout=90):
        yield app
    app.reset_components()


def _spy(backend: StateBackend, method: str, calls: list[tuple[Any, ...]]) -> Callable[[], None]:
    """Record the calls of ``backend.method`` (the real one still runs); returns undo."""
    real = getattr(backend, method)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(backend, method, spy)
    return lambda: delattr(backend, method)


# -- progress ------------------------------------------------------------------------------


def test_progress_is_seen_while_running_and_keeps_the_status(app: Pynenc, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    invocation = data.progress_then_wait(str(gate), 3)
    wait_until(
        lambda: (p := invocation.progress) is not None and p.meta == {"done": 3, "total": 3},
        60,
        "the task's progress",
    )
    progress = invocation.progress
    assert progress is not None and progress.state == "PROGRESS" and progress.updated > 0
    assert invocation.status is S.RUNNING  # progress never moves the lifecycle status
    gate.touch()
    assert invocation.get_result(timeout=60) == 3
    assert [e.status for e in invocation.history] == [S.REGISTERED, S.RUNNING, S.SUCCESS]
    last = invocation.progress  # the last progress stays readable after the end
    assert last is not None and last.meta == {"done": 3, "total": 3}


def test_an_invocation_without_progress_has_none(app: Pynenc) -> None:
    invocation = data.measure("x", 1)
    assert invocation.get_result(timeout=60) == 2
    assert invocation.progress is None


def test_meta_that_is_not_json_fails_the_task_with_a_clear_error(app: Pynenc) -> None:
    with pytest.raises(TypeError, match=r"JSON-able.*object"):
        data.bad_progress().get_result(timeout=60)


def test_status_command_shows_progress(app: Pynenc) -> None:
    invocation = data.report_progress(4)
    assert invocation.get_result(timeout=60) == 4
    out = CliRunner().invoke(
        cli, ["--app", "tests.apps.data:app", "status", invocation.invocation_id]
    )
    assert out.exit_code == 0, out.output
    assert 'progress    PROGRESS {"done": 4, "total": 4}  (updated' in out.output
    assert "status      SUCCESS" in out.output


# -- result cache --------------------------------------------------------------------------


def test_a_cached_call_returns_the_first_invocation_without_running(
    app: Pynenc, tmp_path: Path
) -> None:
    counter = str(tmp_path / "runs")
    first = data.cached_square(7, counter)
    assert first.get_result(timeout=60) == 49
    stored = len(app.state_backend.find(task_id="tests.apps.data.cached_square"))
    again = data.cached_square(7, counter)
    assert again.invocation_id == first.invocation_id
    assert again.status is S.SUCCESS and again.result == 49
    # disable_cache_args: verbose is not part of the key
    assert data.cached_square(7, counter, verbose=True).invocation_id == first.invocation_id
    assert len(app.state_backend.find(task_id="tests.apps.data.cached_square")) == stored
    assert data.runs(counter) == 1
    other = data.cached_square(8, counter)  # other arguments: a miss
    assert other.get_result(timeout=60) == 64
    assert other.invocation_id != first.invocation_id
    assert data.runs(counter) == 2


def test_failures_are_not_cached(app: Pynenc, tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    for _ in range(2):
        with pytest.raises(ValueError, match="not cached"):
            data.cached_fail(counter).get_result(timeout=60)
    assert data.runs(counter) == 2


def test_a_purged_hit_is_a_miss(app: Pynenc, tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    first = data.cached_square(3, counter)
    assert first.get_result(timeout=60) == 9
    key = result_cache.cache_key(data.cached_square, {"x": "3", "counter": json.dumps(counter)})
    # the entry stays, its invocation goes: an entry alone is no hit
    entry = app.state_backend.get_value(result_cache.NAMESPACE, key)
    assert entry is not None
    app.purge()
    app.state_backend.put_value(result_cache.NAMESPACE, key, entry)
    again = data.cached_square(3, counter)
    assert again.invocation_id != first.invocation_id
    assert again.get_result(timeout=60) == 9
    assert data.runs(counter) == 2


def test_parallelize_runs_only_the_calls_not_cached(app: Pynenc, tmp_path: Path) -> None:
    counter = str(tmp_path / "runs")
    first = data.cached_square.parallelize(
        [(i,) for i in range(5)], common_args={"counter": counter}
    )
    assert list(first.results) == [i * i for i in range(5)]
    second = data.cached_square.parallelize(
        [(i,) for i in range(8)], common_args={"counter": counter}
    )
    assert list(second.results) == [i * i for i in range(8)]
    assert [i.invocation_id for i in second.invocations[:5]] == [
        i.invocation_id for i in first.invocations
    ]
    assert data.runs(counter) == 8


# -- client data store ---------------------------------------------------------------------


def test_a_large_argument_travels_as_a_reference(app: Pynenc) -> None:
    big = "x" * (MIN_SIZE * 4)
    invocation = data.measure(big, 1)
    assert invocation.get_result(timeout=60) == len(big) + 1
    record = app.state_backend.get(invocation.invocation_id)
    assert record is not None
    reference = record.arguments["data"]
    assert is_reference(reference) and record.arguments["index"] == "1"
    encoded = get_serializer("json").dumps(big)
    assert reference == REFERENCE + digest(encoded)
    assert app.state_backend.get_value(NAMESPACE, digest(encoded)) == encoded


def test_a_large_result_is_stored_once_by_content(app: Pynenc) -> None:
    first, second = data.big_result(MIN_SIZE * 3), data.big_result(MIN_SIZE * 3)
    assert first.get_result(timeout=60) == "r" * MIN_SIZE * 3
    assert second.get_result(timeout=60) == "r" * MIN_SIZE * 3
    records = app.state_backend.get_many([first.invocation_id, second.invocation_id])
    results = {r.result for r in records if r is not None}
    assert len(results) == 1 and is_reference(results.pop() or "")


def test_a_common_argument_is_stored_once_for_the_whole_fan_out(app: Pynenc) -> None:
    big = "c" * (MIN_SIZE * 8)
    puts: list[tuple[Any, ...]] = []
    undo = _spy(app.state_backend, "put_value", puts)
    try:
        group = data.measure.parallelize(
            [{"index": i} for i in range(40)], common_args={"data": big}
        )
    finally:
        undo()
    assert [p[0] for p in puts] == [NAMESPACE]
    assert list(group.results) == [len(big) + i for i in range(40)]
    records = app.state_backend.get_many([i.invocation_id for i in group.invocations])
    assert len({r.arguments["data"] for r in records if r is not None}) == 1


def test_plain_calls_with_one_large_argument_write_it_once(app: Pynenc) -> None:
    big = "p" * (MIN_SIZE * 8)
    puts: list[tuple[Any, ...]] = []
    undo = _spy(app.state_backend, "put_value", puts)
    try:
        invocations = [data.measure(big, i) for i in range(20)]
    finally:
        undo()
    assert [p[0] for p in puts] == [NAMESPACE]
    assert [i.get_result(timeout=60) for i in invocations] == [len(big) + i for i in range(20)]


def test_a_thread_runner_reads_a_stored_argument_once(app: Pynenc, request: Any) -> None:
    if "ProcessRunner" in request.node.callspec.id:
        pytest.skip("a ProcessRunner runs each invocation in a fresh process (no cache to share)")
    big = "t" * (MIN_SIZE * 8)
    reads: list[tuple[Any, ...]] = []
    undo = _spy(app.state_backend, "get_values", reads)  # the runner shares this process's app
    try:
        group = data.measure.parallelize(
            [{"index": i} for i in range(30)], common_args={"data": big}
        )
        assert list(group.results) == [len(big) + i for i in range(30)]
    finally:
        undo()
    assert [r for r in reads if r[0] == NAMESPACE] == [(NAMESPACE, [digest(json.dumps(big))])]


def test_a_missing_stored_value_fails_the_invocation_not_the_runner(app: Pynenc) -> None:
    gone = REFERENCE + "0" * 64
    call = PreSerializedCall(data.measure, data.measure.args("unused", 1), {"data": gone})
    [invocation] = submit([call])
    with pytest.raises(ClientDataStoreError, match=r"Argument 'data' refers to a value .* purged"):
        invocation.get_result(timeout=60)
    assert invocation.status is S.FAILED
    assert data.measure("still running", 0).get_result(timeout=60) == len("still running")
