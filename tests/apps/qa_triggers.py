"""Tasks with triggers for the QA tests of triggers (``tests/integration/test_qa_triggers_*``),
run by runner processes on SQLite and Redis.

Every process that imports this module reads the trigger clock from the state backend
(:func:`set_clock`), so the test moves time on for each runner. Each run of a task is
appended to the log ``qa-runs`` of the state backend (:func:`runs`), so the test counts
the runs made in any process. ``QA_CRON`` (environment) is the expression of
:func:`scheduled`: a test changes it between two "deploys".
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from pynenc import ConcurrencyControlType, Pynenc, TriggerBuilder, TriggerContext

app = Pynenc(app_id="tests-qa-triggers", config_values={"timezone": "Europe/Madrid"})

CLOCK = "qa-clock"
RUNS = "qa-runs"
ARMED = "qa-armed"  #: value namespace: what the test arms (a crash in a provider)


def fake_now() -> float:
    """The time set by :func:`set_clock` (the real time until one is set)."""
    raw = app.state_backend.get_value(CLOCK, "now")
    return time.time() if raw is None else float(raw)


def set_clock(now: float) -> None:
    app.state_backend.put_value(CLOCK, "now", repr(now))


app.trigger.clock = fake_now


def _ran(task: str, **what: Any) -> None:
    from pynenc.context import current_invocation

    invocation = current_invocation.get()
    header = dict((invocation.headers or {}).get("pynenc_trigger", {})) if invocation else {}
    entry = {"task": task, "id": invocation.invocation_id if invocation else None, **what}
    entry["trigger"] = header
    app.state_backend.append_log(RUNS, json.dumps(entry), 1_000_000)


def runs(task: str | None = None) -> list[dict[str, Any]]:
    """Every run recorded (of ``task``), in order."""
    found, after = [], 0
    while batch := app.state_backend.read_log(RUNS, after, 1000):
        found += [json.loads(raw) for _, raw in batch]
        after = batch[-1][0]
    return [run for run in found if task is None or run["task"] == task]


# -- time ----------------------------------------------------------------------------------


@app.task(triggers=TriggerBuilder().on_cron(os.environ.get("QA_CRON", "* * * * *")))
def scheduled() -> None:
    _ran("scheduled")


@app.task(triggers=TriggerBuilder().on_cron("0 3 * * *"))
def nightly() -> None:
    _ran("nightly")


@app.task(triggers=TriggerBuilder().on_interval(10))
def every_ten() -> None:
    _ran("every_ten")


# -- events --------------------------------------------------------------------------------


def order_of(context: TriggerContext) -> dict[str, Any]:
    return {"order": context.payload["order"]}


def crash_when_armed(context: TriggerContext) -> dict[str, Any]:
    """A provider that ends the evaluating process at once (as a kill -9 or an OOM kill
    would, in the middle of a trigger pass) while the test has armed it."""
    if app.state_backend.get_value(ARMED, "crash") == "yes":
        app.state_backend.put_value(ARMED, "crash", "done")
        os._exit(17)
    return {"order": context.payload["order"] if context.event else context.result}


@app.task(triggers=TriggerBuilder().on_event("qa.order").with_arguments(order_of))
def take_order(order: int) -> int:
    _ran("take_order", order=order)
    return order


@app.task(triggers=TriggerBuilder().on_event("qa.fragile").with_arguments(crash_when_armed))
def fragile(order: int) -> int:
    _ran("fragile", order=order)
    return order


# -- outcomes ------------------------------------------------------------------------------


@app.task
def source(order: int) -> int:
    return order


@app.task(triggers=TriggerBuilder().on_result(source).with_arguments(crash_when_armed))
def fragile_outcome(order: int) -> int:
    _ran("fragile_outcome", order=order)
    return order


@app.task
def step_a(n: int) -> int:
    _ran("step_a", n=n)
    return n


def result_of(context: TriggerContext) -> dict[str, Any]:
    return {"n": context.result + 1}


@app.task(triggers=TriggerBuilder().on_result(step_a).with_arguments(result_of))
def step_b(n: int) -> int:
    _ran("step_b", n=n)
    return n


@app.task(triggers=TriggerBuilder().on_result(step_b).with_arguments(result_of))
def step_c(n: int) -> int:
    _ran("step_c", n=n)
    return n


# -- cycles, retries, concurrency control ----------------------------------------------


@app.task(triggers=TriggerBuilder().on_success("tests.apps.qa_triggers.again"))
def again() -> None:
    """Fires itself each time it succeeds: a loop with nothing to stop it."""
    _ran("again")
    time.sleep(0.1)


class Flaky(Exception):
    pass


@app.task(retry_for=(Flaky,), max_retries=2, triggers=TriggerBuilder().on_event("qa.flaky"))
def flaky() -> None:
    _ran("flaky")
    raise Flaky("never works")


@app.task(triggers=TriggerBuilder().on_exception(flaky, [Flaky]))
def after_flaky() -> None:
    _ran("after_flaky")


@app.task(
    registration_concurrency=ConcurrencyControlType.TASK,
    triggers=TriggerBuilder().on_event("qa.single").with_arguments(order_of),
)
def single(order: int) -> None:
    """One pending at a time; the test holds it running until it lets go."""
    _ran("single", order=order)
    while app.state_backend.get_value(ARMED, "single") != "go":
        time.sleep(0.05)
