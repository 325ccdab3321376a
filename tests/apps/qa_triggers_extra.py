"""A module of triggers that only ``task_modules`` brings to the runners (QA tests)."""

from __future__ import annotations

from typing import Any

from pynenc import TriggerBuilder, TriggerContext
from tests.apps.qa_triggers import _ran, app, step_a


def n_of(context: TriggerContext) -> dict[str, Any]:
    return {"n": context.result}


@app.task(triggers=TriggerBuilder().on_result(step_a).with_arguments(n_of))
def extra_after_a(n: int) -> None:
    _ran("extra_after_a", n=n)


@app.task(triggers=TriggerBuilder().on_event("qa.extra"))
def extra_on_event() -> None:
    _ran("extra_on_event")
