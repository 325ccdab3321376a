"""Tasks for the hostile-user QA tests of calls and results (in-process runner)."""

from __future__ import annotations

from typing import Any

from pynenc_celery_compat import Celery

app = Celery(
    "qa_hostile_calls", broker="memory://", backend="cache+memory://", set_as_current=False
)


@app.task
def add(x: Any, y: Any) -> Any:
    return x + y


@app.task
def echo(value: Any) -> Any:
    return value
