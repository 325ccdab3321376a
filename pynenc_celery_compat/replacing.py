"""``Task.replace()`` on a pynenc runner: refused with an error that says what to do.

Celery's ``replace`` gives the replacing canvas the running call's id, callbacks and place
in its own canvas (chain, chord), then drops the running call. pynenc keeps one record per
id and releases what waits for a call when that call ends: the call cannot hand its id
and its followers over to another canvas while it runs. Eager mode (and a task switched
back to Celery) runs Celery's own ``replace``.
"""

from __future__ import annotations

from typing import Any


def refused(task: Any, sig: Any) -> NotImplementedError:
    """The error ``task.replace(sig)`` raises on a pynenc runner."""
    request = task.request
    return NotImplementedError(
        f"{task.name}[{request.id}]: Task.replace() is not supported on pynenc runners "
        f"(replacing it with {sig!r}): a call cannot hand its id and what waits for it "
        "over to another canvas. Run the canvas and wait for it instead, "
        "`return sig.apply_async().get(disable_sync_subtasks=False)` (this task keeps "
        "its worker slot until it ends), or build the whole canvas where the task is "
        "sent, or switch this task back to Celery (setting pynenc_celery_tasks)"
    )


__all__ = ["refused"]
