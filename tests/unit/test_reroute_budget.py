"""``runner.max_reroutes`` counts the reroutes of an invocation's current run: a
workflow's continue-as-new starts a run with a fresh budget, as it does its retries."""

from __future__ import annotations

import pytest

from pynenc.orchestrator.recovery import reroutes_of_run
from pynenc.records import InvocationStatus, StatusEntry

S = InvocationStatus
#: one letter per status of a history
LETTERS = {"g": S.REGISTERED, "s": S.SCHEDULED, "r": S.RUNNING, "x": S.REROUTED, "p": S.PAUSED}


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param("gr", 0, id="never"),
        pytest.param("grxrxr", 2, id="plain"),
        pytest.param("sgrxr", 1, id="scheduled"),
        pytest.param("grxrgr", 0, id="continued"),  # RUNNING -> REGISTERED: a new run
        pytest.param("grxrgrxr", 1, id="continued-then-rerouted"),
        pytest.param("grxrpgrxr", 2, id="resumed"),  # a resume goes on with the same run
    ],
)
def test_reroutes_of_the_current_run(history: str, expected: int) -> None:
    entries = [StatusEntry(LETTERS[c], float(n)) for n, c in enumerate(history)]
    assert reroutes_of_run(entries) == expected
