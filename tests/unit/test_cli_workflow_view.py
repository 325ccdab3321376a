"""How ``pynenc workflow show`` words a journal (:mod:`pynenc.cli.workflow_view`) and what
:mod:`pynenc.workflow.overview` reads of many workflows at once, on the memory backend."""

from __future__ import annotations

from pynenc.cli.workflow_view import CALLS_SHOWN, SHOWN, journal_lines, step_document
from pynenc.records import InvocationStatus
from pynenc.state_backend.memory import MemoryStateBackend
from pynenc.workflow.journal import NS_JOURNAL, RunInfo, journal_key, write_run
from pynenc.workflow.overview import RunSummary, called, runs_of

S = InvocationStatus


def test_every_operation_on_one_line() -> None:
    steps = [
        {"k": "get_state", "v": {"n": 1}},
        {"k": "save_state"},
        {"k": "get_data", "t": "total", "v": 3},
        {"k": "set_data", "t": "total"},
        {"k": "random", "v": 0.5},
        {"k": "uuid", "v": "0b6e"},
        {"k": "utc_now", "v": "2025-07-01T10:00:00+00:00"},
        {"k": "execute_task", "t": "m.child", "v": "w-wf1-8"},
        {"k": "execute_task", "t": "m.child", "v": "w-wf1-9"},
        {"k": "pause", "reason": "ok?", "resumed": True, "value": [1]},
        {"k": "pause", "reason": ""},
    ]
    lines = journal_lines(steps, {"w-wf1-8": S.SUCCESS, "w-wf1-9": None})
    assert lines == [
        '   1  get_state     {"n": 1}',
        "   2  save_state",
        '   3  get_data      "total" -> 3',
        '   4  set_data      "total"',
        "   5  random        0.5",
        '   6  uuid          "0b6e"',
        '   7  utc_now       "2025-07-01T10:00:00+00:00"',
        "   8  execute_task  m.child -> w-wf1-8 (SUCCESS)",
        "   9  execute_task  m.child -> w-wf1-9 (GONE)",  # purged: its record is gone
        '  10  pause         "ok?" -> resumed with [1]',
        '  11  pause         "" (paused here)',
    ]


def test_a_parallel_step_lists_its_calls_and_long_values_are_cut() -> None:
    ids = [f"w-wf1-1-{n}" for n in range(CALLS_SHOWN + 2)]
    statuses = {inv: S.SUCCESS for inv in ids} | {ids[0]: S.RUNNING}
    first, *calls, more = journal_lines([{"k": "execute_tasks", "t": "m.c", "v": ids}], statuses)
    assert first == f"  1  execute_tasks  m.c -> {len(ids)} invocations (1 RUNNING, 11 SUCCESS)"
    assert calls[0] == " " * 22 + f"{ids[0]} (RUNNING)"  # under the value, indented
    assert len(calls) == CALLS_SHOWN
    assert more.strip() == "… and 2 more (--json lists them)"
    document = step_document(1, {"k": "execute_tasks", "t": "m.c", "v": ids}, statuses)
    assert len(document["calls"]) == len(ids)  # --json lists every one
    (long,) = journal_lines([{"k": "get_state", "v": "x" * 500}], {})
    assert len(long) == len("  1  get_state  ") + SHOWN and long.endswith("...")


def test_runs_and_pause_reasons_in_two_reads() -> None:
    backend = MemoryStateBackend("wf-view")
    write_run(backend, "a", RunInfo(3, paused=2))
    backend.put_value(NS_JOURNAL, journal_key("a", 3, 2), '{"k":"pause","reason":"why"}')
    write_run(backend, "b", RunInfo(2))  # running its second run
    found = runs_of(backend, ["a", "b", "never-ran", "a"])
    assert found == {
        "a": RunSummary(3, 2, "why"),
        "b": RunSummary(2),
        "never-ran": RunSummary(1),
    }
    assert runs_of(backend, []) == {}


def test_called_follows_the_steps() -> None:
    steps = [
        {"k": "execute_tasks", "t": "m.c", "v": ["x-0", "x-1"]},
        {"k": "random", "v": 0.1},
        {"k": "execute_task", "t": "m.c", "v": "y"},
    ]
    assert called(steps) == ["x-0", "x-1", "y"]
