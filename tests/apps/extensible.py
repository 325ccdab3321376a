"""An app whose tasks are of a ``Task`` subclass (the option ``task_cls``), which declares
task options of its own and overrides how the function runs.

Its named tasks live in :mod:`tests.apps.extensible_named`, a module the app does not
import: runners find them through ``task_modules``.
"""

from __future__ import annotations

import os
from typing import Any

from pynenc import Pynenc, Task
from pynenc.arguments import Arguments
from pynenc.conf import Option, OptionTable, boolean, text


class TaggedTask(Task[Any, Any]):
    """Results come back tagged, with the process that ran them."""

    extra_options = OptionTable(
        "task",
        [
            Option("acks_late", False, boolean, "a boolean", "Acknowledge after the run."),
            Option("tag", "plain", text, "a non-empty string", "Label of the task's results."),
        ],
    )

    def __init__(
        self, app: Pynenc, func: Any, options: dict[str, Any], name: str | None = None
    ) -> None:
        super().__init__(app, func, options, name)
        self.label = f"tagged:{self.task_id.key}"  # an attribute of the subclass

    def run_function(self, arguments: Arguments) -> Any:
        value = super().run_function(arguments)
        return {"tag": self.conf.get("tag"), "pid": os.getpid(), "value": value}


# a dotted path to a class of this very module: imported when the first task is declared
app = Pynenc(
    app_id="tests-extensible", config_values={"task_cls": "tests.apps.extensible:TaggedTask"}
)


@app.task(tag="double")
def double(x: int) -> int:
    return 2 * x


@app.task(task_cls=Task)
def plain_add(x: int, y: int) -> int:
    return x + y
