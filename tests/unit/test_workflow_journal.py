"""The journal's run bookkeeping: which run an attempt is in, also after a runner died
half way through a continue-as-new (pynenc/workflow/journal.py)."""

from __future__ import annotations

import uuid

import pytest

from pynenc.exceptions import NonDeterministicWorkflowError
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.workflow.journal import (
    NS_JOURNAL,
    PREFETCH,
    Journal,
    RunInfo,
    current_run,
    journal_key,
    read_journal,
    read_run,
    write_run,
)


@pytest.fixture
def backend() -> MemoryStateBackend:
    return MemoryStateBackend(f"journal-{uuid.uuid4().hex}")


def _record_steps(backend: MemoryStateBackend, inv: str, run: int, count: int) -> None:
    for step in range(1, count + 1):
        backend.put_value(NS_JOURNAL, journal_key(inv, run, step), '{"k":"random","v":0.5}')


def test_a_first_attempt_is_run_one(backend: MemoryStateBackend) -> None:
    assert current_run(backend, "w", "fp-a") == (1, None)


def test_a_continue_left_half_done_is_finished_by_the_next_attempt(
    backend: MemoryStateBackend,
) -> None:
    """The new arguments were stored, the runner died before the old run was dropped."""
    _record_steps(backend, "w", 3, PREFETCH + 5)  # more than one read-ahead
    write_run(backend, "w", RunInfo(3, "fp-old", "fp-new"))
    run, info = current_run(backend, "w", "fp-new")
    assert run == 4 and info is not None and info.next_fp is None and info.fp == "fp-new"
    assert read_journal(backend, "w", 3) == []
    assert [r["run"] for r in info.runs] == [3]
    stored = read_run(backend, "w")
    assert stored is not None and stored.run == 4


def test_an_attempt_with_the_old_arguments_stays_in_the_old_run(
    backend: MemoryStateBackend,
) -> None:
    """The runner died before the new arguments were stored: the run is replayed."""
    _record_steps(backend, "w", 2, 3)
    write_run(backend, "w", RunInfo(2, "fp-old", "fp-new"))
    assert current_run(backend, "w", "fp-old")[0] == 2
    assert len(read_journal(backend, "w", 2)) == 3


def test_the_same_arguments_again_replay_the_old_run(backend: MemoryStateBackend) -> None:
    """continue_as_new with unchanged arguments, interrupted: replaying the old run is
    safe (a deterministic body continues again)."""
    write_run(backend, "w", RunInfo(2, "fp-same", "fp-same"))
    assert current_run(backend, "w", "fp-same")[0] == 2


def test_a_replayed_step_of_another_kind_is_refused(backend: MemoryStateBackend) -> None:
    first = Journal(backend, "w", None, "Workflow w (mod.flow)")
    step, entry = first.replay("random")
    assert entry is None
    first.record(step, {"k": "random", "v": 0.25})
    again = Journal(backend, "w", None, "Workflow w (mod.flow)")
    with pytest.raises(NonDeterministicWorkflowError, match=r"step 1 was wf\.random\(\)"):
        again.replay("uuid")


def test_a_step_recorded_meanwhile_by_another_attempt_wins(backend: MemoryStateBackend) -> None:
    mine = Journal(backend, "w", None, "Workflow w (mod.flow)")
    step, entry = mine.replay("random")  # read ahead: nothing recorded yet
    assert entry is None
    backend.put_value(NS_JOURNAL, journal_key("w", 1, 1), '{"k":"random","v":0.75}')
    assert mine.record(step, {"k": "random", "v": 0.1}) == {"k": "random", "v": 0.75}


def test_a_first_run_reads_the_journal_once(backend: MemoryStateBackend) -> None:
    reads = []
    original = backend.get_values

    def counting(namespace: str, keys: list[str]) -> list[str | None]:
        reads.append(namespace)
        return original(namespace, keys)

    backend.get_values = counting  # type: ignore[method-assign]
    journal = Journal(backend, "w", None, "Workflow w (mod.flow)")
    for _ in range(PREFETCH * 2):
        step, entry = journal.replay("random")
        assert entry is None
        journal.record(step, {"k": "random", "v": 0.5})
    assert reads.count(NS_JOURNAL) == 1
