"""Canvas under ``task_always_eager``, as test suites run it: everything runs in the caller.

The flavour's app is switched to eager mode for each test (and back). Celery 5.7 runs a
chain's steps one after the other and a group's members in order; callbacks run inline (their
entries are written before the call returns); an error in a chain or a chord's header is
raised by the call itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import ModuleType

import pytest
from celery import states

from tests.celery_compat.sidebyside.conftest import Flavour, Written

TRACEBACK = "Traceback (most recent call last):"


@pytest.fixture(autouse=True)
def eager(flavour: Flavour) -> Iterator[None]:
    conf = flavour.app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before


def ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


# -- signatures and callbacks ----------------------------------------------------------------


def test_signature_calls_are_eager(tasks: ModuleType, canvas: ModuleType) -> None:
    result = tasks.sub.s(10).delay(3)
    assert type(result).__name__ == "EagerResult" and result.state == states.SUCCESS
    assert result.get() == -7
    value = tasks.echo.s(1, a=1, b=1).apply_async((0,), {"b": 2}).get()
    # an eager result is the value itself, not a JSON copy: echo's args stay a tuple
    assert (value["args"], value["kwargs"]) == ((0, 1), {"a": 1, "b": 2})
    assert tasks.echo.si(1, a=1).apply_async((0,), {"b": 2}).get()["args"] == (1,)
    rebuilt = canvas.signature(dict(tasks.add.s(1, y=2)))
    assert rebuilt.delay().get() == 3


def test_freeze_gives_the_id_of_the_eager_call(tasks: ModuleType) -> None:
    sig = tasks.add.s(1, 2)
    frozen = sig.freeze()
    result = sig.apply_async()
    assert result.id == frozen.id and result.get() == 3


def test_link_runs_inline(tasks: ModuleType, written: Written) -> None:
    links = [tasks.record.s(key=written.key), tasks.record.si("fixed", key=written.key)]
    result = tasks.add.apply_async((1, 2), link=links)
    assert written.already() == [
        {"args": [3], "kwargs": {}},
        {"args": ["fixed"], "kwargs": {}},
    ]
    assert result.get() == 3


def test_link_error_runs_inline(tasks: ModuleType, written: Written) -> None:
    result = tasks.boom.apply_async(("z",), link_error=tasks.errback.s(key=written.key))
    assert written.already() == [
        {
            "id": result.id,
            "task": f"{tasks.__name__}.boom",
            "args": ["z"],
            "kwargs": {},
            "exc": "Boom('z')",
            "exc_type": "Boom",
            "traceback": TRACEBACK,
        }
    ]
    assert result.state == states.FAILURE
    with pytest.raises(tasks.Boom):
        result.get()


def test_on_error_runs_inline(tasks: ModuleType, written: Written) -> None:
    result = tasks.boom.s("e").on_error(tasks.old_errback.s(key=written.key)).delay()
    assert written.already() == [{"task_id": result.id}]


# -- chains ----------------------------------------------------------------------------------


def test_chain_runs_step_by_step(tasks: ModuleType, canvas: ModuleType) -> None:
    first, second, last = ids(3)
    result = canvas.chain(
        tasks.add.s(1, 2).set(task_id=first),
        tasks.add.s(10).set(task_id=second),
        tasks.sub.s(100).set(task_id=last),
    ).delay()
    assert type(result).__name__ == "EagerResult"
    assert result.get() == -87
    steps = [result.parent.parent, result.parent, result]
    assert [step.id for step in steps] == [first, second, last]
    assert [step.get() for step in steps] == [3, 13, -87]
    assert [step.state for step in steps] == [states.SUCCESS] * 3
    assert result.parent.parent.parent is None
    assert (tasks.add.s(1, 2) | tasks.echo.si("alone")).delay().get()["args"] == ("alone",)


def test_chain_failing_in_the_middle_raises_at_the_call(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.boom.s(), tasks.add.s(100))
    with pytest.raises(tasks.Boom) as raised:
        workflow.on_error(tasks.errback.s(key=written.key)).delay()
    assert raised.value.args == (3,)
    [entry] = written.already()
    assert (entry["task"], entry["exc"]) == (f"{tasks.__name__}.boom", "Boom(3)")


def test_chain_failing_at_its_last_step(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.boom.s())
    result = workflow.apply_async(link_error=tasks.errback.s(key=written.key))
    assert (result.parent.state, result.state) == (states.SUCCESS, states.FAILURE)
    with pytest.raises(tasks.Boom):
        result.get()
    [entry] = written.already()
    assert (entry["id"], entry["exc"]) == (result.id, "Boom(3)")


# -- groups and chords -----------------------------------------------------------------------


def test_group_runs_its_members_in_order(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    made = (tasks.record.si(i, key=written.key) for i in range(3))
    result = canvas.group(made).delay()
    assert next(made, None) is None
    assert type(result).__name__ == "GroupResult"
    assert [entry["args"] for entry in written.already()] == [[0], [1], [2]]
    assert result.get() == [[0], [1], [2]]
    assert canvas.group(tasks.add.s(1), tasks.sub.s(2)).delay(10).get() == [11, 8]


def test_group_with_a_failing_member(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.group(tasks.add.s(1, 1), tasks.boom.s("g"), tasks.add.s(2, 2)).delay()
    assert [member.state for member in result] == [states.SUCCESS, states.FAILURE, states.SUCCESS]
    assert [repr(v) for v in result.get(propagate=False)] == ["2", "Boom('g')", "4"]
    with pytest.raises(tasks.Boom):
        result.get()


def test_chord(tasks: ModuleType, canvas: ModuleType) -> None:
    header = [tasks.add.s(1, 1), tasks.add.s(2, 2)]
    result = canvas.chord(header, tasks.echo.s("tail")).delay()
    assert type(result).__name__ == "EagerResult"
    assert result.get()["args"] == ([2, 4], "tail")
    assert canvas.chord(tasks.add.s(i, i) for i in range(4))(tasks.tsum.s()).get() == 12


def test_chord_with_a_failing_member_raises_at_the_call(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    header = [tasks.add.s(1, 1), tasks.boom.s("x"), tasks.add.s(2, 2)]
    body = tasks.tsum.s().on_error(tasks.errback.s(key=written.key))
    with pytest.raises(tasks.Boom) as raised:
        canvas.chord(header, body).delay()
    assert raised.value.args == ("x",)
    assert written.already() == []  # the body never runs: no ChordError, no errback


def test_chunks_map_and_starmap(tasks: ModuleType) -> None:
    result = tasks.add.chunks(zip(range(5), range(5), strict=True), 2).delay()
    assert result.get() == [[0, 2], [4, 6], [8]]
    assert tasks.tsum.map([[1, 2], [3, 4]]).delay().get() == [3, 7]
    assert tasks.sub.starmap([(5, 1), (1, 5)]).delay().get() == [4, -4]


def test_nested_forms(tasks: ModuleType, canvas: ModuleType) -> None:
    add, tsum = tasks.add, tasks.tsum
    group_of_chains = canvas.group(add.s(1, 1) | add.s(1), add.s(2, 2) | add.s(2))
    assert group_of_chains.delay().get() == [3, 6]
    chain_of_groups = canvas.chain(
        canvas.group(add.s(1, 1), add.s(2, 2)), tsum.s(), canvas.group(add.s(1), add.s(2))
    )
    assert chain_of_groups.delay().get() == [7, 8]
    group_then_task = canvas.chain(add.s(1, 1), canvas.group(add.s(1), add.s(2)), tsum.s())
    assert group_then_task.delay().get() == 7
    chord_in_chain = canvas.chain(
        add.s(1, 2), canvas.chord([add.s(1), add.s(2)], tsum.s()), add.s(100)
    )
    assert chord_in_chain.delay().get() == 109
    chain_in_header = canvas.chord([add.s(1, 1) | add.s(1), add.s(5, 5)], tsum.s())
    assert chain_in_header.delay().get() == 13
