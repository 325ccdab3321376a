"""QA, canvas: ``raise self.replace(sig)`` (a task handing its place over to a canvas
decided at run time), on a real Celery 5.7 worker and on pynenc runners (thread, process).

Found here: on pynenc it failed with errors that said nothing about ``replace`` — a
``MixedCanvasError`` naming ``celery.accumulate`` for a group, an
``InvocationConflictError`` for a chain (Celery gives the replacement the replaced
call's id). Not supported on pynenc runners (docs/celery.md, Differences kept on purpose:
Canvas): refused with a ``NotImplementedError`` that says what to do instead; eager mode
runs Celery's own ``replace``.
"""

# ruff: noqa: F811  (the fixtures are imported from qa_canvas_side, then used as arguments)
from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from celery import states

from tests.celery_compat.qa_canvas_side import (  # noqa: F401
    WAIT,
    flavour,
    on_celery,
    tasks,
)


def test_replace_with_a_chain(tasks: ModuleType) -> None:
    result = tasks.replaced_by_chain.delay(3)
    if on_celery(tasks):
        assert result.get(timeout=WAIT) == {"id": 3, "text": "text of 3", "lang": "fra"}
        return
    with pytest.raises(NotImplementedError) as refused:
        result.get(timeout=WAIT)
    message = str(refused.value)
    assert f"{tasks.replaced_by_chain.name}[{result.id}]" in message
    assert "replace()" in message and "pynenc" in message
    assert "apply_async().get(disable_sync_subtasks=False)" in message
    assert result.state == states.FAILURE


def test_replace_with_a_group(tasks: ModuleType) -> None:
    result = tasks.replaced_by_group.delay([1, 2, 3])
    if on_celery(tasks):
        assert result.get(timeout=WAIT) == [10, 20, 30]
        return
    with pytest.raises(NotImplementedError, match=r"replace\(\)"):
        result.get(timeout=WAIT)


@pytest.fixture
def eager(tasks: ModuleType) -> Iterator[ModuleType]:
    tasks.app.conf.task_always_eager = True
    try:
        yield tasks
    finally:
        tasks.app.conf.task_always_eager = False


def test_replace_in_eager_mode_is_celerys(eager: ModuleType) -> None:
    """Celery's own code, quirk included: Celery 5.7's eager ``replace`` waits on the
    replacement inside the task, which its own guard refuses."""
    with pytest.raises(RuntimeError, match=r"Never call result.get\(\) within a task"):
        eager.replaced_by_chain.delay(3).get()
