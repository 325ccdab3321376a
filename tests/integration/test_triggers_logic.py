"""AND / OR logic with two runner processes.

``either`` fires on each event ``or.a`` or ``or.b``; ``both`` fires once an event ``and.a``
and a success of ``produce`` have each happened since its last firing (the provider gets
the occurrence of each condition).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import trigger_tasks as tasks
from tests.integration.trigger_helpers import KINDS, Triggers, header, running


def _a_pass_after(setup: Triggers, pongs: int) -> None:
    """Wait until a pass after everything emitted so far has run (it fires ``pong``)."""
    setup.app.trigger.emit_event("ping")
    setup.wait_runs("pong", pongs)


@pytest.mark.parametrize("kind", KINDS)
def test_or_fires_on_each_condition_and_and_once_all_are_met(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with running(kind, tmp_path, request) as setup:
        emit = setup.app.trigger.emit_event
        either = [emit("or.a", 1), emit("or.b", 2), emit("or.a", 3)]
        first = emit("and.a", "first")
        _a_pass_after(setup, 1)
        assert setup.invocations("both") == []  # one condition of two: not yet
        produced = tasks.produce(5)
        assert produced.get_result(timeout=60) == 5
        setup.wait_runs("both", 1)
        # met again, in the other order: two events, then a success (the first event counts)
        emit("and.a", "second")
        emit("and.a", "third")
        _a_pass_after(setup, 2)
        assert len(setup.invocations("both")) == 1
        assert tasks.produce(6).get_result(timeout=60) == 6
        both = setup.check_once("both", 2)
        ors = setup.check_once("either", 3)

    assert sorted(r["args"]["payload"] for r in ors) == [1, 2, 3]
    assert sorted(header(r)["event_id"] for r in ors) == sorted(either)
    both.sort(key=lambda r: str(r["args"]["payload"]))
    # the provider saw what met each condition, in the order of the conditions: the
    # event kept is the first since the last firing
    assert [r["args"]["met"] for r in both] == [["event", "status"]] * 2
    assert [r["args"]["payload"] for r in both] == ["first", "second"]
    # the header lists each occurrence; the last one's fields stand at the top
    met = header(both[0])["met"]
    assert [m["kind"] for m in met] == ["event", "status"]
    assert met[0]["event_id"] == first
    assert header(both[0])["invocation_id"] == produced.invocation_id
