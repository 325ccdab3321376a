"""A Celery-layer task that pauses as a workflow (``self.pynenc_task.wf``), with a base
class noting Celery's hooks, for ``tests/integration/test_qa_workflows_celery.py``."""

from __future__ import annotations

from typing import Any

from pynenc_celery_compat import Celery

# not the current app: the shared tasks of other test modules must not bind to this one
app = Celery("qa_wf_celery", broker="memory://", backend="cache+memory://", set_as_current=False)
#: (hook, state or value) as the hooks were called, in this process
CALLS: list[tuple[str, Any]] = []


class Noting(app.Task):  # type: ignore[name-defined,misc]
    def after_return(self, status: str, retval: Any, *args: Any) -> None:
        CALLS.append(("after_return", status))

    def on_success(self, retval: Any, *args: Any) -> None:
        CALLS.append(("on_success", retval))


@app.task(bind=True, base=Noting)
def approve(self: Any, x: int) -> Any:
    got = self.pynenc_task.wf.pause("approve?")
    return x + (got or 0)
