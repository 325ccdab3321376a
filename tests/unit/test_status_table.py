"""The transition table is the only authority on status changes."""

from __future__ import annotations

import pytest

from pynenc import InvalidStatusTransitionError, InvocationStatus
from pynenc.orchestrator.transitions import SOURCES, TRANSITIONS, check_transition
from pynenc.records import FINAL

S = InvocationStatus


def test_every_status_has_a_rule() -> None:
    assert set(TRANSITIONS) == set(InvocationStatus)


def test_final_statuses_have_no_exit() -> None:
    assert {S.SUCCESS, S.FAILED, S.EXPIRED, S.CANCELLED} == FINAL
    assert all(not TRANSITIONS[s].next for s in FINAL)


def test_claimable() -> None:
    assert {S.REGISTERED, S.RETRY, S.REROUTED} == SOURCES[S.RUNNING]


def test_running_is_owned() -> None:
    assert TRANSITIONS[S.RUNNING].owned
    assert not TRANSITIONS[S.REGISTERED].owned


def test_illegal_transition_lists_allowed() -> None:
    with pytest.raises(InvalidStatusTransitionError) as info:
        check_transition(S.REGISTERED, S.SUCCESS)
    assert "REGISTERED to SUCCESS" in str(info.value)
    assert "allowed from REGISTERED: CANCELLED, EXPIRED, FAILED, RUNNING" in str(info.value)
    with pytest.raises(InvalidStatusTransitionError, match="none \\(final status\\)"):
        check_transition(S.SUCCESS, S.RUNNING)
    check_transition(S.RUNNING, S.SUCCESS)


def test_a_runner_fails_only_what_it_owns() -> None:
    """REGISTERED -> FAILED is the caller's move (an unpublished call): a runner's FAILED
    still expects RUNNING under its own name."""
    from pynenc.orchestrator.orchestrator import Orchestrator

    check_transition(S.REGISTERED, S.FAILED)
    update = Orchestrator.status_update("inv", S.FAILED, "runner-1")
    assert update.expected == {S.RUNNING}
    assert update.expected_owner == "runner-1"
    claim = Orchestrator.status_update("inv", S.RUNNING, "runner-1")
    assert claim.expected == SOURCES[S.RUNNING] and claim.expected_owner is None


def test_scheduled_is_published_or_expired_never_claimed() -> None:
    """A SCHEDULED invocation is not claimable: a stray message for it is refused, so it
    never runs before it is due."""
    assert S.SCHEDULED not in SOURCES[S.RUNNING]
    assert TRANSITIONS[S.SCHEDULED].next == {S.REGISTERED, S.RETRY, S.EXPIRED, S.CANCELLED}
    check_transition(S.RUNNING, S.SCHEDULED)  # a delayed retry
    with pytest.raises(InvalidStatusTransitionError):
        check_transition(S.REGISTERED, S.SCHEDULED)


def test_every_waiting_status_can_expire() -> None:
    waiting = {S.REGISTERED, S.SCHEDULED, S.RETRY, S.REROUTED}
    assert all(S.EXPIRED in TRANSITIONS[s].next for s in waiting)
    assert all(S.EXPIRED not in TRANSITIONS[s].next for s in FINAL)


def test_a_delayed_retry_and_its_expiry_are_the_owners_moves() -> None:
    from pynenc.orchestrator.orchestrator import Orchestrator

    for target in (S.SCHEDULED, S.EXPIRED):
        update = Orchestrator.status_update("inv", target, "runner-1")
        assert update.expected == {S.RUNNING}
        assert update.expected_owner == "runner-1"


def test_every_unfinished_status_can_be_cancelled() -> None:
    """A status added later must list CANCELLED too, or invocations in it cannot be
    cancelled (the canceller's compare-and-set expects every source of CANCELLED)."""

    unfinished = {s for s, rule in TRANSITIONS.items() if not rule.final}
    assert all(S.CANCELLED in TRANSITIONS[s].next for s in unfinished)
    assert SOURCES[S.CANCELLED] == unfinished


def test_a_runner_cannot_move_to_cancelled_itself() -> None:
    """CANCELLED is the canceller's move (see pynenc.orchestrator.cancellation); a runner's
    status update to it would still expect RUNNING under its own name."""
    from pynenc.orchestrator.orchestrator import Orchestrator

    update = Orchestrator.status_update("inv", S.CANCELLED, "runner-1")
    assert update.expected == {S.RUNNING} and update.expected_owner == "runner-1"
