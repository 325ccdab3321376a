"""A hostile user's workflow children, on real runners: a child whose call is answered by
the result cache or folded into a pending invocation, children called with call options,
a parallel step with a bad element. A step must name the invocation its body got, and
call nothing again on a replay.

Every setup of :data:`tests.integration.qa_wf_helpers.SETUPS` (memory, SQLite and Redis;
thread, process and persistent-process runners). Runs are counted in files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus
from pynenc.call import Call
from pynenc.orchestrator import result_cache
from tests.apps import qa_wf as q
from tests.integration.qa_wf_helpers import SETUPS, WfSetup, setup_id, wf_setup

S = InvocationStatus


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WfSetup]:
    yield from wf_setup(request, tmp_path_factory)


def _files(tmp_path: Path) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:6]
    return str(tmp_path / f"runs-{tag}"), str(tmp_path / f"seen-{tag}")


def test_a_cached_child_is_journaled_as_the_invocation_the_body_got(
    setup: WfSetup, tmp_path: Path
) -> None:
    """execute_task of a task with call_result_cache, whose result is cached: the step
    names the cached invocation (not an id never registered), and a replay after the
    cache entry is gone (its TTL, a purge of the cache) does not run the child again."""
    app = setup.app
    counter, seen = _files(tmp_path)
    x = 1000 + uuid.uuid4().int % 1000
    earlier = q.cached_double(x, counter)
    assert setup.result(earlier) == 2 * x
    flow = q.call_then_pause("cached", x, counter, seen)
    setup.wait_status(flow.invocation_id, S.PAUSED)
    info = app.workflows.get(flow.invocation_id)
    assert info.called == [earlier.invocation_id]
    assert q.lines(seen) == [earlier.invocation_id]
    # the cache forgets the entry (as its TTL would): the replay must not call it again
    call = Call(q.cached_double, q.cached_double.args(x, counter))
    key = result_cache.cache_key(q.cached_double, call.serialized_arguments)
    assert app.state_backend.delete_value(result_cache.NAMESPACE, key)
    app.workflows.resume(flow.invocation_id)
    assert setup.result(flow) == [earlier.invocation_id]
    assert q.lines(seen) == [earlier.invocation_id] * 2
    assert q.lines(counter) == ["run"]


def test_a_folded_child_is_journaled_as_the_invocation_the_body_got(
    setup: WfSetup, tmp_path: Path
) -> None:
    """execute_task of a task with registration_concurrency while one of its invocations
    is pending: the call is folded into that one, and the step names it; once it has
    ended, a replay returns it again instead of registering and running the child."""
    app = setup.app
    counter, seen = _files(tmp_path)
    pending = q.single_child.with_options(delay=3600)(1, counter)  # pending for an hour
    flow = q.call_then_pause("single", 2, counter, seen)
    setup.wait_status(flow.invocation_id, S.PAUSED)
    assert app.workflows.get(flow.invocation_id).called == [pending.invocation_id]
    assert q.lines(seen) == [pending.invocation_id]
    assert pending.cancel().cancelled  # the key is free again
    app.workflows.resume(flow.invocation_id)
    assert setup.result(flow) == [pending.invocation_id]
    assert q.lines(seen) == [pending.invocation_id] * 2
    assert q.lines(counter) == []


def test_execute_task_takes_a_task_with_call_options(setup: WfSetup) -> None:
    """wf.execute_task(task.with_options(...)) and execute_tasks(...) call the child with
    those options (here headers), the workflow still naming the child."""
    tag = uuid.uuid4().hex[:6]
    flow = q.with_options_child(tag)
    assert setup.result(flow) == {"headers": {"from": "wf"}, "tag": tag}
    assert setup.app.workflows.get(flow.invocation_id).called == [f"{flow.invocation_id}-wf1-1"]
    many = q.with_options_children([tag, tag + "b"])
    assert setup.result(many) == [
        {"headers": {"from": "wf-many"}, "tag": tag},
        {"headers": {"from": "wf-many"}, "tag": tag + "b"},
    ]
    direct = q.direct_child(5)
    assert setup.result(direct) == [10, 12]
    assert setup.app.workflows.get(direct.invocation_id).called == [
        f"{direct.invocation_id}-wf1-1",
        f"{direct.invocation_id}-wf1-2",
    ]


def test_execute_task_refuses_a_child_id_of_the_callers_choosing(setup: WfSetup) -> None:
    message = setup.result(q.with_chosen_id_child(uuid.uuid4().hex[:6]))
    assert message is not None
    assert "invocation_id" in message and "wf.execute_task" in message


def test_a_parallel_step_with_a_bad_element_calls_nothing(setup: WfSetup) -> None:
    """execute_tasks checks every element as parallelize does (a tuple, a dict or
    task.args(...)) before calling any: a list element is refused by its index, and the
    elements before it were not called."""
    flow = q.bad_parallel([[1, 2], ["raw", [3, 4]], [5, 6]])
    message = setup.result(flow)
    assert message is not None and "element 1" in message and "list" in message
    assert setup.app.workflows.get(flow.invocation_id).children == []


def test_children_of_a_workflow_with_a_long_caller_chosen_id(setup: WfSetup) -> None:
    """A workflow whose caller chose a long id (up to the 200 characters an id may have):
    its children's ids, derived from it, still fit, and are the same on a replay."""
    chosen = "order-" + uuid.uuid4().hex + "x" * 157
    assert len(chosen) == 195
    flow = q.children_of_long_id.with_options(invocation_id=chosen)(3)
    one, many, ids = setup.result(flow)
    assert [one, many] == [6, [6, 8]]
    assert all(len(i) <= 200 for i in ids)
    assert setup.app.workflows.get(chosen).called[0] == ids[0]


def test_arguments_that_do_not_fit_are_refused_naming_the_call(setup: WfSetup) -> None:
    child, again = setup.result(q.bad_calls(1))
    assert child.startswith("wf.execute_task(tests.apps.qa_wf.add, ...): too many positional")
    assert "it takes (x, y)" in child
    assert again.startswith("wf.continue_as_new(...) of tests.apps.qa_wf.bad_calls: ")
    assert "unexpected keyword argument 'extra'" in again and "(n)" in again
