"""A hostile user's input to native composition (:mod:`pynenc.compose`): what is refused
must be refused when ``run()`` is called, with an error naming what is wrong and how to
fix it, before anything is registered; what is accepted must run right on real runners.

Refusals are checked on memory (nothing runs); what runs, on every setup of
:data:`tests.integration.qa_compose_helpers.SETUPS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import ChainRun, GroupRun, InvocationStatus, chain, chord, group
from pynenc.compose import Node
from tests.apps import qa_compose as q
from tests.apps.qa_compose import lines, overlapped
from tests.integration.compose_helpers import TIMEOUT, result_of
from tests.integration.qa_compose_helpers import SETUPS, QaSetup, qa_setup, setup_id

S = InvocationStatus


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[QaSetup]:
    """The app on memory://, no runner: for what must be refused before it runs."""
    setup = QaSetup("memory", "ThreadRunner", tmp_path, None)
    setup.configure().purge()
    try:
        yield setup
    finally:
        setup.app.reset_components()


@pytest.fixture(scope="module", params=SETUPS, ids=setup_id)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QaSetup]:
    yield from qa_setup(request, tmp_path_factory)


@pytest.fixture
def counter(tmp_path: Path) -> str:
    return str(tmp_path / f"runs-{uuid.uuid4().hex[:6]}")


def _nothing_registered(setup: QaSetup) -> None:
    assert setup.app.state_backend.find() == [], "a refused composition registered steps"


# -- refused before anything is registered ---------------------------------------------


def test_a_step_missing_an_argument_is_refused_when_the_chain_runs(memory: QaSetup) -> None:
    # it used to be accepted, ran the steps before it, then failed with add()'s TypeError
    with pytest.raises(TypeError, match=r"qa_compose\.add: missing a required argument: 'y'"):
        chain(q.add.sig(1, 2), q.add.sig()).run()
    _nothing_registered(memory)


def test_an_error_callback_missing_an_argument_is_refused_when_it_is_attached(
    memory: QaSetup,
) -> None:
    # it used to be accepted and fail only when a failure called it: the alert never came
    with pytest.raises(TypeError, match=r"errback: missing a required argument: 'counter'"):
        q.boom.sig(1).on_error(q.errback.sig()).run()
    _nothing_registered(memory)


def test_tasks_of_two_apps_in_one_composition_are_refused(memory: QaSetup) -> None:
    # it used to register both on the first app and hand back a handle of the second
    # task that looked in the other app's backend: InvocationNotFoundError on .result
    with pytest.raises(ValueError, match=r"app 'tests-qa-compose'.*app 'tests-qa-compose-other'"):
        chain(q.add.sig(1, 2), q.other_add.sig(1)).run()
    with pytest.raises(ValueError, match="one app"):
        q.boom.sig(1).on_error(q.other_add.sig(1, 2).immutable()).run()
    _nothing_registered(memory)


def test_a_composition_nested_too_deeply_is_refused_clearly(memory: QaSetup) -> None:
    node: Node = q.add.sig(1, 1)
    for level in range(1500):  # a group in a chain in a group ...: a RecursionError before
        node = group(node, q.add.sig(1, 1)) if level % 2 else chain(node, q.total.sig())
    with pytest.raises(ValueError, match="nested too deeply"):
        node.run()
    _nothing_registered(memory)


def test_registration_control_is_refused_with_the_reason(memory: QaSetup) -> None:
    with pytest.raises(ValueError, match=r"registered_once cannot be a step.*registration"):
        chain(q.add.sig(1, 2), q.registered_once.sig()).run()
    _nothing_registered(memory)


def test_a_running_key_that_would_leave_out_a_received_value_is_refused(
    memory: QaSetup, counter: str
) -> None:
    # KEYS with the key received: the runner's admission raised KeyError at every attempt
    # and held the step back for ever (a result that never came)
    with pytest.raises(ValueError, match=r"per_account cannot be a step.*key argument.*account"):
        (q.tally.sig("acme", counter, "first") | q.per_account.sig(counter)).run()
    # ARGUMENTS counting a step by arguments without what it receives: a plain call with
    # the same arguments ran beside it
    with pytest.raises(ValueError, match=r"per_arguments cannot be a step.*ARGUMENTS"):
        (q.tally.sig(7, counter, "first") | q.per_arguments.sig(counter)).run()
    _nothing_registered(memory)


def test_a_named_error_callback_of_a_chain_says_why_it_is_refused(
    memory: QaSetup, counter: str
) -> None:
    errback = q.errback.sig(counter).with_options(invocation_id="alert-once")
    with pytest.raises(ValueError, match=r"'alert-once' is given to two steps.*cannot be named"):
        (q.add.sig(1, 2) | q.add.sig(1)).on_error(errback).run()
    _nothing_registered(memory)


def test_a_split_direct_task_cannot_be_a_step(memory: QaSetup) -> None:
    with pytest.raises(TypeError, match=r"direct_sum is a direct_task with parallel_func"):
        q.direct_sum.sig([1, 2])  # type: ignore[attr-defined]


def test_a_generator_that_raises_registers_nothing(memory: QaSetup) -> None:
    def members() -> Iterator[Node]:
        yield q.add.sig(1, 2)
        raise KeyError("the generator broke")

    with pytest.raises(KeyError, match="the generator broke"):
        group(members()).run()
    _nothing_registered(memory)


def test_what_is_not_a_step_is_named(memory: QaSetup) -> None:
    for bad, where in (
        (lambda: chain(q.add.sig(1, 2), q.add), "chain"),
        (lambda: group([q.add.sig(1, 2), 5]), "group"),
        (lambda: chord([q.add.sig(1, 2)], q.total), "chord"),
        (lambda: q.add.sig(1, 2).on_error(q.errback.sig("c") | q.add.sig(1)), "on_error"),
        (lambda: chain(q.add.sig(1, 2), q.direct_add), "chain"),
    ):
        with pytest.raises(TypeError, match=rf"{where}\(\) takes .* objects \(task\.sig"):
            bad()  # type: ignore[no-untyped-call]


# -- accepted, and run right -----------------------------------------------------------


def test_an_empty_group_runs_to_an_empty_list(memory: QaSetup) -> None:
    # group().run() raised a bare StopIteration
    run = group().run()
    assert isinstance(run, GroupRun) and run.result == [] and len(run) == 0
    nested = chain(group(), group(group())).run()
    assert isinstance(nested, ChainRun) and nested.result == [[]]
    _nothing_registered(memory)


def test_running_concurrency_steps_run_one_at_a_time(setup: QaSetup, counter: str) -> None:
    # a task with running_concurrency was refused as having "registration control"
    members = [q.add.sig(i, 0) | q.one_at_a_time.sig(counter, 0.2) for i in range(4)]
    run = chord(members, q.total.sig()).run()
    assert result_of(run) == 6
    assert sorted(lines(counter)) == sorted(
        [f"{w} {i}" for i in range(4) for w in ("start", "end")]
    )
    assert not overlapped(counter), lines(counter)


def test_rate_limited_steps_run(setup: QaSetup, counter: str) -> None:
    """Released steps of a rate-limited task go through its admission (the pacing itself
    is tested in test_running_concurrency); each runs once."""
    members = [q.add.sig(i, 0) | q.paced.sig(counter) for i in range(6)]
    assert result_of(chord(members, q.total.sig()).run()) == 15
    assert sorted(int(line.split()[0]) for line in lines(counter)) == list(range(6))


def test_an_arguments_scoped_step_is_counted_with_a_plain_call(
    setup: QaSetup, counter: str
) -> None:
    """A first step's stored arguments include the defaults, as a plain call's do: one
    running key for both (they held different keys: both ran at once)."""
    run = (q.per_arguments.sig(7, counter) | q.add.sig(1)).run()
    plain = q.per_arguments(7, counter)
    assert result_of(run) == 8 and plain.get_result(timeout=TIMEOUT) == 7
    assert len(lines(counter)) == 4 and not overlapped(counter), lines(counter)


def test_a_direct_task_composes(setup: QaSetup) -> None:
    # direct_add.sig raised AttributeError: 'function' object has no attribute 'sig'
    run = (q.direct_add.sig(1, 2) | q.add.sig(3)).run()  # type: ignore[attr-defined]
    assert result_of(run) == 6


def test_the_same_composition_and_sig_run_twice_are_two_runs(setup: QaSetup) -> None:
    same = q.add.sig(1, 2)
    form = chord([same, same, same], q.total.sig())
    first, second = form.run(), form.run()
    assert result_of(first) == result_of(second) == 9
    ids = [{i.invocation_id for i in run.invocations} for run in (first, second)]
    assert len(ids[0]) == len(ids[1]) == 4 and not ids[0] & ids[1]


def test_a_step_gets_its_defaults_and_the_value_it_receives(setup: QaSetup) -> None:
    run = (q.add.sig(1, 2) | q.scaled.sig() | q.scaled.sig(factor=3)).run()
    assert result_of(run) == 90
