"""Canvas on a worker, part 1: signatures, links and error callbacks, chains.

Written once against Celery's public API; ``canvas`` is the package the flavour's canvas
names come from (``celery`` or ``pynenc_celery_compat``). Callbacks write down what they were
given (``written``); the test waits for each entry, never sleeps. Groups, chords, chunks,
maps and nested forms: ``test_canvas_chords.py``; eager mode: ``test_canvas_eager.py``.
"""

from __future__ import annotations

import json
import uuid
from types import ModuleType

import pytest
from celery import states

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour, Written

TRACEBACK = "Traceback (most recent call last):"


def ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


# -- signatures ----------------------------------------------------------------------------


def test_a_signature_is_a_dict_with_celerys_keys(tasks: ModuleType, canvas: ModuleType) -> None:
    sig = tasks.add.s(2)
    assert isinstance(sig, dict) and isinstance(sig, canvas.Signature)
    assert dict(sig) == {
        "task": f"{tasks.__name__}.add",
        "args": (2,),
        "kwargs": {},
        "options": {},
        "subtask_type": None,
        "immutable": False,
    }
    assert (sig.task, sig.args, sig.kwargs, sig.options) == (sig["task"], (2,), {}, {})
    assert dict(tasks.add.si(1, 2)) == {**dict(sig), "args": (1, 2), "immutable": True}
    assert json.loads(json.dumps(sig))["task"] == f"{tasks.__name__}.add"


def test_signature_of_a_dict_rebuilds_it(tasks: ModuleType, canvas: ModuleType) -> None:
    carried = json.loads(json.dumps(tasks.add.s(1, y=2)))  # as a message or a database has it
    rebuilt = canvas.signature(carried)
    assert isinstance(rebuilt, canvas.Signature)
    assert dict(rebuilt) == carried
    assert rebuilt.delay().get(timeout=WAIT) == 3
    by_name = canvas.signature(f"{tasks.__name__}.add", args=(4, 4))
    assert by_name.delay().get(timeout=WAIT) == 8


def test_set_updates_the_options(tasks: ModuleType) -> None:
    sig = tasks.add.s(1, 1)
    assert sig.set(countdown=0, queue="celery") is sig
    assert sig.options == {"countdown": 0, "queue": "celery"}
    chosen = str(uuid.uuid4())
    result = sig.set(task_id=chosen).delay()
    assert result.id == chosen
    assert result.get(timeout=WAIT) == 2


def test_clone_prepends_args_and_merges_kwargs_and_options(tasks: ModuleType) -> None:
    sig = tasks.echo.s(1, a=1).set(countdown=0)
    copy = sig.clone(args=(0,), kwargs={"b": 2}, priority=5)
    assert dict(copy) == {
        **dict(sig),
        "args": (0, 1),
        "kwargs": {"a": 1, "b": 2},
        "options": {"countdown": 0, "priority": 5},
    }
    assert (sig.args, sig.kwargs, sig.options) == ((1,), {"a": 1}, {"countdown": 0})
    value = copy.delay().get(timeout=WAIT)
    assert (value["args"], value["kwargs"]) == ([0, 1], {"a": 1, "b": 2})


def test_s_prepends_new_args_and_merges_kwargs(tasks: ModuleType) -> None:
    assert tasks.sub.s(10).delay(3).get(timeout=WAIT) == -7  # sub(3, 10)
    assert tasks.sub.s(10).apply_async((30,)).get(timeout=WAIT) == 20
    value = tasks.echo.s(1, a=1, b=1).apply_async((0,), {"b": 2, "c": 3}).get(timeout=WAIT)
    assert value["args"] == [0, 1]
    assert value["kwargs"] == {"a": 1, "b": 2, "c": 3}


def test_si_keeps_its_arguments(tasks: ModuleType) -> None:
    value = tasks.echo.si(1, a=1).apply_async((0,), {"b": 2}).get(timeout=WAIT)
    assert (value["args"], value["kwargs"]) == ([1], {"a": 1})
    assert tasks.echo.si(5).delay(6).get(timeout=WAIT)["args"] == [5]


def test_apply_runs_in_the_caller(tasks: ModuleType) -> None:
    result = tasks.add.s(1).apply((2,))
    assert result.ready() and result.state == states.SUCCESS
    assert result.get() == 3
    failed = tasks.boom.s("here").apply()
    assert failed.state == states.FAILURE
    with pytest.raises(tasks.Boom):
        failed.get()


def test_freeze_gives_the_id_the_call_uses(tasks: ModuleType, flavour: Flavour) -> None:
    sig = tasks.add.s(1, 2)
    frozen = sig.freeze()
    assert sig.id == frozen.id == sig.options["task_id"]
    result = sig.apply_async()
    assert result.id == frozen.id
    assert frozen.get(timeout=WAIT) == 3
    assert flavour.AsyncResult(frozen.id).state == states.SUCCESS


# -- link, link_error, on_error --------------------------------------------------------------


def test_link_gets_the_result_prepended(tasks: ModuleType, written: Written) -> None:
    result = tasks.add.apply_async((1, 2), link=tasks.record.s("after", key=written.key))
    assert result.get(timeout=WAIT) == 3
    assert written.take() == [{"args": [3, "after"], "kwargs": {}}]
    written.nothing_more()


def test_several_links_and_an_immutable_one(tasks: ModuleType, written: Written) -> None:
    links = [tasks.record.s(key=written.key), tasks.record.si("fixed", key=written.key)]
    assert tasks.add.apply_async((1, 2), link=links).get(timeout=WAIT) == 3
    entries = sorted(written.take(2), key=json.dumps)
    assert entries == [{"args": ["fixed"], "kwargs": {}}, {"args": [3], "kwargs": {}}]


def test_a_link_on_a_signature_and_its_result(tasks: ModuleType, flavour: Flavour) -> None:
    follow_up = tasks.add.s(10)
    follow_up.freeze()
    sig = tasks.add.s(1, 2)
    assert sig.link(follow_up) is follow_up
    assert sig.delay().get(timeout=WAIT) == 3
    assert flavour.AsyncResult(follow_up.id).get(timeout=WAIT) == 13  # add(3, 10)


def test_a_link_callback_knows_its_parent(tasks: ModuleType, flavour: Flavour) -> None:
    follow_up = tasks.lineage.s()
    follow_up.freeze()
    parent = tasks.add.apply_async((1, 2), link=follow_up)
    assert parent.get(timeout=WAIT) == 3
    seen = flavour.AsyncResult(follow_up.id).get(timeout=WAIT)
    assert (seen["id"], seen["parent_id"], seen["root_id"]) == (follow_up.id, parent.id, parent.id)


def test_several_links_are_sent_as_one_group(tasks: ModuleType, flavour: Flavour) -> None:
    first, second = tasks.lineage.s(), tasks.lineage.s()
    first.freeze()
    second.freeze()
    parent = tasks.add.apply_async((1, 2), link=[first, second])
    assert parent.get(timeout=WAIT) == 3
    seen = [flavour.AsyncResult(sig.id).get(timeout=WAIT) for sig in (first, second)]
    [child] = parent.children  # Celery sends several callbacks as one group
    assert type(child).__name__ == "GroupResult"
    assert [member.id for member in child.results] == [first.id, second.id]
    assert [(s["parent_id"], s["root_id"], s["group"], s["group_index"]) for s in seen] == [
        (parent.id, parent.id, child.id, 0),
        (parent.id, parent.id, child.id, 1),
    ]


def test_a_canvas_sent_by_a_task_keeps_that_tasks_root(tasks: ModuleType, flavour: Flavour) -> None:
    caller = tasks.lineage_chain.delay()
    first, second = caller.get(timeout=WAIT)
    seen = [flavour.AsyncResult(step).get(timeout=WAIT) for step in (first, second)]
    assert [(s["id"], s["parent_id"], s["root_id"]) for s in seen] == [
        (first, caller.id, caller.id),
        (second, first, caller.id),
    ]


def test_link_error_new_style_gets_request_exception_traceback(
    tasks: ModuleType, written: Written
) -> None:
    result = tasks.boom.apply_async(("z", 1), link_error=tasks.errback.s(key=written.key))
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    assert written.take() == [
        {
            "id": result.id,
            "task": f"{tasks.__name__}.boom",
            "args": ["z", 1],
            "kwargs": {},
            "exc": "Boom('z', 1)",
            "exc_type": "Boom",
            "traceback": TRACEBACK,
        }
    ]
    written.nothing_more()


def test_link_error_old_style_gets_the_task_id(tasks: ModuleType, written: Written) -> None:
    result = tasks.boom.apply_async(("old",), link_error=tasks.old_errback.s(key=written.key))
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    assert written.take() == [{"task_id": result.id}]


def test_each_callback_only_on_its_outcome(tasks: ModuleType, written: Written) -> None:
    ok = tasks.add.apply_async((1, 1), link_error=tasks.errback.s(key=written.key))
    failed = tasks.boom.apply_async(("x",), link=tasks.record.s(key=written.key))
    assert ok.get(timeout=WAIT) == 2
    assert isinstance(failed.get(timeout=WAIT, propagate=False), tasks.Boom)
    written.nothing_more()


def test_on_error_of_a_signature(tasks: ModuleType, written: Written) -> None:
    sig = tasks.boom.s("e")
    assert sig.on_error(tasks.errback.s(key=written.key)) is sig
    result = sig.delay()
    [entry] = written.take()
    assert (entry["id"], entry["exc"], entry["traceback"]) == (result.id, "Boom('e')", TRACEBACK)
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)


# -- chains ----------------------------------------------------------------------------------


def test_chain_passes_each_result_on(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.add.s(10), tasks.sub.s(100))
    assert workflow.delay().get(timeout=WAIT) == -87  # sub(add(3, 10), 100)


def test_pipe_makes_a_chain(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = tasks.add.s(1, 2) | tasks.add.s(10) | tasks.sub.s(100)
    assert isinstance(workflow, canvas.Signature)
    assert workflow.delay().get(timeout=WAIT) == -87


def test_chain_arguments_go_to_the_first_step(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(tasks.sub.s(1), tasks.add.s(10))
    assert workflow.apply_async((5,)).get(timeout=WAIT) == 14  # add(sub(5, 1), 10)
    # a new chain: Celery's keeps the ids it gave its steps (a second call reuses them)
    assert canvas.chain(tasks.sub.s(1), tasks.add.s(10)).delay(7).get(timeout=WAIT) == 16


def test_chain_last_result_links_back_to_every_step(
    tasks: ModuleType, canvas: ModuleType, flavour: Flavour
) -> None:
    first, second, last = ids(3)
    result = canvas.chain(
        tasks.add.s(1, 2).set(task_id=first),
        tasks.add.s(10).set(task_id=second),
        tasks.sub.s(100).set(task_id=last),
    ).apply_async()
    assert result.get(timeout=WAIT) == -87
    steps = [result.parent.parent, result.parent, result]
    assert [step.id for step in steps] == [first, second, last]
    assert result.parent.parent.parent is None
    # Celery's worker sends a chain's next step before it stores the step's own result:
    # an earlier step may still read PENDING when the last one is done, so wait for them
    assert [flavour.AsyncResult(i).get(timeout=WAIT) for i in (first, second)] == [3, 13]
    assert [step.state for step in steps] == [states.SUCCESS] * 3


def test_chain_steps_know_their_parent_and_root(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chain(tasks.lineage.s(), tasks.lineage.s(), tasks.lineage.s()).delay()
    result.get(timeout=WAIT)
    steps = [result.parent.parent, result.parent, result]
    first, second, last = (step.id for step in steps)
    seen = [step.get(timeout=WAIT) for step in steps]
    assert [(s["id"], s["parent_id"], s["root_id"]) for s in seen] == [
        (first, None, first),
        (second, first, first),
        (last, second, first),
    ]
    assert [s["group"] for s in seen] == [None] * 3


def test_chain_steps_list_the_next_as_their_child(tasks: ModuleType, canvas: ModuleType) -> None:
    result = canvas.chain(tasks.add.s(1, 1), tasks.add.s(1), tasks.add.s(1)).delay()
    assert result.get(timeout=WAIT) == 4
    steps = [result.parent.parent, result.parent, result]
    assert [[child.id for child in step.children or []] for step in steps] == [
        [steps[1].id],
        [steps[2].id],
        [],
    ]


def test_a_link_on_a_chain_has_the_chains_root(
    tasks: ModuleType, canvas: ModuleType, flavour: Flavour
) -> None:
    follow_up = tasks.lineage.s()
    follow_up.freeze()
    result = canvas.chain(tasks.add.s(1, 2), tasks.add.s(3)).apply_async(link=follow_up)
    assert result.get(timeout=WAIT) == 6
    seen = flavour.AsyncResult(follow_up.id).get(timeout=WAIT)
    assert (seen["parent_id"], seen["root_id"]) == (result.id, result.parent.id)
    assert [child.id for child in result.children] == [follow_up.id]
    assert [child.id for child in result.parent.children] == [result.id]


def test_an_error_callback_gets_the_failed_steps_place(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.boom.s())
    result = workflow.apply_async(link_error=tasks.errback_lineage.s(key=written.key))
    [entry] = written.take()
    first = result.parent.id
    assert entry == {
        "id": result.id,
        "parent_id": first,
        "root_id": first,
        "group": None,
        "group_index": None,
    }
    # the first step's children are stored with its result, which Celery's worker stores
    # after it sends the next step (that step may fail and call back first): wait for it
    assert result.parent.get(timeout=WAIT) == 3
    assert result.parent.children == [result]  # listed: the step was sent
    assert result.children in (None, [])  # it failed: nothing after it was sent


def test_si_in_a_chain_ignores_the_previous_result(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.echo.si("alone"), tasks.echo.s())
    value = workflow.delay().get(timeout=WAIT)
    assert value["args"][0]["args"] == ["alone"]


def test_chain_freeze_gives_the_ids_the_call_uses(tasks: ModuleType, canvas: ModuleType) -> None:
    workflow = canvas.chain(tasks.add.s(1, 1), tasks.add.s(2))
    frozen = workflow.freeze()
    result = workflow.apply_async()
    assert (result.id, result.parent.id) == (frozen.id, frozen.parent.id)
    assert frozen.get(timeout=WAIT) == 4


def test_link_on_a_chain_follows_its_last_step(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    workflow = canvas.chain(tasks.add.s(1, 2), tasks.add.s(3))
    assert workflow.apply_async(link=tasks.record.s(key=written.key)).get(timeout=WAIT) == 6
    assert written.take() == [{"args": [6], "kwargs": {}}]
    written.nothing_more()


def test_chain_failing_in_the_middle(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    first, failing, last = ids(3)
    result = (
        canvas.chain(
            tasks.add.s(1, 2).set(task_id=first),
            tasks.boom.s().set(task_id=failing),
            tasks.add.s(100).set(task_id=last),
        )
        .on_error(tasks.errback.s(key=written.key))
        .delay()
    )
    [entry] = written.take()  # once: for the step that failed
    assert (entry["id"], entry["task"]) == (failing, f"{tasks.__name__}.boom")
    assert (entry["args"], entry["exc"], entry["traceback"]) == ([3], "Boom(3)", TRACEBACK)
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert raised.value.args == (3,)
    steps = [result.parent.parent, result.parent, result]
    assert [step.id for step in steps] == [first, failing, last]
    # the steps after the failure never run: Celery stores the same error for them
    assert [step.state for step in steps] == [states.SUCCESS, states.FAILURE, states.FAILURE]
    assert repr(result.result) == "Boom(3)"
    written.nothing_more()


def test_chain_failing_first_with_link_error(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    workflow = canvas.chain(tasks.boom.s("first"), tasks.add.s(1), tasks.add.s(2))
    result = workflow.apply_async(link_error=tasks.errback.s(key=written.key))
    [entry] = written.take()
    assert (entry["id"], entry["exc"]) == (result.parent.parent.id, "Boom('first')")
    with pytest.raises(tasks.Boom):
        result.get(timeout=WAIT)
    steps = [result.parent.parent, result.parent, result]
    assert [step.state for step in steps] == [states.FAILURE] * 3
    written.nothing_more()
