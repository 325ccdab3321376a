"""Dev sync mode keeps a workflow's journal in this process (QA of issue 16): for the
paused ones, and for the last ``SYNC_FINISHED_KEPT`` finished ones only, so a process that
runs workflows inline for days (a dev server, a test suite) does not grow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.exceptions import InvocationCancelledError, WorkflowNotPausedError
from pynenc.testing import in_memory, sync_mode
from pynenc.workflow import manager
from tests.apps import qa_wf_races

KEPT = 3


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pynenc]:
    monkeypatch.setattr(manager, "SYNC_FINISHED_KEPT", KEPT)
    app = qa_wf_races.app
    with in_memory(app), sync_mode(app):
        app.workflows.sync_backend.purge()  # what other tests left
        yield app


def _kept(app: Pynenc) -> set[str]:
    """The workflows (and the tasks they called) the sync backend holds anything of."""
    store = app.workflows.sync_backend._store  # type: ignore[attr-defined]
    return {key.split(".")[0].split("-wf")[0] for _, key in store.values}


def test_only_the_last_finished_inline_workflows_are_kept(app: Pynenc) -> None:
    done = []
    for _ in range(20):
        invocation = qa_wf_races.poller(3)  # continues twice, a child a run
        assert len(set(invocation.result)) == 3
        done.append(invocation.invocation_id)
    assert _kept(app) == set(done[-KEPT:])
    with pytest.raises(WorkflowNotPausedError, match="dev sync mode"):
        app.workflows.resume(done[-1])


def test_a_paused_one_is_kept_until_it_is_resumed_or_cancelled(app: Pynenc) -> None:
    resumed, cancelled = qa_wf_races.approvals(1), qa_wf_races.approvals(1)
    assert resumed.status is cancelled.status is InvocationStatus.PAUSED
    for _ in range(KEPT + 1):
        assert len(qa_wf_races.poller(1).result) == 1
    assert {resumed.invocation_id, cancelled.invocation_id} <= _kept(app)
    assert app.workflows.resume(resumed.invocation_id, "yes").result == ["yes"]
    app.workflows.cancel(cancelled.invocation_id)
    with pytest.raises(InvocationCancelledError):
        cancelled.result
    for _ in range(KEPT):
        assert len(qa_wf_races.poller(1).result) == 1
    assert not {resumed.invocation_id, cancelled.invocation_id} & _kept(app)
