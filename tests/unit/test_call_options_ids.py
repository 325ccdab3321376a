"""``CallOptions(invocation_ids=...)``: many caller-chosen ids routed in one call, as
``wf.execute_tasks`` registers its children."""

from __future__ import annotations

from typing import Any

import pytest

from pynenc import InvocationConflictError, Pynenc
from pynenc.call import Call, submit
from pynenc.call_options import CallOptions
from tests.apps import core


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"invocation_ids": ["a", "b"]}, TypeError, "a tuple of ids"),
        ({"invocation_ids": ("a", "two words")}, ValueError, "'two words': an invocation id"),
        ({"invocation_ids": ("a", "")}, ValueError, "without spaces"),
        ({"invocation_ids": ("a", 7)}, ValueError, "7: an invocation id"),
        ({"invocation_ids": ("a", "b", "a")}, ValueError, r"more than once: \['a'\]"),
        ({"invocation_ids": ("a",), "invocation_id": "b"}, ValueError, "not both"),
    ],
)
def test_bad_ids_are_refused_when_given(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CallOptions(**options)


def _calls(*values: int) -> list[Call[Any, Any]]:
    return [Call(core.add, core.add.args(v, v)) for v in values]


def test_each_call_gets_its_id_in_order_and_a_second_route_returns_the_same(
    core_app: Pynenc,
) -> None:
    ids = ("batch-a", "batch-b", "batch-c")
    first = submit(_calls(1, 2, 3), 1, CallOptions(invocation_ids=ids))
    assert [i.invocation_id for i in first] == list(ids)
    records = core_app.state_backend.get_many(list(ids))
    assert [r.task_id if r else None for r in records] == [core.add.task_id.key] * 3
    again = submit(_calls(1, 2, 3), 1, CallOptions(invocation_ids=ids))
    assert [i.invocation_id for i in again] == list(ids)
    # registered once: the second route published nothing
    assert core_app.broker.queue_depth(core.add.conf.queue) == 3


def test_ids_held_and_new_mix_and_other_arguments_conflict(core_app: Pynenc) -> None:
    submit(_calls(2), 1, CallOptions(invocation_id="mix-b"))
    mixed = submit(_calls(1, 2), 1, CallOptions(invocation_ids=("mix-a", "mix-b")))
    assert [i.invocation_id for i in mixed] == ["mix-a", "mix-b"]
    assert core_app.broker.queue_depth(core.add.conf.queue) == 2
    with pytest.raises(InvocationConflictError, match="mix-b"):
        submit(_calls(1, 5), 1, CallOptions(invocation_ids=("mix-a", "mix-b")))


def test_the_ids_must_name_every_call_routed(core_app: Pynenc) -> None:
    with pytest.raises(ValueError, match="names 2 calls, but 3 are routed"):
        submit(_calls(1, 2, 3), 1, CallOptions(invocation_ids=("n-a", "n-b")))
    assert core_app.state_backend.get("n-a") is None
