"""Planning a composition (:class:`pynenc.compose.Planner`): what each step waits for and
receives, decided before anything is registered."""

from __future__ import annotations

import datetime as dt

import pytest

from pynenc import chain, chord, group
from pynenc.compose import Node, Planner, Step
from pynenc.compose_run import _links
from pynenc.records import ON_FAILURE, RECEIVE_LIST, RECEIVE_VALUE, Links
from tests.apps import canvas as t


def _plan(node: Node) -> list[Step]:
    planner = Planner()
    planner.node(node, (), None)
    return list(planner.steps.values())


def _task(step: Step) -> str:
    return step.sig.task.task_id.func_name


def _by_task(steps: list[Step], name: str) -> Step:
    (found,) = [step for step in steps if _task(step) == name]
    return found


def test_a_step_after_an_empty_group_waits_for_what_the_group_followed() -> None:
    """``a | group() | c``: ``c`` gets an empty list, once ``a`` has succeeded (before:
    it ran at once, even when ``a`` failed)."""
    first, last = _plan(chain(t.boom.sig(1), group(), t.collect.sig(tag="after")))
    assert last.after == (first.invocation_id,)
    assert last.receive is None, "the empty list is bound now; nothing comes from a"
    assert last.arguments.kwargs == {"values": [], "tag": "after"}
    assert first.then == [last.invocation_id]


def test_a_chord_with_an_empty_header_starts_its_body_at_once() -> None:
    (body,) = _plan(chord([], t.collect.sig()))
    assert body.after == () and body.receive is None
    assert body.arguments.kwargs == {"values": [], "tag": ""}  # defaults stored, as a call


def test_an_empty_group_between_two_groups_passes_the_wait_on() -> None:
    steps = _plan(chain(group(t.const.sig(1), t.const.sig(2)), group(), t.collect.sig()))
    members, body = steps[:2], steps[2]
    assert body.after == tuple(m.invocation_id for m in members)
    assert body.receive is None and body.arguments.kwargs == {"values": [], "tag": ""}


def test_a_step_after_a_chord_whose_body_ends_in_a_group_gets_the_list() -> None:
    """The body's group is the chord's end: what follows gets its ordered results, not
    the first member's value."""
    inner = t.const.sig(1).immutable() | group(t.add.sig(1), t.add.sig(2))
    steps = _plan(chain(chord([t.const.sig(0)], inner), t.collect.sig()))
    last = steps[-1]
    adds = [step.invocation_id for step in steps if _task(step) == "add"]
    assert last.after == tuple(adds)
    assert last.receive == RECEIVE_LIST


def test_a_step_after_a_step_gets_its_value() -> None:
    _, second = _plan(t.add.sig(1, 2) | t.mul.sig(3))
    assert second.receive == RECEIVE_VALUE and second.into == ("x",)


def test_a_delay_on_a_step_that_waits_counts_from_its_release() -> None:
    """A waiting step's delay or eta goes into its links (the backend releases it due
    then); a first step's is the call's own, as for any call (before: refused)."""
    eta = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    first, delayed = _plan(
        t.add.sig(1, 2).with_options(delay=4) | t.mul.sig(3).with_options(delay=2.5)
    )
    assert _links(first) is not None and _links(first) == Links(then=(delayed.invocation_id,))
    assert first.sig.options is not None and first.sig.options.delay == 4
    links = _links(delayed)
    assert links is not None and links.delay == 2.5 and links.not_before is None
    _, at_eta = _plan(t.add.sig(1, 2) | t.mul.sig(3).with_options(eta=eta))
    links = _links(at_eta)
    assert links is not None and links.not_before == eta.timestamp() and links.delay == 0
    _, errback = _plan(t.boom.sig(1).on_error(t.on_failure.sig("c").with_options(delay=1)))
    links = _links(errback)
    assert links is not None and links.on == ON_FAILURE and links.delay == 1
    _, plain = _plan(t.add.sig(1, 2) | t.mul.sig(3))
    links = _links(plain)
    assert links is not None and links.delay == 0 and "delay" not in links.encode()


def test_a_caller_chosen_id_names_one_step() -> None:
    step = t.add.sig(1, 1).with_options(invocation_id="mine")
    (planned, _) = _plan(step | t.add.sig(1))
    assert planned.invocation_id == "mine"
    with pytest.raises(ValueError, match="'mine' is given to two steps"):
        _plan(step | t.add.sig(1).with_options(invocation_id="mine"))


def test_what_cannot_compose_is_named() -> None:
    with pytest.raises(TypeError, match=r"chain\(\) takes Node objects"):
        chain(t.add.sig(1, 1), t.add)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"add cannot receive 1 value.*multiple values for .*'x'"):
        _plan(t.add.sig(1, 1) | t.add.sig(y=2, x=3))
