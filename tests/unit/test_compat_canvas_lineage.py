"""Celery's lineage of canvas steps as the walk plans it (``canvas_lineage``); the
behaviour against a real Celery worker is in ``tests/celery_compat/sidebyside``."""

from __future__ import annotations

from pynenc_celery_compat.canvas_lineage import Lineage, request_lineage


def test_a_chain_passes_its_first_steps_root_on() -> None:
    lineage = Lineage()
    assert lineage.mark((), {}) == {}  # the first step: pynenc's own lineage
    second = lineage.mark(("a",), {})
    lineage.planned("b", second)
    third = lineage.mark(("b",), {})
    assert (second, third) == ({"parent": "a", "root": "a"}, {"parent": "b", "root": "a"})


def test_a_chord_body_has_a_root_only_when_its_members_share_one() -> None:
    lineage = Lineage()
    for member in ("m1", "m2"):
        lineage.planned(member, lineage.mark(("first",), {"group_id": "g", "group_index": 0}))
    assert lineage.mark(("m1", "m2"), {"group_id": "g"}) == {"root": "first", "group": "g"}
    assert Lineage().mark(("m1", "m2"), {}) == {}  # members of a chord sent on its own


def test_group_placement_and_what_the_request_shows() -> None:
    mark = Lineage().mark(("a",), {"group_id": "g", "group_index": 1, "queue": "q"})
    assert mark == {"parent": "a", "root": "a", "group": "g", "group_index": 1}
    assert request_lineage(mark, None) == {
        "parent_id": "a",
        "root_id": "a",
        "group": "g",
        "group_index": 1,
    }
    # sent from inside a task: the root stays that task's (pynenc's), the parent Celery's
    assert request_lineage(mark, "caller") == {"parent_id": "a", "group": "g", "group_index": 1}


def test_several_callbacks_are_one_group_and_groups_go_alone() -> None:
    lineage = Lineage()
    assert lineage.callbacks([{"subtask_type": None}]) == [{}]
    placed = lineage.callbacks(
        [{"subtask_type": None}, {"subtask_type": "group"}, {"subtask_type": None}]
    )
    group_id = placed[0]["group_id"]
    assert placed == [
        {"group_id": group_id, "group_index": 0},
        {},
        {"group_id": group_id, "group_index": 1},
    ]
