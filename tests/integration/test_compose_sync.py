"""Dev sync mode runs a composition inline and gives what runners give: the same values,
the same errors on the same steps, the same error callbacks called (memory:// with a
ThreadRunner for the distributed side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc import ChainRun, GroupRun, chain, chord, group
from pynenc.compose import Handle, Node
from pynenc.testing import sync_mode
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import Setup, result_of

Build = Callable[[str], Node]

#: compositions, each given a counter file for its error callbacks
FORMS: dict[str, Build] = {
    "chain": lambda c: t.add.sig(1, 2) | t.mul.sig(10) | t.add.sig(5),
    "immutable": lambda c: chain(t.add.sig(1, 2), t.const.sig(7).immutable(), t.add.sig(1)),
    "failed chain": lambda c: (t.add.sig(1, 2) | t.boom.sig() | t.add.sig(5)).on_error(
        t.on_failure.sig(c)
    ),
    "group": lambda c: group(t.add.sig(i, i) for i in range(5)),
    "chord": lambda c: chord([t.const.sig(x) for x in "abc"], t.collect.sig(tag="t")),
    "failed chord": lambda c: chord([t.add.sig(1, 1), t.boom.sig(9)], t.total.sig()).on_error(
        t.on_failure.sig(c)
    ),
    "failed chord, immutable body": lambda c: chord(
        [t.add.sig(1, 1), t.boom.sig(9)], t.const.sig(0).immutable()
    ).on_error(t.on_failure.sig(c)),
    "errback not needed": lambda c: t.add.sig(2, 2).on_error(t.on_failure.sig(c)),
    "group of chains": lambda c: group(t.add.sig(1, 1) | t.mul.sig(3), t.const.sig(0)),
    "chain of groups": lambda c: chain(
        group(t.add.sig(1, 1), t.add.sig(2, 2)), group(t.total.sig(), t.collect.sig())
    ),
    "chord in a chain": lambda c: chain(
        t.add.sig(1, 1), chord([t.mul.sig(10), t.mul.sig(100)], t.total.sig()), t.add.sig(1)
    ),
    "chain in a header": lambda c: chord(
        [t.add.sig(1, 1) | t.mul.sig(10), t.boom.sig(4) | t.mul.sig(2)], t.collect.sig()
    ),
    "failure before a chord": lambda c: chain(
        t.boom.sig(4), chord([t.add.sig(1), t.add.sig(2)], t.total.sig())
    ).on_error(t.on_failure.sig(c)),
    "empty group": lambda c: chord([], t.collect.sig(tag="e")),
    "empty group after a failure": lambda c: chain(t.boom.sig(1), group(), t.collect.sig()),
    "chord body ending in a group": lambda c: chain(
        chord([t.const.sig(1)], t.total.sig() | group(t.add.sig(1), t.add.sig(2))),
        t.collect.sig(),
    ),
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    current = Setup("memory", "ThreadRunner", tmp_path_factory.mktemp("sync"), None).start()
    try:
        yield current
    finally:
        current.stop()


def _outcome(handle: Handle) -> Any:
    """The value, or the error's type and first line, of each step of ``handle``."""
    if isinstance(handle, ChainRun):
        return ("chain", [_outcome(step) for step in handle.steps])
    if isinstance(handle, GroupRun):
        return ("group", [_outcome(member) for member in handle.members])
    try:
        return ("value", result_of(handle))
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc).splitlines()[0])


def _errbacks_seen(counter: Path, handle: Handle) -> list[str]:
    """The error callbacks' lines, with invocation ids replaced by the step's position."""
    ids = [inv.invocation_id for inv in _invocations(handle)]
    seen = []
    for line in lines(counter):
        failed, _, rest = line.partition(" ")
        seen.append(f"step {ids.index(failed)} {rest}")
    return seen


def _invocations(handle: Handle) -> list[Any]:
    return handle.invocations if isinstance(handle, ChainRun | GroupRun) else [handle]


@pytest.mark.parametrize("form", list(FORMS))
def test_sync_mode_gives_what_runners_give(form: str, running: Setup, tmp_path: Path) -> None:
    build = FORMS[form]
    distributed_counter = tmp_path / "distributed"
    distributed = build(str(distributed_counter)).run()
    expected = _outcome(distributed)
    # every error callback has ended before their lines are compared
    callbacks = t.app.state_backend.find(task_id=t.on_failure.task_id.key)
    t.app.orchestrator.wait_final_many(callbacks, 60)
    sync_counter = tmp_path / "sync"
    with sync_mode(t.app):
        inline = build(str(sync_counter)).run()
        assert _outcome(inline) == expected
        assert [inv.status for inv in _invocations(inline)] == [
            inv.status for inv in _invocations(distributed)
        ]
    assert _errbacks_seen(sync_counter, inline) == _errbacks_seen(distributed_counter, distributed)
