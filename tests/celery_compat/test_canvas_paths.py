"""Which code runs a compat canvas: Celery's own in eager mode (compared with a Celery app's
eager run of the same canvases) and when every task is switched back to Celery (a real
Celery worker on Redis); a canvas mixing both is refused; Celery's own ``chain`` class with
compat tasks runs on pynenc; the publish signals name the steps sent at once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import celery
import pytest
from celery import _state, signals
from celery.contrib.testing.worker import start_worker

import pynenc_celery_compat as compat
from pynenc_celery_compat.canvas_run import MixedCanvasError
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401
from tests.servers import Server

T = WAIT


def declare(app: Any, calls: list[Any]) -> SimpleNamespace:
    """The same tasks on ``app`` (a Celery app or a compat one); callbacks append to
    ``calls``."""

    @app.task(name="paths.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="paths.tsum", shared=False)
    def tsum(values: list[int]) -> int:
        return sum(values)

    @app.task(name="paths.boom", shared=False)
    def boom(*args: Any) -> None:
        raise ValueError("boom")

    @app.task(name="paths.record", shared=False)
    def record(*args: Any) -> list[Any]:
        calls.append(["record", list(args)])
        return list(args)

    @app.task(name="paths.new_errback", shared=False)
    def new_errback(request: Any, exc: BaseException, traceback: Any) -> None:
        calls.append(["new", request.task, list(request.args), repr(exc), type(traceback).__name__])

    @app.task(name="paths.old_errback", shared=False)
    def old_errback(task_id: str) -> None:
        calls.append(["old", type(task_id).__name__])

    return SimpleNamespace(
        **{t.__name__: t for t in (add, tsum, boom, record, new_errback, old_errback)}
    )


def run_canvases(t: SimpleNamespace, kit: Any, calls: list[Any]) -> list[Any]:
    """The same canvases through ``kit`` (``celery`` or ``pynenc_celery_compat``): what
    each gives back, and what its callbacks saw."""
    seen: list[Any] = []

    def outcome(make: Any) -> Any:
        try:
            result = make()
            value = result.get()
        except Exception as exc:
            return ["raised", repr(exc)]
        return [type(result).__name__, value, type(getattr(result, "parent", None)).__name__]

    seen.append(outcome(lambda: kit.chain(t.add.s(1, 2), t.add.s(3)).apply_async()))
    seen.append(outcome(lambda: (t.add.s(1, 1) | t.add.si(2, 2)).delay()))
    seen.append(outcome(lambda: kit.group(t.add.s(i, i) for i in range(3)).delay()))
    seen.append(outcome(lambda: kit.chord([t.add.s(1, 1), t.add.s(2, 2)])(t.tsum.s())))
    seen.append(outcome(lambda: (kit.group(t.add.s(1, 1), t.add.s(2, 2)) | t.tsum.s()).delay()))
    seen.append(outcome(lambda: t.add.apply_async((1, 1), link=t.record.s("x"))))
    errbacks = [t.new_errback.s(), t.old_errback.s()]
    seen.append(outcome(lambda: t.boom.apply_async((1,), link_error=errbacks)))
    seen.append(outcome(lambda: kit.chain(t.add.s(1, 2), t.boom.s(), t.add.s(5)).delay()))
    seen.append(outcome(lambda: t.add.chunks([(1, 1), (2, 2), (3, 3)], 2).delay()))
    seen.append(outcome(lambda: t.tsum.map([[1, 2], [3]]).delay()))
    return [seen, list(calls)]


@pytest.fixture
def eager_apps() -> Iterator[tuple[Any, Any]]:
    previous = _state.get_current_app()
    real = celery.Celery("paths_celery", set_as_current=False)
    ours = compat.Celery("paths_compat", set_as_current=False)
    for app in (real, ours):
        app.conf.task_always_eager = True
    yield real, ours
    previous.set_current()


def test_eager_canvases_run_as_celery_runs_them(eager_apps: tuple[Any, Any]) -> None:
    real, ours = eager_apps
    real_calls: list[Any] = []
    our_calls: list[Any] = []
    real.set_current()
    expected = run_canvases(declare(real, real_calls), celery, real_calls)
    ours.set_current()
    got = run_canvases(declare(ours, our_calls), compat, our_calls)
    assert got == expected
    assert expected[0][0] == ["EagerResult", 6, "EagerResult"]  # the comparison is real


def test_an_eager_app_with_the_in_process_runner_runs_canvases_on_pynenc(
    eager_apps: tuple[Any, Any],
) -> None:
    from pynenc_celery_compat.eager import eager_runner

    _, ours = eager_apps
    ours.set_current()
    t = declare(ours, [])
    with eager_runner(ours):
        result = compat.chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()).delay()
        assert isinstance(result, compat.AsyncResult) and result.get(timeout=T) == 6
        assert (t.add.s(1, 1) | t.add.s(2)).delay().get(timeout=T) == 4


@pytest.fixture
def switched_back(redis_server: Server) -> Iterator[SimpleNamespace]:
    """Compat tasks all switched back to Celery, with a real Celery worker (threads)."""
    current, default = _state.get_current_app(), _state.default_app
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    url = redis_server.db_url()
    app = compat.Celery("paths_switched", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        pynenc_celery_tasks=True, task_default_queue="celery", worker_hijack_root_logger=False
    )
    calls: list[Any] = []
    tasks = declare(app, calls)
    tasks.app, tasks.calls = app, calls
    try:
        with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False):
            yield tasks
    finally:
        _state.set_default_app(default)
        current.set_current()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_a_canvas_switched_back_runs_on_celery(switched_back: SimpleNamespace) -> None:
    t = switched_back
    result = compat.chain(t.add.s(1, 2), t.add.s(3)).apply_async()
    assert type(result) is celery.result.AsyncResult  # Celery's own result
    assert result.get(timeout=T) == 6 and result.parent.get(timeout=T) == 3
    body = compat.chord([t.add.s(1, 1), t.add.s(2, 2)])(t.tsum.s())
    assert body.get(timeout=T) == 6
    assert compat.group(t.add.s(1, 1), t.add.s(2, 2)).delay().get(timeout=T) == [2, 4]


def test_a_mixed_canvas_is_refused_before_anything_is_sent(canvas: ModuleType) -> None:
    app = canvas.app
    app.conf.pynenc_celery_tasks = [canvas.mul.name]
    try:
        first = canvas.add.s(1, 2)
        first_id = first.freeze().id
        with pytest.raises(MixedCanvasError, match=canvas.mul.name):
            compat.chain(first, canvas.mul.s(10)).delay()
        with pytest.raises(MixedCanvasError):
            canvas.add.apply_async((1, 1), link=canvas.mul.s(2))
        assert not compat.AsyncResult(first_id, app=app).exists()  # nothing was sent
    finally:
        app.conf.pynenc_celery_tasks = None


def test_celerys_own_chain_class_with_compat_tasks_runs_on_pynenc(canvas: ModuleType) -> None:
    result = celery.chain(canvas.add.s(1, 2), canvas.add.s(3), canvas.mul.s(10)).apply_async()
    assert isinstance(result, compat.AsyncResult)
    assert result.get(timeout=T) == 60 and result.parent.get(timeout=T) == 6
    members = celery.group(canvas.add.s(1, 1), canvas.add.s(2, 2)).delay()
    assert members.get(timeout=T) == [2, 4]  # Celery's GroupResult, compat members


def test_publish_signals_name_the_steps_sent_at_once(canvas: ModuleType) -> None:
    sent: list[tuple[str, str]] = []
    placed: list[tuple[str | None, int | None]] = []

    def before(sender: str, headers: dict[str, Any], **_: Any) -> None:
        sent.append((sender, headers["id"]))
        placed.append((headers.get("group"), headers.get("group_index")))

    signals.before_task_publish.connect(before)
    try:
        result = compat.chain(canvas.add.s(1, 2), canvas.add.s(3)).delay()
        assert result.get(timeout=T) == 6
        assert sent == [(canvas.add.name, result.parent.id)]  # the later step is released
        assert placed == [(None, None)]
        sent.clear()
        placed.clear()
        body = compat.chord([canvas.add.s(1, 1), canvas.add.s(2, 2)], canvas.tsum.s()).delay()
        assert body.get(timeout=T) == 6
        assert sent == [(canvas.add.name, r.id) for r in body.parent.results]
        assert placed == [(body.parent.id, 0), (body.parent.id, 1)]  # Celery's headers
    finally:
        signals.before_task_publish.disconnect(before)
