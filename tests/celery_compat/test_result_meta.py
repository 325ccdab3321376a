"""``AsyncResult.date_done``/``name``/``args``/``kwargs``/``worker``/``retries``/``queue``
and ``GroupResult.save()``/``restore()``/``delete()`` on a real pynenc runner: Celery's test
worker API (``start_worker``) on ``memory://``, and on Redis across processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.app import setup_default_app

from pynenc_celery_compat import Celery, chain, group, group_store, states
from pynenc_celery_compat.contrib.testing.worker import start_worker
from pynenc_celery_compat.result import AsyncResult, GroupResult
from pynenc_celery_compat.worker import Worker
from tests.celery_compat import result_meta_tasks as tasks
from tests.integration.deployments import wait_until
from tests.servers import Server

WAIT = 30.0
UTC = dt.UTC
ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("date_done", "name", "args", "kwargs", "worker", "retries", "queue")


def _app(name: str, broker: str, backend: str) -> Any:
    return Celery(name, broker=broker, backend=backend, set_as_current=False)


@pytest.fixture
def app() -> Iterator[Any]:
    """A compat app on ``memory://``, current (the shared tasks follow it)."""
    celery_app = _app("resultmeta", "memory://", "cache+memory://")
    with setup_default_app(celery_app):
        celery_app.set_current()
        yield celery_app


@pytest.fixture
def worker(app: Any) -> Iterator[Worker]:
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False) as started:
        yield started


@pytest.fixture
def gate() -> Iterator[str]:
    name = uuid.uuid4().hex
    yield name
    tasks.GATES.setdefault(name, threading.Event()).set()  # never left held


def _open(gate: str) -> None:
    tasks.GATES.setdefault(gate, threading.Event()).set()


def _wait_started(gate: str) -> None:
    assert tasks.STARTED.setdefault(gate, threading.Event()).wait(WAIT)


# -- AsyncResult's metadata ------------------------------------------------------------------


def test_a_finished_call_shows_what_its_request_was(app: Any, worker: Worker) -> None:
    before = dt.datetime.now(UTC)
    result = tasks.describe.apply_async((1, "two", 3), {"flag": True})
    seen = result.get(timeout=WAIT)
    after = dt.datetime.now(UTC)
    assert isinstance(result, AsyncResult)
    assert result.name == seen["task"] == tasks.describe.name
    assert result.args == seen["args"] == [1, "two", 3]
    assert result.kwargs == seen["kwargs"] == {"flag": True}
    assert result.worker == seen["hostname"] == worker.hostname  # the test worker's gen…@host
    assert result.retries == seen["retries"] == 0
    assert result.queue == seen["routing_key"] == "celery"
    done = result.date_done
    assert isinstance(done, dt.datetime) and done.utcoffset() == dt.timedelta(0)
    assert before <= done <= after
    again = AsyncResult(result.id, app=app)  # another handle (another process) reads the same
    assert [getattr(again, f) for f in FIELDS] == [getattr(result, f) for f in FIELDS]


def test_arguments_are_split_as_the_caller_split_them(app: Any, worker: Worker) -> None:
    by_keyword = tasks.describe.apply_async((1,), {"y": 5})
    defaults = tasks.describe.delay("only")
    for result in (by_keyword, defaults):
        seen = result.get(timeout=WAIT)
        assert (result.args, result.kwargs) == (seen["args"], seen["kwargs"])
    assert (by_keyword.args, by_keyword.kwargs) == ([1], {"y": 5})
    assert (defaults.args, defaults.kwargs) == (["only"], {})  # a default is not filled in


def test_nothing_is_read_until_a_field_is_asked_for(
    app: Any, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = tasks.add.delay(1, 2)
    assert result.get(timeout=WAIT) == 3
    backend = app.pynenc.state_backend
    reads: list[str] = []
    for method in ("get", "history", "get_values"):
        original = getattr(backend, method)
        monkeypatch.setattr(
            backend,
            method,
            lambda *a, _m=method, _o=original, **k: (reads.append(_m), _o(*a, **k))[1],
        )
    assert (result.name, result.queue, result.retries) == (tasks.add.name, "celery", 0)
    assert reads == []  # the final record get() read is kept
    assert result.date_done is not None and result.worker is not None
    assert reads.count("history") == 1  # read once, kept: the call ended


def test_while_it_runs_date_done_is_none(app: Any, worker: Worker, gate: str) -> None:
    result = tasks.held.delay(gate)
    _wait_started(gate)
    wait_until(lambda: result.state == states.STARTED, WAIT, "the held task to be STARTED")
    assert result.date_done is None
    assert (result.worker, result.args, result.retries) == (worker.hostname, [gate], 0)
    _open(gate)
    assert result.get(timeout=WAIT) == gate
    assert result.date_done is not None


def test_before_a_runner_takes_it_the_call_is_known(app: Any) -> None:
    result = tasks.add.apply_async((2,), {"y": 3})
    assert result.state == states.PENDING
    # pynenc has the call from the moment it is made (Celery: None until a worker stored it)
    assert (result.name, result.args, result.kwargs) == (tasks.add.name, [2], {"y": 3})
    assert (result.queue, result.retries) == ("celery", 0)
    assert result.date_done is None and result.worker is None
    unknown = AsyncResult(uuid.uuid4().hex, app=app)
    assert [getattr(unknown, f) for f in FIELDS] == [None] * len(FIELDS)


def test_a_call_revoked_before_it_ran_has_a_date_done_and_no_worker(app: Any) -> None:
    result = tasks.add.delay(1, 1)
    result.revoke()
    assert result.state == states.REVOKED
    assert isinstance(result.date_done, dt.datetime)
    assert result.worker is None


def test_retries_count_the_attempt_whose_state_is_shown(app: Any, worker: Worker) -> None:
    done = tasks.retry_until.delay(2)
    assert done.get(timeout=WAIT) == 2
    assert done.retries == 2
    waiting = tasks.retry_until.delay(1, countdown=5)
    wait_until(lambda: waiting.state == states.RETRY, WAIT, "the retry to wait")
    # as Celery stores it: the attempt that asked for the retry (the first, 0)
    assert waiting.retries == 0 and waiting.date_done is None
    assert waiting.get(timeout=WAIT) == 1
    assert waiting.retries == 1


def test_a_failure_has_its_date_and_arguments(app: Any, worker: Worker) -> None:
    result = tasks.fail.delay("no")
    with pytest.raises(ValueError, match="no"):
        result.get(timeout=WAIT)
    assert result.state == states.FAILURE
    assert isinstance(result.date_done, dt.datetime)
    assert (result.args, result.worker) == (["no"], worker.hostname)


def test_a_chain_step_shows_what_it_received_first(app: Any, worker: Worker) -> None:
    result = chain(tasks.add.s(1, 2), tasks.add.s(10)).apply_async()
    assert result.get(timeout=WAIT) == 13
    assert (result.args, result.kwargs) == ([3, 10], {})  # as Celery's request.args
    assert result.parent.args == [1, 2]


def test_date_done_is_in_the_apps_timezone() -> None:
    madrid = _app("resultmeta-tz", "memory://", "cache+memory://")
    madrid.conf.timezone = "Europe/Madrid"
    with setup_default_app(madrid):
        madrid.set_current()
        with start_worker(madrid, perform_ping_check=False):
            result = tasks.add.delay(1, 2)
            result.get(timeout=WAIT)
    done = result.date_done
    assert str(done.tzinfo) == "Europe/Madrid"  # as Celery's app.now()
    assert abs(done - dt.datetime.now(UTC)) < dt.timedelta(seconds=WAIT)


# -- GroupResult.save() / restore() / delete() -----------------------------------------------


@pytest.fixture(params=["cache+memory://", None], ids=["celery-store", "pynenc-store"])
def store_app(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A compat app whose Celery result backend keeps groups (a memory cache), and one with
    no result backend (Celery's DisabledBackend: groups are kept by pynenc)."""
    celery_app = _app(f"resultmeta-{request.node.name}", "memory://", request.param)
    with setup_default_app(celery_app):
        celery_app.set_current()
        with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False):
            yield celery_app


def _kept_by_pynenc(celery_app: Any, group_id: str) -> bool:
    return celery_app.pynenc.state_backend.get_value(group_store.GROUPS, group_id) is not None


def test_a_saved_group_is_restored_by_its_id(store_app: Any) -> None:
    grouped = group(tasks.add.s(i, i) for i in range(3)).apply_async()
    assert grouped.save() is grouped
    by_pynenc = group_store.celery_store(None, store_app) is None
    assert _kept_by_pynenc(store_app, grouped.id) is by_pynenc
    restored = GroupResult.restore(grouped.id)
    assert type(restored) is GroupResult and restored == grouped
    assert [member.id for member in restored] == [member.id for member in grouped]
    assert all(type(member) is AsyncResult for member in restored)
    assert restored.get(timeout=WAIT) == [0, 2, 4]
    restored.delete()
    assert GroupResult.restore(grouped.id) is None  # as Celery: None when none is saved
    restored.delete()  # deleting again: nothing to do


def test_nested_groups_and_parents_are_kept(store_app: Any) -> None:
    app = store_app
    first = AsyncResult("first", app=app)
    inner = GroupResult("inner", [AsyncResult("a", app=app), AsyncResult("b", app=app)])
    outer = GroupResult("outer", [inner, AsyncResult("c", app=app, parent=first)], app=app)
    outer.parent = first
    outer.save()
    restored = GroupResult.restore("outer", app=app)
    assert restored.as_tuple() == outer.as_tuple()
    assert type(restored[0]) is GroupResult and restored[1].parent.id == "first"
    again = GroupResult("outer", [AsyncResult("d", app=app)], app=app).save()  # replaces it
    assert [m.id for m in GroupResult.restore("outer", app=app)] == ["d"] == [m.id for m in again]


def test_a_group_without_an_id_cannot_be_saved(store_app: Any) -> None:
    with pytest.raises(ValueError, match="has no id"):
        GroupResult(None, [AsyncResult("x", app=store_app)], app=store_app).save()


def test_an_sqlite_app_keeps_its_groups_without_celerys_database_backend(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sqlite_app = _app("resultmeta-sqlite", "memory://", f"db+sqlite:///{path}")
    members = [AsyncResult(uuid.uuid4().hex, app=sqlite_app) for _ in range(2)]
    GroupResult("kept", members, app=sqlite_app).save()
    restored = GroupResult.restore("kept", app=sqlite_app)
    assert [m.id for m in restored] == [m.id for m in members]
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:  # Celery's database backend cannot load: pynenc's SQLite keeps it
        assert _kept_by_pynenc(sqlite_app, "kept")


def test_the_app_without_a_result_backend_has_celerys_disabled_backend() -> None:
    from celery.backends.base import DisabledBackend

    bare = _app("resultmeta-bare", "memory://", None)
    assert isinstance(bare.backend, DisabledBackend)  # what Celery's save() failed on
    assert group_store.celery_store(None, bare) is None
    assert group_store.celery_store(bare.backend, bare) is None


# -- on Redis, across processes ----------------------------------------------------------------

ELSEWHERE = """
import json, sys
from pynenc_celery_compat import Celery
from pynenc_celery_compat.result import AsyncResult, GroupResult
url, backend, group_id, task_id = sys.argv[1:]
# the same app; its task modules, imported when a result needs its task's signature
app = Celery("resultmeta-redis", broker=url, backend=backend or None,
             include=["tests.celery_compat.result_meta_tasks"])
app.set_current()
restored = GroupResult.restore(group_id, app=app)
single = AsyncResult(task_id, app=app)
print(json.dumps({
    "members": [m.id for m in restored],
    "values": restored.get(timeout=30),
    "workers": [m.worker for m in restored],
    "single": [single.name, single.args, single.kwargs, single.worker, single.retries,
               single.queue, single.date_done.isoformat()],
}))
"""


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["redis", ""], ids=["celery-store", "pynenc-store"])
def test_on_redis_another_process_reads_the_metadata_and_the_saved_group(
    redis_server: Server, backend: str
) -> None:
    url = redis_server.db_url()
    backend = url if backend else ""  # none: pynenc keeps its state in the broker's Redis
    celery_app = _app("resultmeta-redis", url, backend or None)
    with setup_default_app(celery_app):
        celery_app.set_current()
        with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False):
            single = tasks.describe.apply_async((7,), {"y": 8, "z": 9})
            seen = single.get(timeout=WAIT)
            grouped = group(tasks.add.s(i, 1) for i in range(3)).apply_async()
            assert grouped.get(timeout=WAIT) == [1, 2, 3]
            grouped.save()
            hostname = seen["hostname"]
    assert _kept_by_pynenc(celery_app, grouped.id) is (not backend)
    out = subprocess.run(
        [sys.executable, "-c", ELSEWHERE, url, backend, grouped.id, single.id],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["members"] == [member.id for member in grouped]
    assert found["values"] == [1, 2, 3]
    assert found["workers"] == [hostname] * 3  # the worker's node name, kept past its stop
    name, args, kwargs, worker_name, retries, queue, done = found["single"]
    assert (name, args, kwargs) == (tasks.describe.name, [7], {"y": 8, "z": 9})
    assert (worker_name, retries, queue) == (hostname, 0, "celery")
    assert dt.datetime.fromisoformat(done) == single.date_done


@pytest.mark.integration
def test_modules_still_on_celerys_group_result_share_the_saved_groups(
    redis_server: Server,
) -> None:
    from celery.result import GroupResult as CeleryGroupResult

    url = redis_server.db_url()
    celery_app = _app("resultmeta-shared", url, url)
    with setup_default_app(celery_app):
        celery_app.set_current()
        members = [AsyncResult(uuid.uuid4().hex, app=celery_app) for _ in range(2)]
        GroupResult("saved-by-compat", members, app=celery_app).save()
        theirs = CeleryGroupResult.restore("saved-by-compat", app=celery_app)
        assert [m.id for m in theirs] == [m.id for m in members]
        CeleryGroupResult("saved-by-celery", members, app=celery_app).save()
        ours = GroupResult.restore("saved-by-celery", app=celery_app)
        assert type(ours) is GroupResult and [m.id for m in ours] == [m.id for m in members]
        ours.delete()
        assert CeleryGroupResult.restore("saved-by-celery", app=celery_app) is None


@pytest.mark.integration
def test_a_prefork_worker_process_reports_the_workers_node_name(redis_server: Server) -> None:
    url = redis_server.db_url()
    celery_app = _app("resultmeta-prefork", url, url)
    with setup_default_app(celery_app):  # not importable: its processes get it pickled
        celery_app.set_current()
        with start_worker(
            celery_app, pool="prefork", concurrency=1, ping_task_timeout=60
        ) as started:
            result = tasks.describe.delay("p")
            seen = result.get(timeout=60)
            failed = tasks.fail.delay("in a process")
            with pytest.raises(ValueError, match="in a process"):
                failed.get(timeout=60)
    assert seen["pid"] != os.getpid() and seen["hostname"] == started.hostname
    assert result.worker == failed.worker == started.hostname
    assert (result.args, result.kwargs, result.retries) == (["p"], {}, 0)
    assert isinstance(failed.date_done, dt.datetime) and failed.args == ["in a process"]
