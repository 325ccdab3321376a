"""Canvas on a worker, part 2: groups, chords, chunks, map/starmap and nested forms.

Same rules as ``test_canvas.py``: one text for both flavours, ``canvas`` is the flavour's
package, callbacks write down what they were given and the test waits for each entry.
"""

from __future__ import annotations

import uuid
from types import ModuleType

import pytest
from celery import exceptions, states

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour, Gate, Written, settled

# -- groups ----------------------------------------------------------------------------------


def test_group_results_keep_the_header_order(
    tasks: ModuleType, canvas: ModuleType, gate: Gate
) -> None:
    result = canvas.group(
        tasks.untracked.s(gate.path), tasks.add.s(1, 1), tasks.add.s(2, 2)
    ).delay()
    assert type(result).__name__ == "GroupResult" and len(result) == 3
    assert [member.get(timeout=WAIT) for member in result.results[1:]] == [2, 4]
    assert result.completed_count() == 2 and not result.ready()  # the first one still runs
    gate.release()
    assert result.get(timeout=WAIT) == ["done", 2, 4]
    assert result.ready() and result.successful() and not result.failed()
    assert [member.state for member in result] == [states.SUCCESS] * 3


def test_group_members_know_their_group(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.group(tasks.lineage.s(), tasks.lineage.s()).delay()
    seen = result.get(timeout=WAIT)
    assert [s["id"] for s in seen] == [member.id for member in result.results]
    assert [(s["group"], s["group_index"]) for s in seen] == [(result.id, 0), (result.id, 1)]
    assert [(s["parent_id"], s["root_id"]) for s in seen] == [(None, s["id"]) for s in seen]


def test_group_consumes_a_generator(tasks: ModuleType, canvas: ModuleType) -> None:
    made = (tasks.add.s(i, i) for i in range(4))
    result = canvas.group(made).delay()
    assert result.get(timeout=WAIT) == [0, 2, 4, 6]
    assert next(made, None) is None


def test_group_arguments_go_to_every_member(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.group(tasks.add.s(1), tasks.sub.s(2)).apply_async((10,))
    assert result.get(timeout=WAIT) == [11, 8]


def test_group_with_a_failing_member(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.group(tasks.add.s(1, 1), tasks.boom.s("g"), tasks.add.s(2, 2)).delay()
    values = result.get(timeout=WAIT, propagate=False)
    assert [repr(value) for value in values] == ["2", "Boom('g')", "4"]
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    assert [member.state for member in result] == [states.SUCCESS, states.FAILURE, states.SUCCESS]
    assert result.failed() and not result.successful()


def test_group_freeze_gives_the_ids_the_call_uses(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.group(tasks.add.s(1, 1), tasks.add.s(2, 2))
    frozen = workflow.freeze()
    result = workflow.apply_async()
    assert result.id == frozen.id
    assert [m.id for m in result.results] == [m.id for m in frozen.results]
    assert result.get(timeout=WAIT) == [2, 4]


# -- chords ----------------------------------------------------------------------------------


def test_chord_body_gets_the_ordered_results(
    tasks: ModuleType, canvas: ModuleType, gate: Gate
) -> None:
    header = [tasks.untracked.s(gate.path), tasks.add.s(1, 1), tasks.add.s(2, 2)]
    result = canvas.chord(header, tasks.echo.s("tail", k=1)).delay()
    assert type(result.parent).__name__ == "GroupResult"
    assert [member.get(timeout=WAIT) for member in result.parent.results[1:]] == [2, 4]
    assert result.state == states.PENDING  # the body waits for the whole header
    gate.release()
    value = result.get(timeout=WAIT)
    assert (value["args"], value["kwargs"]) == ([["done", 2, 4], "tail"], {"k": 1})
    assert result.state == states.SUCCESS


def test_chord_called_with_its_body(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chord(tasks.add.s(i, i) for i in range(4))(tasks.tsum.s())
    assert result.get(timeout=WAIT) == 12


def test_chord_freeze_gives_the_body_id(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chord([tasks.add.s(1, 1), tasks.add.s(2, 2)], tasks.tsum.s())
    frozen = workflow.freeze()
    result = workflow.apply_async()
    assert result.id == frozen.id
    assert result.get(timeout=WAIT) == 6


@pytest.mark.filterwarnings("ignore:task_allow_error_cb_on_chord_header")  # Celery's notice
@pytest.mark.parametrize("where", ["body.on_error", "chord.on_error"])
def test_chord_with_a_failing_member(
    tasks: ModuleType, canvas: ModuleType, flavour: Flavour, written: Written, where: str
) -> None:
    failing = str(uuid.uuid4())
    header = [tasks.add.s(1, 1), tasks.boom.s("x").set(task_id=failing), tasks.add.s(2, 2)]
    on_error = tasks.errback.s(key=written.key)
    if where == "body.on_error":
        workflow = canvas.chord(header, tasks.tsum.s().on_error(on_error))
    else:  # as paperless-ngx writes it
        workflow = canvas.chord(header, tasks.tsum.s()).on_error(on_error)
    result = workflow.delay()
    message = f"Dependency {failing} raised Boom('x')"
    [entry] = written.take()  # the body's errback, with Celery's arguments
    assert entry == {
        "id": result.id,
        "task": f"{tasks.__name__}.tsum",
        "args": [],
        "kwargs": {},
        "exc": f'ChordError("{message}")',
        "exc_type": "ChordError",
        "traceback": None,
    }
    with pytest.raises(exceptions.ChordError) as raised:
        flavour.AsyncResult(result.id).get(timeout=WAIT)
    assert str(raised.value) == message
    assert result.state == states.FAILURE
    with pytest.raises(exceptions.ChordError):
        result.get(timeout=WAIT, follow_parents=False)
    with pytest.raises(tasks.Boom):  # the call's handle follows its parent: the member's error
        result.get(timeout=WAIT)
    members = [member.state for member in result.parent]
    assert members == [states.SUCCESS, states.FAILURE, states.SUCCESS]
    written.nothing_more()


def test_group_then_a_task_in_a_chain_is_a_chord(tasks: ModuleType, canvas: ModuleType) -> None:
    assert isinstance(canvas.group(tasks.add.s(1, 1)) | tasks.tsum.s(), canvas.chord)
    workflow = canvas.chain(
        tasks.add.s(1, 1), canvas.group(tasks.add.s(1), tasks.add.s(2)), tasks.tsum.s()
    )
    result = workflow.delay()
    assert result.get(timeout=WAIT) == 7  # tsum([add(2, 1), add(2, 2)])
    assert type(result.parent).__name__ == "GroupResult"
    assert result.parent.get(timeout=WAIT) == [3, 4]


# -- chunks, map, starmap --------------------------------------------------------------------


def test_chunks(tasks: ModuleType) -> None:
    result = tasks.add.chunks(zip(range(5), range(5), strict=True), 2).delay()
    assert type(result).__name__ == "GroupResult"
    assert result.get(timeout=WAIT) == [[0, 2], [4, 6], [8]]


def test_chunks_as_a_group(tasks: ModuleType) -> None:
    workflow = tasks.add.chunks(zip(range(5), range(5), strict=True), 2).group()
    assert workflow.delay().get(timeout=WAIT) == [[0, 2], [4, 6], [8]]


def test_map_and_starmap_are_one_call(tasks: ModuleType, canvas: ModuleType) -> None:
    assert tasks.tsum.map([[1, 2], [3, 4]]).delay().get(timeout=WAIT) == [3, 7]
    assert tasks.sub.starmap([(5, 1), (1, 5)]).delay().get(timeout=WAIT) == [4, -4]
    assert canvas.xmap(tasks.tsum.s(), [[5, 5]]).delay().get(timeout=WAIT) == [10]
    assert canvas.xstarmap(tasks.add.s(), [(1, 1)]).delay().get(timeout=WAIT) == [2]


# -- nested forms ----------------------------------------------------------------------------


def test_group_of_chains(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.group(
        canvas.chain(tasks.add.s(1, 1), tasks.add.s(1)),
        tasks.add.s(2, 2) | tasks.add.s(2),
    ).delay()
    assert result.get(timeout=WAIT) == [3, 6]


def test_group_of_chains_places_each_chains_last_step(
    tasks: ModuleType, canvas: ModuleType
) -> None:
    chains = [canvas.chain(tasks.lineage.s(), tasks.lineage.s()) for _ in range(2)]
    result = canvas.group(*chains).delay()
    seen = result.get(timeout=WAIT)
    firsts = [member.parent for member in result.results]
    assert [(s["parent_id"], s["root_id"], s["group"], s["group_index"]) for s in seen] == [
        (first.id, first.id, result.id, index) for index, first in enumerate(firsts)
    ]
    assert [first.get(timeout=WAIT)["group"] for first in firsts] == [None, None]


def test_chain_of_groups(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(
        canvas.group(tasks.add.s(1, 1), tasks.add.s(2, 2)),
        tasks.tsum.s(),
        canvas.group(tasks.add.s(1), tasks.add.s(2)),
        tasks.tsum.s(),
    )
    assert workflow.delay().get(timeout=WAIT) == 15  # 6 → [7, 8] → 15


def test_chain_ending_in_a_group(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chain(tasks.add.s(1, 1), canvas.group(tasks.add.s(10), tasks.add.s(20))).delay()
    assert type(result).__name__ == "GroupResult"
    assert result.get(timeout=WAIT) == [12, 22]


def test_chord_inside_a_chain(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(
        tasks.add.s(1, 2),
        canvas.chord([tasks.add.s(1), tasks.add.s(2)], tasks.tsum.s()),
        tasks.add.s(100),
    )
    assert workflow.delay().get(timeout=WAIT) == 109  # 3 → [4, 5] → 9 → 109


def test_chord_members_and_body_know_the_header(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chord([tasks.lineage.s(), tasks.lineage.s()], tasks.lineage.s()).delay()
    body = result.get(timeout=WAIT)
    header = result.parent
    members = header.get(timeout=WAIT)
    assert [(s["group"], s["group_index"]) for s in members] == [(header.id, 0), (header.id, 1)]
    assert (body["group"], body["group_index"]) == (header.id, None)
    assert [member.children for member in header.results] == [[], []]


def test_a_chord_in_a_chain_lineage_and_children(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(
        tasks.lineage.s(), canvas.group(tasks.lineage.s(), tasks.lineage.s()), tasks.lineage.s()
    )
    result = workflow.delay()
    body = result.get(timeout=WAIT)
    header = result.parent
    first = header.parent
    members = header.get(timeout=WAIT)
    assert [(s["parent_id"], s["root_id"], s["group"], s["group_index"]) for s in members] == [
        (first.id, first.id, header.id, 0),
        (first.id, first.id, header.id, 1),
    ]
    assert (body["root_id"], body["group"]) == (first.id, header.id)
    settled(first)
    [child] = first.children  # the chord's header, as one GroupResult
    assert type(child).__name__ == "GroupResult" and child.id == header.id
    assert [member.id for member in child.results] == [member.id for member in header.results]


def test_chain_inside_a_chords_header(tasks: ModuleType, canvas: ModuleType) -> None:
    header = [canvas.chain(tasks.add.s(1, 1), tasks.add.s(1)), tasks.add.s(5, 5)]
    assert canvas.chord(header, tasks.tsum.s()).delay().get(timeout=WAIT) == 13


def test_failure_in_a_chain_inside_a_chords_header(
    tasks: ModuleType, canvas: ModuleType, flavour: Flavour, written: Written
) -> None:
    failing = str(uuid.uuid4())
    inner = canvas.chain(tasks.add.s(1, 1), tasks.boom.s().set(task_id=failing))
    body = tasks.tsum.s().on_error(tasks.errback.s(key=written.key))
    result = canvas.chord([inner, tasks.add.s(5, 5)], body).delay()
    [entry] = written.take()
    assert (entry["id"], entry["exc"]) == (
        result.id,
        f"ChordError('Dependency {failing} raised Boom(2)')",
    )
    with pytest.raises(exceptions.ChordError):
        flavour.AsyncResult(result.id).get(timeout=WAIT)
    written.nothing_more()
