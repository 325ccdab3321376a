"""Groups, chunks and maps of compat tasks on a pynenc runner (memory and Redis), as Celery
5.7 runs them."""

from __future__ import annotations

from types import ModuleType

import pytest

from pynenc_celery_compat import GroupResult, chain, chunks, group, xmap, xstarmap
from tests.celery_compat.canvas_fixtures import WAIT, canvas_runner  # noqa: F401
from tests.celery_compat.canvas_tasks import read_note

T = WAIT


def test_a_group_lists_results_in_order(canvas: ModuleType) -> None:
    consumed = []

    def members():  # a generator: consumed before anything is sent
        for i in range(5):
            consumed.append(i)
            yield canvas.add.s(i, i)

    result = group(members()).apply_async(task_id="my-group")
    assert consumed == [0, 1, 2, 3, 4]
    assert isinstance(result, GroupResult) and result.id == "my-group"
    assert result.get(timeout=T) == [0, 2, 4, 6, 8]
    assert len(result) == 5 and result.ready() and result.successful()
    assert result.completed_count() == 5


def test_partial_arguments_nested_groups_and_chains(canvas: ModuleType) -> None:
    assert group(canvas.add.s(1), canvas.add.s(2)).delay(10).get(timeout=T) == [11, 12]
    nested = group(group(canvas.add.s(1, 1), canvas.add.s(2, 2)), canvas.add.s(3, 3))
    assert nested.delay().get(timeout=T) == [2, 4, 6]  # flattened, as Celery does
    chains = group(
        chain(canvas.add.s(1, 1), canvas.add.s(1)), chain(canvas.add.s(2, 2), canvas.mul.s(3))
    ).delay()
    assert chains.get(timeout=T) == [3, 12]
    assert [r.parent.get(timeout=T) for r in chains.results] == [2, 4]


def test_an_empty_group(canvas: ModuleType) -> None:
    result = group([]).delay()
    assert isinstance(result, GroupResult) and result.get(timeout=T) == []


def test_group_callbacks_as_celery_places_them(canvas: ModuleType) -> None:
    with pytest.raises(TypeError, match="use a chord"):
        group(canvas.add.s(1, 1)).apply_async(link=canvas.note.s("x"))
    linked = group(canvas.add.s(1, 1), canvas.add.s(2, 2))
    linked.link(canvas.note.s("own", "group-link"))  # the first member's, immutable
    assert linked.delay().get(timeout=T) == [2, 4]
    assert read_note("group-link") == "own"
    failing = group(canvas.add.s(1, 1), canvas.boom.s())
    failing.link_error(canvas.errback_old.s())  # every member's
    result = failing.delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    assert read_note(f"old-{result.results[1].id}") == result.results[1].id


def test_chunks_map_and_starmap(canvas: ModuleType) -> None:
    parts = canvas.add.chunks([(i, i) for i in range(5)], 2)
    assert isinstance(parts, chunks)
    assert parts.delay().get(timeout=T) == [[0, 2], [4, 6], [8]]
    assert isinstance(parts.group(), group)
    assert parts.group().delay().get(timeout=T) == [[0, 2], [4, 6], [8]]
    mapped = canvas.tsum.map([[1, 2], [3]])
    assert isinstance(mapped, xmap) and mapped.delay().get(timeout=T) == [3, 3]
    starred = canvas.add.starmap([(1, 2), (3, 4)])
    assert isinstance(starred, xstarmap) and starred.delay().get(timeout=T) == [3, 7]
    # in a canvas: a map is one step, immutable (it receives nothing)
    steps = chain(canvas.add.s(1, 1), canvas.tsum.map([[1], [2, 3]]))
    assert steps.delay().get(timeout=T) == [1, 5]
    assert group(mapped, starred).delay().get(timeout=T) == [[3, 3], [3, 7]]


def test_group_freeze_and_a_group_of_one_chain_ending_in_a_group(canvas: ModuleType) -> None:
    members = group(canvas.add.s(1, 1), canvas.add.s(2, 2))
    frozen = members.freeze()
    result = members.apply_async()
    assert result.id == frozen.id and [r.id for r in result] == [r.id for r in frozen]
    assert result.get(timeout=T) == [2, 4]
    single = group(canvas.add.s(1, 1) | group(canvas.add.s(1), canvas.add.s(2))).delay()
    assert isinstance(single, GroupResult) and single.get(timeout=T) == [3, 4]  # as Celery
