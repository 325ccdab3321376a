"""The journal's bookkeeping when a step of it is cut short (QA of issue 16), on memory,
SQLite and Redis: a continue-as-new that dropped part of the old run's journal, a step
recorded into a run dropped meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pynenc.records import InvocationStatus, StatusEntry
from pynenc.state_backend import create_state_backend
from pynenc.state_backend.base import StateBackend
from pynenc.workflow.journal import (
    NS_JOURNAL,
    PREFETCH,
    Journal,
    RunInfo,
    continue_reason,
    current_run,
    drop_run,
    journal_key,
    read_journal,
    read_run,
    write_run,
)

BACKENDS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "memory": lambda request: "memory://",
    "sqlite": lambda request: f"sqlite:///{request.getfixturevalue('tmp_path')}/state.db",
    "redis": lambda request: str(request.getfixturevalue("redis_server").db_url()),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    made = create_state_backend(BACKENDS[request.param](request), f"qa-wf-{uuid.uuid4().hex}")
    yield made
    made.purge()
    made.close()


def _record(backend: StateBackend, inv: str, run: int, count: int) -> None:
    for step in range(1, count + 1):
        backend.put_value(NS_JOURNAL, journal_key(inv, run, step), f'{{"k":"random","v":{step}}}')


def _left(backend: StateBackend, inv: str, run: int, count: int) -> list[int]:
    steps = range(1, count + 1)
    there = backend.has_values(NS_JOURNAL, [journal_key(inv, run, s) for s in steps])
    return [s for s, found in zip(steps, there, strict=True) if found]


def test_a_drop_cut_short_leaves_a_journal_the_next_drop_finishes(
    backend: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner died after deleting some steps: what is left is the start of the run
    (a shorter journal replays as it was), and the next drop finds all of it; deleting
    from step 1 up left the newest steps behind a gap, where no drop looked again."""
    steps = PREFETCH + 8
    _record(backend, "w", 1, steps)
    deleted: list[str] = []
    original = backend.delete_value

    def dying(namespace: str, key: str, expected: str | None = None) -> bool:
        if namespace == NS_JOURNAL and len(deleted) == PREFETCH:
            raise ConnectionError("the runner died here")
        deleted.append(key)
        return original(namespace, key, expected)

    monkeypatch.setattr(backend, "delete_value", dying)
    with pytest.raises(ConnectionError):
        drop_run(backend, "w", 1)
    left = _left(backend, "w", 1, steps)
    assert left == list(range(1, len(left) + 1)), f"a gap in the journal: {left}"
    assert [e["v"] for e in read_journal(backend, "w", 1)] == left
    monkeypatch.setattr(backend, "delete_value", original)
    drop_run(backend, "w", 1)
    assert _left(backend, "w", 1, steps) == []


def test_a_step_of_a_run_dropped_meanwhile_is_not_written_back(
    backend: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt that no longer owns the run (the run was continued and dropped while it
    ran) records a step: nothing is written into the dropped run (it would stay for ever)."""
    journal = Journal(backend, "w", None, "Workflow w (mod.flow)")
    step, entry = journal.replay("random")
    assert entry is None
    backend.put_value(NS_JOURNAL, journal.key(step), '{"k":"random","v":0.75}')
    original = backend.get_values

    def dropped_meanwhile(namespace: str, keys: Any) -> list[str | None]:
        values = original(namespace, keys)
        if namespace == NS_JOURNAL:  # the continue dropped it between the two calls
            for key in keys:
                backend.delete_value(NS_JOURNAL, key)
            return [None] * len(values)
        return values

    monkeypatch.setattr(backend, "get_values", dropped_meanwhile)
    assert journal.record(step, {"k": "random", "v": 0.1}) == {"k": "random", "v": 0.1}
    monkeypatch.setattr(backend, "get_values", original)
    assert backend.get_value(NS_JOURNAL, journal.key(step)) is None


def _continued_to(backend: StateBackend, monkeypatch: pytest.MonkeyPatch, run: int) -> None:
    """The status history says the continue's compare-and-set started ``run``."""
    entry = StatusEntry(InvocationStatus.REGISTERED, 1.0, "runner", continue_reason(run))
    monkeypatch.setattr(backend, "history", lambda invocation_id: [entry])


def test_an_attempt_with_the_ended_runs_arguments_leaves_the_continue_to_the_new_run(
    backend: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare-and-set stored the new arguments, the old run is not dropped yet, and an
    attempt still running the old arguments (its runner was taken over) makes its first
    wf call: it stays in its own run, and neither drops it nor starts the next run under
    its old arguments (whose steps the new run would have replayed)."""
    _record(backend, "w", 1, 3)
    write_run(backend, "w", RunInfo(1, "fp-old", "fp-new"))
    _continued_to(backend, monkeypatch, 2)
    assert current_run(backend, "w", "fp-old")[0] == 1
    assert _left(backend, "w", 1, 3) == [1, 2, 3]
    stored = read_run(backend, "w")
    assert stored is not None and stored.run == 1 and stored.next_fp == "fp-new"
    run, info = current_run(backend, "w", "fp-new")  # the new run's attempt finishes it
    assert run == 2 and info is not None and info.fp == "fp-new"
    assert _left(backend, "w", 1, 3) == []


def test_the_same_arguments_again_are_told_apart_by_the_history(
    backend: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(backend, "w", 1, 3)
    write_run(backend, "w", RunInfo(1, "fp-same", "fp-same"))
    assert current_run(backend, "w", "fp-same")[0] == 1  # no continue in the history yet
    _continued_to(backend, monkeypatch, 2)
    assert current_run(backend, "w", "fp-same")[0] == 2
    assert _left(backend, "w", 1, 3) == []
