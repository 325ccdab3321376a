"""Tasks for the tests of a trigger's call options and name (``with_options``, ``named``):
two triggers on the same event with the same arguments, one with every call option."""

from __future__ import annotations

from typing import Any

from pynenc import Pynenc, TriggerBuilder

app = Pynenc(
    app_id="tests-trigger-options",
    config_values={"runner": {"scheduler_poll": 0.05, "heartbeat_interval": 0.2}},
)

#: the queue of the "tuned" trigger's invocations (a runner must consume it)
QUEUE = "trigger-options"
#: the call options of the "tuned" trigger
OPTIONS: dict[str, Any] = {
    "queue": QUEUE,
    "priority": 7,
    "expires": 300,
    "delay": 0.3,
    "headers": {"team": "ops"},
}


@app.task(
    triggers=[
        TriggerBuilder()
        .named("tuned")
        .on_event("go")
        .with_arguments({"label": "x"})
        .with_options(**OPTIONS),
        TriggerBuilder().named("plain").on_event("go").with_arguments({"label": "x"}),
    ]
)
def report(label: str) -> dict[str, Any]:
    """What it ran with: its label and the headers the running task sees."""
    return {"label": label, "headers": report.invocation.headers}
