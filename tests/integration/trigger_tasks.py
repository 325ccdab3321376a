"""Tasks with triggers, for the trigger tests with runner processes.

Runner processes import this module (``--app tests.integration.trigger_tasks:app``), so
they know every trigger below. Time is the test's: ``app.trigger.clock`` reads a fake
``now`` from the state backend (:data:`CLOCK`), so the test moves it across cron occasions
and interval ticks without waiting. The runner evaluating a pass notes its pid there too,
so a test knows which runner holds the services lease.

Every triggered task writes one entry per run to the log :data:`RUNS` (``{"task", "id",
"args", "trigger"}``): the test counts the runs and checks their arguments.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from pynenc import InvocationStatus, Pynenc
from pynenc.context import current_invocation
from pynenc.exceptions import TaskTimeoutError
from pynenc.trigger import TriggerBuilder, TriggerContext

#: The zone of the cron triggers: it has DST changes (2026-03-29 and 2026-10-25).
ZONE = "Europe/Madrid"
app = Pynenc(app_id="tests-triggers", config_values={"timezone": ZONE})

CLOCK = "test-clock"  #: value namespace: "now" (the fake time), "evaluator" (a pid)
RUNS = "test-trigger-runs"  #: log of the runs of the triggered tasks
#: set in the environment of runner processes only (the test process never notes its pid)
RUNNER_ENV = "PYNENC_TEST_TRIGGER_RUNNER"


def test_clock() -> float:
    """The fake time of the test (seconds since the epoch); the real one until it is set."""
    backend = app.state_backend
    raw, evaluator = backend.get_values(CLOCK, ["now", "evaluator"])
    if os.environ.get(RUNNER_ENV) and evaluator != str(os.getpid()):
        backend.put_value(CLOCK, "evaluator", str(os.getpid()))
    return float(raw) if raw is not None else time.time()


app.trigger.clock = test_clock


def _ran(task: str, **args: Any) -> None:
    invocation = current_invocation.get()
    assert invocation is not None
    record = app.state_backend.get(invocation.invocation_id)
    header = None if record is None or record.headers is None else record.headers
    entry = {"task": task, "id": invocation.invocation_id, "args": args, "trigger": header}
    app.state_backend.append_log(RUNS, json.dumps(entry), 1_000_000)


# -- providers and filters (module-level: the evaluating runner imports them by name) -------


def occasion_args(context: TriggerContext) -> dict[str, Any]:
    assert context.occasion is not None
    return {"occasion": context.occasion.isoformat()}


def order_args(context: TriggerContext) -> dict[str, Any]:
    return {"order_id": context.payload["order_id"], "amount": context.payload["amount"]}


def is_large(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("amount", 0) >= 100


def result_args(context: TriggerContext) -> dict[str, Any]:
    return {"value": context.result, "source": context.invocation_id}


def is_even(result: Any) -> bool:
    return isinstance(result, int) and result % 2 == 0


def error_args(context: TriggerContext) -> dict[str, Any]:
    assert context.exception is not None
    return {"error": f"{type(context.exception).__name__}: {context.exception}"}


def status_args(context: TriggerContext) -> dict[str, Any]:
    assert context.status is not None
    return {"status": context.status.value, "source": context.invocation_id}


def met_args(context: TriggerContext) -> dict[str, Any]:
    """What met each condition ("and": ``context.met``), and the event's payload."""
    events = [c.payload for c in (*context.met, context) if c.event is not None]
    return {"met": [c.kind for c in context.met], "payload": events[0] if events else None}


# -- time ------------------------------------------------------------------------------------


@app.task(triggers=TriggerBuilder().on_cron("*/30 * * * *").with_arguments(occasion_args))
def half_hourly(occasion: str) -> None:
    _ran("half_hourly", occasion=occasion)


@app.task(triggers=TriggerBuilder().on_cron("30 2 * * *").with_arguments(occasion_args))
def nightly(occasion: str) -> None:
    """At 02:30 wall time: once on the day the clocks go back (not in both 02:30s)."""
    _ran("nightly", occasion=occasion)


@app.task(triggers=TriggerBuilder().on_interval(1800).with_arguments(occasion_args))
def every_half_hour(occasion: str) -> None:
    _ran("every_half_hour", occasion=occasion)


@app.task(triggers=TriggerBuilder().on_cron("0 * * * *").with_arguments(occasion_args))
def hourly(occasion: str) -> None:
    _ran("hourly", occasion=occasion)


# -- events ----------------------------------------------------------------------------------


@app.task(
    triggers=TriggerBuilder()
    .on_event("order.paid", payload_filter=is_large)
    .with_arguments(order_args)
)
def ship(order_id: str, amount: int) -> None:
    _ran("ship", order_id=order_id, amount=amount)


@app.task(triggers=TriggerBuilder().on_event("ping").with_arguments({"word": "pong"}))
def pong(word: str) -> None:
    _ran("pong", word=word)


# -- outcomes of other tasks -----------------------------------------------------------------


@app.task
def produce(value: int) -> int:
    return value


@app.task
def explode(kind: str) -> None:
    raise {"value": ValueError, "key": KeyError}[kind](f"boom {kind}")


@app.task
def idle(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task(timeout=0.3)
def overrun(seconds: float) -> None:
    """Runs past its hard time limit: the runner records it FAILED and gives up on it."""
    time.sleep(seconds)


@app.task(
    triggers=TriggerBuilder().on_exception(overrun, [TaskTimeoutError]).with_arguments(error_args)
)
def after_timeout(error: str) -> None:
    _ran("after_timeout", error=error)


@app.task(triggers=TriggerBuilder().on_success(produce).with_arguments(result_args))
def after_success(value: int, source: str) -> None:
    _ran("after_success", value=value, source=source)


@app.task(
    triggers=TriggerBuilder().on_result(produce, result_filter=is_even).with_arguments(result_args)
)
def after_even(value: int, source: str) -> None:
    _ran("after_even", value=value, source=source)


@app.task(triggers=TriggerBuilder().on_exception(explode, [ValueError]).with_arguments(error_args))
def after_value_error(error: str) -> None:
    _ran("after_value_error", error=error)


@app.task(
    triggers=[
        TriggerBuilder().on_status(explode, [InvocationStatus.FAILED]).with_arguments(status_args),
        TriggerBuilder()
        .on_status(idle, [InvocationStatus.CANCELLED, InvocationStatus.EXPIRED])
        .with_arguments(status_args),
    ]
)
def after_status(status: str, source: str) -> None:
    _ran("after_status", status=status, source=source)


# -- logic -----------------------------------------------------------------------------------


@app.task(triggers=TriggerBuilder().on_event("or.a").on_event("or.b").with_arguments(met_args))
def either(met: list[str], payload: Any) -> None:
    _ran("either", payload=payload)


@app.task(
    triggers=TriggerBuilder()
    .on_event("and.a")
    .on_success(produce)
    .with_logic("and")
    .with_arguments(met_args)
)
def both(met: list[str], payload: Any) -> None:
    _ran("both", met=met, payload=payload)
