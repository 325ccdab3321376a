"""The Celery layer's canvas of a task with Celery options that pynenc enforces at start
(``rate_limit``): it was refused by the native planner as "registration control"."""

from __future__ import annotations

from types import ModuleType

from pynenc_celery_compat import chain, chord
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401


def test_a_rate_limited_celery_task_in_a_canvas(canvas: ModuleType) -> None:
    assert chain(canvas.add.s(1, 2), canvas.paced_add.s(3)).delay().get(timeout=WAIT) == 6
    header = [canvas.paced_add.s(i, i) for i in range(4)]
    assert chord(header)(canvas.tsum.s()).get(timeout=WAIT) == 12
