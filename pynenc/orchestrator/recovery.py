"""Recovery: work taken back from runners that died or stopped, and invocations published
again after waiting unclaimed too long.

Every pass reads and writes in batches — the records of ``CHUNK`` invocations in one
:meth:`~pynenc.state_backend.StateBackend.get_many`, their histories in one
:meth:`~pynenc.state_backend.StateBackend.history_many`, their moves in one
:meth:`~pynenc.state_backend.StateBackend.set_status_many` and one broker publish — so
recovering a thousand invocations costs a few round trips, not three per invocation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pynenc.exceptions import RunnerError
from pynenc.invocation import log
from pynenc.orchestrator.admission import release_taken
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.serializer import exception_to_payload

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope
    from pynenc.orchestrator.orchestrator import Orchestrator

logger = logging.getLogger("pynenc.orchestrator")
S = InvocationStatus
T = TypeVar("T")

#: Invocations per batch: a backend call (a Redis script blocks the server while it runs)
#: and a broker publish never carry more.
CHUNK = 1000
#: Statuses of an invocation waiting for a runner to claim it.
WAITING = frozenset({S.REGISTERED, S.RETRY, S.REROUTED})


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def reroute_many(
    orchestrator: Orchestrator,
    moves: Sequence[tuple[InvocationRecord, str]],
    actor: str,
    max_reroutes: int,
) -> int:
    """Take RUNNING invocations back from their owner (dead or stopping) and publish them
    again; each ``(record, reason)`` move says why. One that was rerouted
    ``max_reroutes`` times already FAILS instead. Returns how many moved (one that moved on
    meanwhile is skipped, with a warning)."""
    moved = 0
    for batch in chunks(moves):
        moved += _reroute_batch(orchestrator, batch, actor, max_reroutes)
    return moved


def _reroute_batch(
    orchestrator: Orchestrator,
    moves: Sequence[tuple[InvocationRecord, str]],
    actor: str,
    max_reroutes: int,
) -> int:
    app = orchestrator.app
    histories = app.state_backend.history_many([record.invocation_id for record, _ in moves])
    updates: list[StatusUpdate] = []
    failures: list[RunnerError | None] = []  #: per move, why it fails instead (or None)
    for (record, reason), history in zip(moves, histories, strict=True):
        outcome: dict[str, Any] = {"reason": reason, "for_owner": record.owner or ""}
        reroutes = reroutes_of_run(history)
        failure = None
        if reroutes >= max_reroutes:
            failure = RunnerError(
                f"Invocation {record.invocation_id} of {record.task_id} was rerouted "
                f"{reroutes} times (runner.max_reroutes) and lost its runner again: {reason}"
            )
            outcome["error"] = exception_to_payload(failure)
        target = S.REROUTED if failure is None else S.FAILED
        if failure is not None:  # it ends here: for the triggers watching its task
            orchestrator.note_endings([(record.invocation_id, record.task_id)])
        updates.append(orchestrator.status_update(record.invocation_id, target, actor, **outcome))
        failures.append(failure)
    applied = orchestrator.record_updates(updates)
    again: list[Envelope] = []
    for (record, reason), failure, done in zip(moves, failures, applied, strict=True):
        if not done:
            continue
        if failure is not None:
            log.reroutes_exhausted(record.task_id, record.invocation_id, str(failure))
        else:
            log.rerouted(record.task_id, record.invocation_id, reason)
            again.append(orchestrator.envelope_for(record))
    # out of RUNNING: their running slots (if their task has any) go to the next waiters —
    # before they are published again: a slot their next attempt takes is never given back
    release_taken(
        orchestrator, [r for (r, _), done in zip(moves, applied, strict=True) if done], actor
    )
    if again:
        app.broker.publish(again)
    return sum(applied)


def reroutes_of_run(history: Sequence[StatusEntry]) -> int:
    """How many times the current run of an invocation was rerouted: since it was
    registered, or since its last continue-as-new (a workflow's RUNNING -> REGISTERED,
    the only such move), which starts a run afresh as it does its retries."""
    count = 0
    for position in range(len(history) - 1, 0, -1):
        status = history[position].status
        if status is S.REGISTERED and history[position - 1].status is S.RUNNING:
            break
        count += status is S.REROUTED
    return count


def recover(
    orchestrator: Orchestrator, actor: str, now: float, dead_after: float, max_reroutes: int
) -> list[str]:
    """Reroute the RUNNING invocations of runners silent for ``dead_after`` seconds, or
    without a heartbeat that claimed them more than ``dead_after`` seconds ago; the ids of
    the runners found dead, whose heartbeats are then forgotten.

    A heartbeat can be missing from a runner that is alive: a purge removes them all, and
    a runner declared dead while paused resumes; such a runner claims work before it beats
    again. Its fresh claims are left alone (it beats again within ``dead_after``), so the
    work is not run twice; those of a runner that is really gone are rerouted once
    ``dead_after`` has passed since the claim (one history read per batch of them).
    """
    backend = orchestrator.app.state_backend
    beats = backend.runners()
    dead = {rid for rid, beat in beats.items() if now - beat > dead_after}
    moves: list[tuple[InvocationRecord, str]] = []
    for batch in chunks(backend.find(statuses=[S.RUNNING])):
        unbeaten: list[InvocationRecord] = []
        for record in backend.get_many(batch):
            if record is None or record.owner is None or record.status is not S.RUNNING:
                continue
            if record.owner in dead:
                silent = now - beats[record.owner]
                moves.append((record, f"runner {record.owner} is dead (silent for {silent:.1f} s)"))
            elif record.owner not in beats:
                unbeaten.append(record)
        if unbeaten:
            histories = backend.history_many([r.invocation_id for r in unbeaten])
            for record, history in zip(unbeaten, histories, strict=True):
                claimed = history[-1].timestamp if history else 0.0
                if now - claimed > dead_after:
                    moves.append((record, f"runner {record.owner} is dead (no heartbeat)"))
    reroute_many(orchestrator, moves, actor, max_reroutes)
    for runner_id in dead:
        backend.forget_runner(runner_id)
    return sorted(dead)


def release_owned(
    orchestrator: Orchestrator, runner_id: str, actor: str, reason: str, max_reroutes: int
) -> int:
    """Reroute every invocation ``runner_id`` still runs (it is stopping or dead)."""
    backend = orchestrator.app.state_backend
    mine: list[tuple[InvocationRecord, str]] = []
    for batch in chunks(backend.find(statuses=[S.RUNNING])):
        mine.extend(
            (record, reason)
            for record in backend.get_many(batch)
            if record is not None and record.status is S.RUNNING and record.owner == runner_id
        )
    return reroute_many(orchestrator, mine, actor, max_reroutes)


def redeliver_stale(orchestrator: Orchestrator, actor: str, now: float, after: float) -> int:
    """Publish again the invocations waiting unclaimed for more than ``after`` seconds, at
    most once per ``after`` seconds each (a lease per invocation marks it)."""
    app = orchestrator.app
    backend = app.state_backend
    count = 0
    for batch in chunks(backend.find(statuses=WAITING)):
        histories = backend.history_many(batch)
        stale = [
            invocation_id
            for invocation_id, history in zip(batch, histories, strict=True)
            if history and now - history[-1].timestamp >= after
        ]
        leased = [
            invocation_id
            for invocation_id in stale
            if backend.acquire_lease(f"redeliver:{invocation_id}", actor, after, now)
        ]
        again = [
            orchestrator.envelope_for(record)
            for record in (backend.get_many(leased) if leased else [])
            if record is not None and record.status in WAITING
        ]
        if again:
            app.broker.publish(again)
            count += len(again)
    if count:
        logger.warning("Published %d invocations again after %.0f s unclaimed", count, after)
    return count
