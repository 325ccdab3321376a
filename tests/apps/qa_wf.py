"""Workflows for the hostile-user QA of ``task.wf`` (``tests/integration/
test_qa_workflows_*.py``): children that are cached, folded or called with options,
bodies that swallow a pause, resumes that race. Runs are counted in files (one small
``O_APPEND`` write each, as :mod:`tests.apps.canvas` does)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from pynenc import ConcurrencyControlType, Pynenc, TriggerBuilder
from pynenc.exceptions import NotInWorkflowError
from tests.apps.canvas import count, lines

app = Pynenc(app_id="tests-qa-wf")

__all__ = ["count", "lines"]


@app.task
def double(x: int) -> int:
    return 2 * x


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task(call_result_cache=True)
def cached_double(x: int, counter: str) -> int:
    """Counts its runs in ``counter``."""
    count(counter)
    return 2 * x


@app.task(registration_concurrency=ConcurrencyControlType.TASK)
def single_child(x: int, counter: str) -> int:
    """One pending at a time: a second call folds into the pending one."""
    count(counter)
    return 2 * x


@app.task
def call_then_pause(key: str, x: int, counter: str, seen: str) -> list[Any]:
    """Calls ``cached_double``/``single_child`` (``key``) as a step, notes the invocation it
    got in ``seen`` on each attempt, then pauses."""
    child = cached_double if key == "cached" else single_child
    got = call_then_pause.wf.execute_task(child, x, counter)
    count(seen, got.invocation_id)
    call_then_pause.wf.pause("look at the child")
    return [got.invocation_id]


@app.task
def headers_of(tag: str) -> Any:
    """The caller's headers and queue, as the child sees them."""
    return {"headers": headers_of.invocation.headers, "tag": tag}


@app.task
def with_options_child(tag: str) -> Any:
    """Calls ``headers_of`` with call options, as a step."""
    child = headers_of.with_options(headers={"from": "wf"}, priority=3)
    return with_options_child.wf.execute_task(child, tag).result


@app.task
def with_options_children(tags: list[str]) -> Any:
    """Calls ``headers_of`` with call options, as a parallel step."""
    child = headers_of.with_options(headers={"from": "wf-many"})
    invocations = with_options_children.wf.execute_tasks(child, [(t,) for t in tags])
    return list(invocations.results)


@app.task
def with_chosen_id_child(tag: str) -> Any:
    """Asks for a child id of its own: refused (the workflow names its children)."""
    try:
        with_chosen_id_child.wf.execute_task(headers_of.with_options(invocation_id="x"), tag)
    except ValueError as exc:
        return str(exc)
    return None


@app.direct_task
def direct_double(x: int) -> int:
    return 2 * x


@app.task
def direct_child(x: int) -> list[int]:
    """Calls a direct task, plain and with call options, as steps."""
    plain = direct_child.wf.execute_task(direct_double, x)
    delayed = direct_child.wf.execute_task(direct_double.with_options(priority=2), x + 1)
    return [plain.result, delayed.result]


@app.task
def bad_parallel(params: list[Any]) -> Any:
    """A parallel step whose parameters are not all calls of ``add``."""
    try:
        bad_parallel.wf.execute_tasks(add, [tuple(p) if p[0] != "raw" else p[1] for p in params])
    except TypeError as exc:
        return str(exc)
    return None


@app.task
def step_pauses(x: int) -> int:
    """Pauses once; returns ``x`` plus the resume value."""
    got = step_pauses.wf.pause(f"step {x}")
    return x + (got or 0)


@app.task
def swallow_pause(x: int) -> list[Any]:
    """Catches its own pause (a bare ``except``), then goes on with a wf step."""
    try:
        swallow_pause.wf.pause("swallowed")
        got: Any = "resumed"
    except BaseException:  # the mistake under test
        got = "swallowed"
    return [got, swallow_pause.wf.random() >= 0, x]


@app.task
def swallow_continue(n: int, until: int) -> list[Any]:
    """Catches its own continue-as-new, then goes on with a wf step."""
    if n < until:
        with contextlib.suppress(BaseException):  # the mistake under test
            swallow_continue.wf.continue_as_new(n + 1, until)
    return [n, swallow_continue.wf.uuid() != ""]


@app.task
def children_of_long_id(x: int) -> list[Any]:
    """Calls children (one step, a parallel step) and a sub-workflow."""
    one = children_of_long_id.wf.execute_task(double, x)
    many = children_of_long_id.wf.execute_tasks(double, [(x,), (x + 1,)])
    return [one.result, list(many.results), [one.invocation_id, many.invocations[0].invocation_id]]


@app.task
def counts_up(n: int, until: int) -> int:
    """Continues as new until ``n`` reaches ``until``, pausing at the end."""
    if n < until:
        counts_up.wf.continue_as_new(n + 1, until)
    got = counts_up.wf.pause(f"at {n}")
    return n + (got or 0)


def _outcome_of(context: Any) -> dict[str, Any]:
    return {"status": context.status.name, "result": context.result, "who": context.invocation_id}


@app.task(
    triggers=TriggerBuilder()
    .on_status(counts_up, ["SUCCESS", "FAILED", "CANCELLED", "EXPIRED"])
    .with_arguments(_outcome_of)
)
def noted(status: str, result: Any, who: str) -> str:
    return f"{who}:{status}:{result}"


@app.task
def hooked_flow(n: int, until: int, path: str) -> int:
    """Continues as new until ``n`` reaches ``until``, then pauses once; its attempts are
    noted in ``path`` by the ``run_end`` hook below."""
    if n < until:
        hooked_flow.wf.continue_as_new(n + 1, until, path)
    hooked_flow.wf.pause(f"at {n}")
    return n


@app.hooks.on_run_end
def _note_hooked_flow(invocation: Any, outcome: Any) -> None:
    if invocation.task.task_id.key == hooked_flow.task_id.key:
        count(invocation.arguments.kwargs["path"], outcome.status.name)


@app.task(running_concurrency=ConcurrencyControlType.TASK)
def one_at_a_time(x: int) -> int:
    """One running at a time (for the whole task); pauses once."""
    got = one_at_a_time.wf.pause(f"hold {x}")
    return x + (got or 0)


@app.task
def wf_from_a_thread() -> str:
    """Makes a wf call from a thread it starts: refused, and told why."""
    said: list[str] = []

    def body() -> None:
        try:
            wf_from_a_thread.wf.random()
        except NotInWorkflowError as exc:
            said.append(str(exc))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return said[0]


@app.task
def wf_of_another_task() -> str:
    """Reaches another workflow task's wf from its body: refused, and told why."""
    try:
        one_at_a_time.wf.random()
    except NotInWorkflowError as exc:
        return str(exc)
    return ""


@app.task
def bad_calls(n: int) -> list[str]:
    """Calls a child and continues as new with arguments that do not fit: told at the call."""
    said = []
    try:
        bad_calls.wf.execute_task(add, 1, 2, 3)
    except TypeError as exc:
        said.append(str(exc))
    try:
        bad_calls.wf.continue_as_new(n, extra=1)
    except TypeError as exc:
        said.append(str(exc))
    return said


@app.task
def counted(x: int, counter: str) -> int:
    count(counter)
    return x


@app.task
def waits_for_gate(counter: str, gate: str, started: str) -> list[Any]:
    """A step (a counted child), a random number, then waits for the file ``gate``
    (noting each attempt that got there in ``started``)."""
    child = waits_for_gate.wf.execute_task(counted, 5, counter).result
    drawn = waits_for_gate.wf.random()
    count(started, str(drawn))
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [child, drawn]


@app.task
def cancelled_then_calls(counter: str, gate: str, started: str, done: str) -> int:
    """A step, then waits for ``gate`` (no checkpoint), then calls a child: a cancel that
    came meanwhile must stop it before the child is called."""
    try:
        cancelled_then_calls.wf.random()
        count(started)
        deadline = time.monotonic() + 60
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        return int(cancelled_then_calls.wf.execute_task(counted, 1, counter).result)
    finally:
        count(done)
