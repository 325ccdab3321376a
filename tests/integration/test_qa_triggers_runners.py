"""QA of triggers: three runner processes of different kinds, the lease holder killed
(kill -9) half way; every cron occasion, interval tick, event and outcome fires exactly
once (one invocation each), with its payload passed on, on SQLite and Redis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.apps import qa_triggers
from tests.integration.deployments import wait_until
from tests.integration.test_qa_triggers_handover import T0, deployment_for, evaluated, runner

ORDERS_PER_STEP = 20
STEPS = 4


def _one_invocation_each(task: str, key: str) -> dict[object, str]:
    """``key`` of each run of ``task`` -> the invocation that ran it; fails when an
    occurrence ran as two invocations (a run repeated by recovery is the same one)."""
    found: dict[object, set[str]] = defaultdict(set)
    for run in qa_triggers.runs(task):
        found[str(run["trigger"].get(key)) if key == "occasion" else run[key]].add(run["id"])
    twice = {k: ids for k, ids in found.items() if len(ids) > 1}
    assert not twice, f"{task}: occurrences fired more than once: {twice}"
    return {k: ids.pop() for k, ids in found.items()}


def _counts() -> dict[str, int]:
    return {
        task: len(_one_invocation_each(task, key))
        for task, key in [
            ("scheduled", "occasion"),
            ("every_ten", "occasion"),
            ("take_order", "order"),
            ("step_c", "n"),
        ]
    }


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_each_occurrence_fires_once_across_runners_and_a_lease_handover(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    deployment = deployment_for(kind, tmp_path, request)
    app = deployment.configure(qa_triggers.app)
    app.purge()
    qa_triggers.set_clock(T0)
    holder = runner(deployment, tmp_path, "holder")  # alone: it takes the services lease
    others = []
    try:
        wait_until(evaluated, 60, "the first runner's trigger pass")
        others = [
            runner(deployment, tmp_path, "process", "ProcessRunner"),
            runner(deployment, tmp_path, "threads", "MultiThreadRunner"),
        ]
        order = 0
        for step in range(1, STEPS + 1):
            qa_triggers.set_clock(T0 + 60 * step)  # one cron occasion, six interval ticks
            for _ in range(ORDERS_PER_STEP):
                order += 1
                app.trigger.emit_event("qa.order", {"order": order})
            qa_triggers.step_a(step * 100)
            if step == 2:
                holder.kill()  # the lease goes to another runner once it is found dead
            expected = {"scheduled": step, "every_ten": 6 * step, "take_order": order}
            expected["step_c"] = step
            try:
                wait_until(lambda e=expected: _counts() == e, 90, "the step's occurrences")
            except AssertionError:
                raise AssertionError(f"step {step}: {_counts()} != {expected}") from None
        qa_triggers.set_clock(T0 + 60 * STEPS + 25)  # two ticks more, no cron occasion
        wait_until(
            lambda: len(_one_invocation_each("every_ten", "occasion")) == 6 * STEPS + 2,
            60,
            "the last ticks",
        )
    finally:
        holder.kill()
        for other in others:
            assert other.stop() == 0, other.log_tail()
    assert len(_one_invocation_each("scheduled", "occasion")) == STEPS
    assert len(_one_invocation_each("every_ten", "occasion")) == 6 * STEPS + 2
    orders = _one_invocation_each("take_order", "order")
    assert sorted(orders) == list(range(1, ORDERS_PER_STEP * STEPS + 1))  # type: ignore[type-var]
    assert sorted(_one_invocation_each("step_b", "n")) == [s * 100 + 1 for s in range(1, 5)]  # type: ignore[type-var]
    assert sorted(_one_invocation_each("step_c", "n")) == [s * 100 + 2 for s in range(1, 5)]  # type: ignore[type-var]
    by_task = {s.definition.task_key.rpartition(".")[2]: s for s in app.trigger.status()}
    assert by_task["take_order"].fired == ORDERS_PER_STEP * STEPS
    assert by_task["scheduled"].fired == STEPS
    assert all(s.last_error is None for s in by_task.values())
