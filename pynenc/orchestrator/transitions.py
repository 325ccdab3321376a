"""The one table of transitions between invocation statuses, owned by the orchestrator.

Every status change in pynenc is checked against :data:`TRANSITIONS`. A rule says which
statuses may follow, whether the status is final, and whether it is *owned*: an owned
status (RUNNING) belongs to the runner that entered it, and only that runner may leave it —
or recovery, acting for a runner that is dead or stopping (the history says which), or
someone cancelling the invocation (RUNNING -> CANCELLED, the canceller named in history).
"""

from __future__ import annotations

from dataclasses import dataclass

from pynenc.exceptions import InvalidStatusTransitionError
from pynenc.records import FINAL, InvocationStatus


@dataclass(frozen=True)
class StatusRule:
    """What may happen from one status."""

    next: frozenset[InvocationStatus]
    final: bool = False
    owned: bool = False  #: only the owning runner may leave this status


S = InvocationStatus
TRANSITIONS: dict[InvocationStatus, StatusRule] = {
    # REGISTERED -> FAILED: the caller could not publish it (never a runner's move);
    # -> EXPIRED (here and from every waiting status): claimed after its expiry
    S.REGISTERED: StatusRule(next=frozenset({S.RUNNING, S.FAILED, S.EXPIRED, S.CANCELLED})),
    # WAITING: for other invocations (pynenc.records.Links); released -> SCHEDULED (due at
    # once, or after its delay) or ended FAILED (an upstream failed) / CANCELLED (an error
    # callback not needed) by the backend step that ends what it waits for
    S.WAITING: StatusRule(next=frozenset({S.SCHEDULED, S.FAILED, S.EXPIRED, S.CANCELLED})),
    # SCHEDULED: waits in the scheduled index; when due, the services holder publishes it
    # (-> REGISTERED, or -> RETRY for a delayed retry), or ends it EXPIRED
    S.SCHEDULED: StatusRule(next=frozenset({S.REGISTERED, S.RETRY, S.EXPIRED, S.CANCELLED})),
    # RUNNING -> SCHEDULED: a retry with a delay; -> EXPIRED: that retry would be due
    # after the invocation's expiry; -> PAUSED: a workflow's wf.pause(); -> REGISTERED: a
    # workflow's wf.continue_as_new() (the same invocation again, with new arguments)
    S.RUNNING: StatusRule(
        next=frozenset(
            {
                S.SUCCESS,
                S.FAILED,
                S.RETRY,
                S.REROUTED,
                S.SCHEDULED,
                S.EXPIRED,
                S.CANCELLED,
                S.PAUSED,
                S.REGISTERED,
            }
        ),
        owned=True,
    ),
    # PAUSED: holds no runner; app.workflows.resume() -> REGISTERED (published again)
    S.PAUSED: StatusRule(next=frozenset({S.REGISTERED, S.CANCELLED})),
    S.RETRY: StatusRule(next=frozenset({S.RUNNING, S.EXPIRED, S.CANCELLED})),
    S.REROUTED: StatusRule(next=frozenset({S.RUNNING, S.EXPIRED, S.CANCELLED})),
    S.SUCCESS: StatusRule(next=frozenset(), final=True),
    S.FAILED: StatusRule(next=frozenset(), final=True),
    S.EXPIRED: StatusRule(next=frozenset(), final=True),
    # entered from every status that is not final, by whoever cancels (never the owner's
    # move: see pynenc.orchestrator.cancellation); a runner's outcome then is refused
    S.CANCELLED: StatusRule(next=frozenset(), final=True),
}

# the statuses the records call final are exactly those the table ends at
if frozenset(s for s, r in TRANSITIONS.items() if r.final) != FINAL:  # pragma: no cover
    raise RuntimeError("pynenc.records.FINAL disagrees with the transition table")


#: For each status, the statuses it may be entered from (derived once from the table).
SOURCES: dict[InvocationStatus, frozenset[InvocationStatus]] = {
    target: frozenset(s for s, rule in TRANSITIONS.items() if target in rule.next)
    for target in TRANSITIONS
}
#: For each status, the owned statuses it may be entered from (leaving one needs its owner).
OWNED_SOURCES: dict[InvocationStatus, frozenset[InvocationStatus]] = {
    target: frozenset(s for s in sources if TRANSITIONS[s].owned)
    for target, sources in SOURCES.items()
}
#: Whether a runner enters a status by leaving an owned one (so the owner must act). A
#: runner then expects only the owned sources: FAILED from REGISTERED is the caller's move.
FROM_OWNED: dict[InvocationStatus, bool] = {
    target: bool(owned) for target, owned in OWNED_SOURCES.items()
}
#: What a runner's move to each status expects to find: the owned sources when it leaves
#: an owned status, else every source (derived once: read on every claim and outcome).
RUNNER_SOURCES: dict[InvocationStatus, frozenset[InvocationStatus]] = {
    target: OWNED_SOURCES[target] or SOURCES[target] for target in SOURCES
}


def check_transition(current: InvocationStatus, target: InvocationStatus) -> None:
    """Raise :class:`InvalidStatusTransitionError` unless ``current -> target`` is allowed."""
    allowed = TRANSITIONS[current].next
    if target not in allowed:
        listed = ", ".join(sorted(s.name for s in allowed)) or "none (final status)"
        raise InvalidStatusTransitionError(
            f"Cannot change status from {current.name} to {target.name}; "
            f"allowed from {current.name}: {listed}"
        )
