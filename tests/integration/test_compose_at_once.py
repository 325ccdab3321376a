"""Released work is published at once by whoever ended what it waited for — never left to
the scheduler's next pass. The runners here have a scheduler that looks once every ten
minutes (``runner.scheduler_poll``), so a step that only the scheduler would publish
would not run within the tests' timeouts: each composition finishing proves no step waited
for it, with no timing assert.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import InvocationStatus, chain, chord
from pynenc.runner.followers import PUBLISHED_BY
from tests.apps import canvas as t
from tests.apps.canvas import lines
from tests.integration.compose_helpers import (
    SETUPS,
    TIMEOUT,
    Setup,
    deployment,
    result_of,
    setup_id,
)

S = InvocationStatus
NO_SCHEDULER = {"scheduler_poll": "600"}


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    kind, runner_cls = request.param
    tmp = tmp_path_factory.mktemp(f"at-once-{kind}-{runner_cls}")
    dep = None
    if kind != "memory":
        dep = deployment(kind, tmp, request)
        dep.runner_settings.update(NO_SCHEDULER)
    current = Setup(kind, runner_cls, tmp, dep, NO_SCHEDULER).start()
    try:
        yield current
    finally:
        current.stop()


@pytest.fixture
def counter(tmp_path: Path) -> str:
    return str(tmp_path / "runs")


def _registered_reasons(setup: Setup, invocation_id: str) -> list[str | None]:
    history = setup.app.state_backend.history(invocation_id)
    return [e.reason for e in history if e.status is S.REGISTERED]


def test_chain_and_chord_steps_are_published_by_the_runner(setup: Setup) -> None:
    run = chain(
        t.add.sig(1, 1),
        t.add.sig(1),
        chord([t.mul.sig(10), t.mul.sig(100)], t.total.sig()),
        t.add.sig(1),
    ).run()
    assert result_of(run) == 331
    add1, add2, mul10, mul100, body, last = run.invocations
    published_by = {
        add2: add1,
        mul10: add2,
        mul100: add2,
        last: body,
    }
    for step, ended in published_by.items():
        reasons = _registered_reasons(setup, step.invocation_id)
        assert reasons == [PUBLISHED_BY + ended.invocation_id], reasons
    # the body: by the runner of a member (the first to publish after the release)
    (reason,) = _registered_reasons(setup, body.invocation_id)
    assert reason in {PUBLISHED_BY + mul10.invocation_id, PUBLISHED_BY + mul100.invocation_id}


def test_an_error_callback_is_published_by_the_runner(setup: Setup, counter: str) -> None:
    errback = t.on_failure.sig(counter).with_options(invocation_id=f"err-{uuid.uuid4().hex}")
    failed = t.boom.sig(1).on_error(errback).run()
    assert errback.options is not None and errback.options.invocation_id is not None
    seen = setup.app.invocation(errback.options.invocation_id).get_result(timeout=TIMEOUT)
    assert seen.startswith(f"{failed.invocation_id} ValueError: boom (1)")


def test_a_step_past_its_time_limit_publishes_its_error_callback(
    setup: Setup, counter: str
) -> None:
    """Failed by its runner's time-limit watch rather than by its own outcome (before:
    the callback waited for the scheduler)."""
    errback = t.on_failure.sig(counter).with_options(invocation_id=f"err-{uuid.uuid4().hex}")
    run = (t.add.sig(1, 1) | t.overrun.sig(counter).on_error(errback)).run()
    assert errback.options is not None and errback.options.invocation_id is not None
    seen = setup.app.invocation(errback.options.invocation_id).get_result(timeout=TIMEOUT)
    assert seen.startswith(f"{run.steps[1].invocation_id} TaskTimeoutError")  # type: ignore[union-attr]


def test_steps_released_at_registration_are_published_by_the_caller(
    setup: Setup, counter: str
) -> None:
    """Run again with caller-chosen ids, new steps after a step that has ended are
    released when they are registered: the caller publishes them (before: the scheduler)."""
    first_id = f"first-{uuid.uuid4().hex}"

    def build() -> object:
        return chain(
            t.tally.sig(1, counter, "first").with_options(invocation_id=first_id),
            chord([t.add.sig(1), t.add.sig(2)], t.total.sig()),
        )

    assert result_of(build().run()) == 7  # type: ignore[attr-defined]
    again = build().run()  # type: ignore[attr-defined]
    assert result_of(again) == 7
    assert lines(counter) == ["first"]
    member = again.invocations[1]
    reasons = _registered_reasons(setup, member.invocation_id)
    assert len(reasons) == 1 and "registration" in (reasons[0] or ""), reasons
