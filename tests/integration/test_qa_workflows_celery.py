"""A Celery-layer task that pauses as a workflow, on a runner: its ``AsyncResult`` says
STARTED (not ready) while it is paused, and Celery's end-of-task hooks (``after_return``,
``task_postrun``'s state) do not report a paused attempt as a SUCCESS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import signals

from pynenc import InvocationStatus
from tests.apps import qa_wf_celery as t
from tests.integration.deployments import wait_until


@pytest.fixture
def postrun() -> Iterator[list[str]]:
    states: list[str] = []

    def note(**fields: Any) -> None:
        if fields.get("sender") is t.approve:
            states.append(fields["state"])

    signals.task_postrun.connect(note, weak=False)
    t.CALLS.clear()
    try:
        with t.app.pynenc.running_in_background():
            yield states
    finally:
        signals.task_postrun.disconnect(note)


def test_a_paused_celery_task_is_started_not_done(postrun: list[str]) -> None:
    pynenc = t.app.pynenc
    result = t.approve.delay(1)
    wait_until(
        lambda: (
            (r := pynenc.state_backend.get(result.id)) is not None
            and r.status is InvocationStatus.PAUSED
        ),
        30,
        "the task to pause",
    )
    assert result.state == "STARTED" and not result.ready()
    assert t.CALLS == []  # no after_return: the attempt is not over (as for a retry)
    assert postrun == ["STARTED"]
    pynenc.workflows.resume(result.id, 5)
    assert result.get(timeout=30) == 6
    assert t.CALLS == [("on_success", 6), ("after_return", "SUCCESS")]
    assert postrun == ["STARTED", "SUCCESS"]
