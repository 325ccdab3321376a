"""An app with a handler on every hook event, connected at import time.

Worker processes import this module, so they have the handlers too. Each handler appends
one JSON line to :func:`events_path` (named after the app id, which worker processes
receive with the parent's settings): tests read what fired, in which process, with what.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pynenc import Outcome, PublishVetoError, Pynenc
from pynenc.invocation.base import BaseInvocation
from pynenc.runner.base import BaseRunner

app = Pynenc(app_id="tests-hooked")

#: calls of this task are refused by a before_publish hook
REFUSED_TASK = "tests.apps.hooked.refused"


class Flaky(Exception):
    """Raised by ``flaky`` until a marker file says enough attempts were made."""


def events_path(app_id: str) -> Path:
    return Path(tempfile.gettempdir()) / f"pynenc-hooks-{app_id}.jsonl"


def read_events(app_id: str) -> list[dict[str, Any]]:
    path = events_path(app_id)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(event: str, **fields: Any) -> None:
    fields.update(event=event, pid=os.getpid(), thread=threading.current_thread().name)
    line = json.dumps(fields, default=repr)
    with open(events_path(app.app_id), "a") as out:  # one short append: atomic
        out.write(line + "\n")


def _call(invocation: BaseInvocation[Any, Any]) -> dict[str, Any]:
    return {
        "id": invocation.invocation_id,
        "task": invocation.task.task_id.key,
        "kwargs": invocation.arguments.kwargs,
        "parent": getattr(invocation, "parent_id", None),
    }


def _invocation(invocation: BaseInvocation[Any, Any]) -> dict[str, Any]:
    """What a run hook knows: the call, this attempt's retry count (no backend read on a
    runner), and whether ``task.invocation`` is this invocation."""
    try:
        current = invocation.task.invocation is invocation
    except Exception:
        current = False
    return {
        **_call(invocation),
        "retries": invocation.num_retries,
        "kind": type(invocation).__name__,
        "current": current,
    }


@app.hooks.on_before_publish
def before_publish(invocations: Sequence[BaseInvocation[Any, Any]]) -> None:
    _write("before_publish", invocations=[_call(i) for i in invocations])


@app.hooks.on_before_publish
def refuse(invocations: Sequence[BaseInvocation[Any, Any]]) -> None:
    for invocation in invocations:
        if invocation.task.task_id.key == REFUSED_TASK:
            raise PublishVetoError(f"{REFUSED_TASK} is refused by a hook")


@app.hooks.on_after_publish
def after_publish(invocations: Sequence[BaseInvocation[Any, Any]]) -> None:
    _write("after_publish", ids=[i.invocation_id for i in invocations])


@app.hooks.on_run_start
def run_start(invocation: BaseInvocation[Any, Any]) -> None:
    _write("run_start", **_invocation(invocation))


@app.hooks.on_run_end
def run_end(invocation: BaseInvocation[Any, Any], outcome: Outcome) -> None:
    _write(
        "run_end",
        **_invocation(invocation),
        status=outcome.status.name,
        value=outcome.value,
        result=outcome.result,
        error_type=outcome.error["type"] if outcome.error else None,
        exception=type(outcome.exception).__name__ if outcome.exception else None,
        duration=outcome.duration,
    )


@app.hooks.on_runner_start
def runner_start(runner: BaseRunner) -> None:
    _write("runner_start", runner=type(runner).__name__, runner_id=runner.runner_id)


@app.hooks.on_runner_stop
def runner_stop(runner: BaseRunner) -> None:
    _write("runner_stop", runner=type(runner).__name__, runner_id=runner.runner_id)


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def fail(message: str) -> None:
    raise ValueError(message)


@app.task(retry_for=(Flaky,), max_retries=2)
def flaky(marker: str, succeed_on: int) -> int:
    """Counts attempts in a file (attempts may run in different processes)."""
    path = Path(marker)
    attempt = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempt))
    if attempt < succeed_on:
        raise Flaky(f"attempt {attempt}")
    return attempt


@app.task
def refused() -> None:
    """Never runs: the ``refuse`` hook vetoes its calls."""


@app.task
def exits(code: int) -> None:
    raise SystemExit(code)


@app.direct_task
def direct_double(x: int) -> int:
    return 2 * x
