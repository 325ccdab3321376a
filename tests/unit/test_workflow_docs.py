"""docs/workflows.md's determinism mistakes give the errors it says (dev sync mode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pynenc.exceptions import (
    NonDeterministicWorkflowError,
    NotInWorkflowError,
    WorkflowStateError,
)
from tests.apps import wf_docs
from tests.apps.wf_docs import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text()
SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "002_fd0a149e1ffe5995.txt"


def _doc_says(fragment: str) -> None:
    assert " ".join(fragment.split()) in " ".join(DOC.split()), fragment


def test_branching_differently_is_stopped_at_the_step_that_differs() -> None:
    invocation = wf_docs.flow_branches("o-1")
    with pytest.raises(NonDeterministicWorkflowError) as caught:
        invocation.result
    text = str(caught.value)
    assert re.search(
        r"run 1: step 1 was wf\.execute_task\(tests\.apps\.wf_docs\.ship, \.\.\.\) when the "
        r"run first got there, but now it is wf\.uuid\(\)",
        text,
    ), text
    assert "docs/workflows.md#determinism-rules" in text
    _doc_says("when the run first got there, but now it is wf.uuid(). A workflow body must")


def test_a_child_with_other_arguments_is_refused() -> None:
    invocation = wf_docs.flow_arguments("o-2")
    with pytest.raises(NonDeterministicWorkflowError) as caught:
        invocation.result
    text = str(caught.value)
    assert "step 1 called tests.apps.wf_docs.report with other arguments" in text
    assert "Pass a child the same arguments on every replay" in text
    _doc_says("with other arguments when it first ran (invocation …-wf1-1). Pass a child")


def test_a_direct_call_runs_the_child_again_and_execute_task_does_not() -> None:
    assert wf_docs.flow_direct_call("o-3").result == "shipped o-3"
    assert wf_docs.shipped["o-3"] == 2  # the mistake: no error, the child ran twice
    assert wf_docs.flow_with_execute("o-4").result == "shipped o-4"
    assert wf_docs.shipped["o-4"] == 1


def test_a_state_that_is_not_json_is_refused_naming_the_type() -> None:
    with pytest.raises(WorkflowStateError, match="Object of type set is not JSON serializable"):
        wf_docs.flow_set_state().result
    _doc_says("WorkflowStateError: wf.save_state(state): the state must be JSON")


def test_wf_outside_the_running_task_is_refused() -> None:
    with pytest.raises(NotInWorkflowError) as caught:
        wf_docs.flow_set_state.wf
    assert str(caught.value).startswith(
        "tests.apps.wf_docs.flow_set_state.wf is only available while "
        "tests.apps.wf_docs.flow_set_state runs"
    )


def test_swallowing_the_pause_runs_past_it() -> None:
    assert wf_docs.flow_swallows_pause().result == "ran past the pause"


def test_an_increment_of_the_state_is_applied_once_across_a_resume() -> None:
    invocation = wf_docs.flow_counts()
    resumed = app.workflows.resume(invocation.invocation_id)
    assert resumed.result == 1


def test_the_doc_shows_the_seed_example_as_written() -> None:
    """The page's example is the reference's, as ``tests/apps/wf_pause.py`` holds it
    (copied byte for byte; its tests run it on every backend)."""
    source = (Path(__file__).resolve().parents[1] / "apps" / "wf_pause.py").read_text()
    body = source.split("@app.task\ndef main_wf_task", 1)[1].split("\n\n\n", 1)[0]
    assert "main_wf_task.wf.pause" in body
    for line in body.strip().splitlines():
        assert line.strip() in DOC, line
    if SEED.exists():  # beside the reference documents: the copy is still the reference's
        seed = SEED.read_text().split("@app.task\ndef main_wf_task", 1)[1]
        assert body.strip() in seed.replace("\r\n", "\n")
