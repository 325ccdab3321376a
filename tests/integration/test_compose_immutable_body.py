"""A chord whose body receives none of the results (``.immutable()``, Celery's ``.si()``)
is a chord all the same: its error callbacks are called when a member fails, once, with
the body. Memory, SQLite and Redis; a ThreadRunner and a ProcessRunner (found by QA: the
backends told a chord body by its receiving the list, so an immutable body's error
callbacks were cancelled as "not needed")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, chain, chord
from pynenc.invocation.distributed import DistributedInvocation
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import (
    SETUPS,
    TIMEOUT,
    Setup,
    calls_with,
    deployed,
    result_of,
    setup_id,
)

S = InvocationStatus


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    yield from deployed(request, tmp_path_factory)


@pytest.fixture
def counter(tmp_path: Path) -> str:
    return str(tmp_path / "runs")


def test_an_immutable_body_runs_with_its_own_arguments(setup: Setup, counter: str) -> None:
    run = chord([t.add.sig(1, 1), t.add.sig(2, 2)], t.const.sig("done").immutable())
    handle = run.on_error(t.on_failure.sig(counter)).run()
    assert result_of(handle) == "done"
    (errback,) = calls_with(setup.app, t.on_failure, counter)
    assert setup.app.orchestrator.wait_final(errback.invocation_id, TIMEOUT).status is S.CANCELLED


def test_a_failed_member_calls_an_immutable_bodys_error_callback(
    setup: Setup, counter: str
) -> None:
    run = chord([t.add.sig(1, 1), t.boom.sig(7)], t.const.sig("done").immutable())
    handle = run.on_error(t.on_failure.sig(counter)).run()
    with pytest.raises(ValueError, match=r"^boom \(7\)"):
        result_of(handle)
    (errback,) = calls_with(setup.app, t.on_failure, counter)
    done = setup.app.invocation(errback.invocation_id).get_result(timeout=TIMEOUT)
    body = handle.last
    assert isinstance(body, DistributedInvocation)
    assert done == f"{body.invocation_id} ValueError: boom (7)"
    assert lines(counter) == [done]


def test_after_a_failed_step_it_follows_the_rules_of_a_body_that_receives_the_list(
    setup: Setup, tmp_path: Path
) -> None:
    """A failure before the chord: the same error callbacks called (and not needed) as for
    a body that receives the results."""
    seen = []
    for body in (t.const.sig(0).immutable(), t.total.sig()):
        counter = str(tmp_path / f"runs-{len(seen)}")
        whole = chain(t.boom.sig(3), chord([t.const.sig(1).immutable()], body))
        handle = whole.on_error(t.on_failure.sig(counter)).run()
        with pytest.raises(ValueError, match=r"^boom \(3\)"):
            result_of(handle)
        errbacks = calls_with(setup.app, t.on_failure, counter)
        ended = setup.app.orchestrator.wait_final_many([r.invocation_id for r in errbacks], TIMEOUT)
        seen.append((sorted(r.status for r in ended), len(lines(counter))))
    immutable, receiving = seen
    assert immutable == receiving
