"""Running concurrency and the rate limit where runners meet them: admit, hold back,
fail, release and wake — the decisions of :mod:`pynenc.orchestrator.concurrency` applied.

A runner asks :func:`admit_claimed` about each invocation it claimed of a task with a
``start_policy`` (running slots or a rate limit) before giving it a thread or a process:

- RUN: start it now (it holds its running slot; its start is counted by the rate);
- WAIT: hold it back, out of the runner: RUNNING → SCHEDULED, due at its reserved rate
  start, or — waiting for a running slot — after ``runner.concurrency_recheck``. That due
  time is a safety net only: the release of a slot publishes the longest waiter of its
  key at once (:func:`release`);
- FAIL (``reroute_on_concurrency_control=False``): FAILED with
  :class:`~pynenc.exceptions.ConcurrencyControlledError`, without running.

The slot goes back when the invocation leaves RUNNING: when its attempt is over,
whatever the outcome (the runner, :func:`pynenc.runner.execution.record`), and when
recovery takes it from a dead or stopping runner (:mod:`pynenc.orchestrator.recovery`).
A slot that is never given back (its runner killed, the task not known to the recovering
runner) stops counting once its invocation is not RUNNING, at the next acquire of its key;
its waiters then start at their recheck.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pynenc.exceptions import ConcurrencyControlledError
from pynenc.invocation import log
from pynenc.orchestrator import concurrency
from pynenc.orchestrator.concurrency import HOLDS_SLOT, Admission, ConcurrencyPolicy, Verdict
from pynenc.orchestrator.scheduling import iso, publish_now
from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.serializer import exception_to_payload

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope
    from pynenc.orchestrator.orchestrator import Orchestrator

logger = logging.getLogger("pynenc.orchestrator")
S = InvocationStatus
#: A rate wait this short (seconds) is waited for where the invocation was claimed, then
#: asked again (at most ``SHORT_WAIT_TRIES`` times), instead of a round through the
#: scheduled index: a start due in a few ms (its reservation has come, but a start that
#: came late is less than an interval ago) would be published at the scheduler's next
#: look, after the next reserved start, lose that one too and fall behind again and again.
SHORT_WAIT = 0.05
SHORT_WAIT_TRIES = 3
#: Waiters that will never come (expired, cancelled) a release passes over, at most.
STALE_WAITERS = 20


def admit_claimed(
    orchestrator: Orchestrator,
    envelope: Envelope,
    policy: ConcurrencyPolicy,
    runner_id: str,
    *,
    wait_here: bool = True,
) -> bool:
    """Whether ``runner_id`` may start ``envelope`` (claimed, RUNNING) now; when not, the
    invocation has been held back (SCHEDULED) or failed, and the runner drops it.

    ``wait_here``: a rate start due within ``SHORT_WAIT`` is waited for in place (the
    runner passes ``False`` while more claimed invocations wait behind this one, e.g. the
    rest of a batch message: held back, they go to whichever runner is free then, instead
    of being paced one after the other by this one).

    The state backend failing here holds the invocation back until its recheck (it is not
    started unchecked); if even that fails it stays RUNNING under this runner, which
    reroutes it when it stops.
    """
    now = time.time()
    inv = envelope.invocation_id
    backend = orchestrator.app.state_backend
    try:
        decision = concurrency.admit(backend, policy, inv, envelope.arguments, now)
        for _ in range(SHORT_WAIT_TRIES if wait_here else 0):
            if not _short(decision):
                break
            time.sleep(decision.delay or 0.0)
            now = time.time()
            decision = concurrency.admit(backend, policy, inv, envelope.arguments, now)
        if decision.verdict is Verdict.RUN:
            return True
        if decision.verdict is Verdict.FAIL:
            _fail(orchestrator, envelope, runner_id, decision.reason)
        else:
            _hold(orchestrator, envelope, policy, runner_id, decision, now)
    except Exception as exc:
        logger.exception("Admission of %s[%s] failed; holding it back", envelope.task_id, inv)
        try:
            _hold(
                orchestrator,
                envelope,
                policy,
                runner_id,
                Admission(Verdict.WAIT, None, f"its admission failed: {exc!r}"),
                now,
                waiting=False,
            )
        except Exception:
            logger.exception(
                "Could not hold %s back either; it stays with runner %s, which reroutes it "
                "when it stops",
                inv,
                runner_id,
            )
    return False


def _short(decision: Admission) -> bool:
    """A rate wait short enough to wait for here rather than out of the runner: its
    start is due in a few ms (a late start came just before it)."""
    return (
        decision.verdict is Verdict.WAIT
        and decision.delay is not None
        and decision.delay <= SHORT_WAIT
        and decision.wake is None  # it gave back no slot that another invocation now wants
    )


def _fail(orchestrator: Orchestrator, envelope: Envelope, runner_id: str, reason: str) -> None:
    inv = envelope.invocation_id
    error = ConcurrencyControlledError(
        f"Invocation {inv} of task {envelope.task_id} did not run: {reason}, and the task "
        "sets reroute_on_concurrency_control=False (fail instead of waiting for a slot)."
    )
    why = f"not run: {reason}"
    orchestrator.note_endings([(inv, envelope.task_id)])  # it ends here: for its triggers
    if orchestrator.finish(inv, S.FAILED, runner_id, reason=why, error=exception_to_payload(error)):
        log.not_admitted(envelope.task_id, inv, reason)


def _hold(
    orchestrator: Orchestrator,
    envelope: Envelope,
    policy: ConcurrencyPolicy,
    runner_id: str,
    decision: Admission,
    now: float,
    *,
    waiting: bool = True,
) -> None:
    """RUNNING → SCHEDULED until its rate start (``decision.delay``) or, waiting for a slot,
    the recheck; publish the invocation ``decision`` says to wake. ``waiting``: it is among
    the waiters of its running slot (``False``: held back after an error)."""
    app = orchestrator.app
    inv = envelope.invocation_id
    slot_wait = decision.delay is None
    due = now + (app.conf.runner.concurrency_recheck if slot_wait else decision.delay or 0.0)
    if envelope.expires is not None:  # published at its expiry: it ends EXPIRED on time
        due = min(due, envelope.expires)
    if slot_wait and waiting:
        detail = f"{decision.reason}; woken by a release, rechecked at {iso(due)}"
    elif slot_wait:
        detail = f"{decision.reason}; tried again at {iso(due)}"
    else:
        detail = f"{decision.reason}; due at {iso(due)}"
    held = orchestrator.finish(inv, S.SCHEDULED, runner_id, reason=f"held back: {detail}", due=due)
    if held:
        log.held_back(envelope.task_id, inv, detail)
    key = policy.running_key(envelope.arguments)
    if decision.wake is not None and key is not None:  # it gave back the slot it took
        reason = f"woken: a running slot of {key!r} was given back by {inv}"
        _wake(orchestrator, policy, key, decision.wake, reason, runner_id)
    if not (slot_wait and waiting) or key is None:
        return
    backend = app.state_backend
    if not held:  # the record moved on without this runner: drop its place in the line
        backend.release_slot(key, inv)
    elif backend.acquire_slot(key, inv, policy.max_running, HOLDS_SLOT, enqueue=True):
        # A slot came free while it moved out of RUNNING: the release that handed it out
        # found it not SCHEDULED yet and could not wake it. Asked again now that it is
        # SCHEDULED: it takes the free slot (and is published now), or stays in the line,
        # where the next release finds it.
        publish_now(orchestrator, runner_id, [inv], f"woken: a running slot of {key!r} is free")


def release(
    orchestrator: Orchestrator,
    policy: ConcurrencyPolicy,
    invocation_id: str,
    arguments: Mapping[str, str],
    actor: str,
) -> None:
    """Give back the running slot of ``invocation_id`` (its attempt is over, it was taken
    from its runner, or cancelled; a waiting one leaves the line) and publish the longest
    waiter of its key now. A failure is logged: the slot then stops counting once the
    invocation is not RUNNING, and the waiters start at their recheck."""
    try:
        woken = concurrency.release(
            orchestrator.app.state_backend, policy, invocation_id, arguments
        )
        key = policy.running_key(arguments)
        if woken is not None and key is not None:
            reason = f"woken: a running slot of {key!r} was released by {invocation_id}"
            _wake(orchestrator, policy, key, woken, reason, actor)
    except Exception:
        logger.warning(
            "Could not give back the running slot of %s; invocations waiting for it start "
            "at their recheck (runner.concurrency_recheck)",
            invocation_id,
            exc_info=True,
        )


def _wake(
    orchestrator: Orchestrator,
    policy: ConcurrencyPolicy,
    key: str,
    woken: str,
    reason: str,
    actor: str,
) -> None:
    """Publish ``woken``, the waiter handed a released slot of ``key``. A waiter that will
    never ask for it (it expired or was cancelled while it waited, or is gone) passes the
    slot on to the next one, so the line does not stall until the rechecks; one still on
    its way out of RUNNING asks again itself (see :func:`_hold`)."""
    backend = orchestrator.app.state_backend
    for _ in range(STALE_WAITERS):
        if publish_now(orchestrator, actor, [woken], reason):
            return
        record = backend.get(woken)
        if record is not None and not record.status.is_final:
            return  # on its way out of RUNNING, or published already: it asks itself
        # take the slot in its name for an instant and give it back: to the next waiter
        if not backend.acquire_slot(key, woken, policy.max_running, HOLDS_SLOT, enqueue=False):
            return  # someone else took the slot meanwhile
        next_woken = backend.release_slot(key, woken)
        if next_woken is None:
            return
        woken = next_woken


def release_taken(
    orchestrator: Orchestrator, records: Sequence[InvocationRecord], actor: str
) -> None:
    """:func:`release` the slots of invocations recovery took from their runner (those of
    tasks this process knows; the others' slots stop counting at the next acquire)."""
    tasks = orchestrator.app.tasks
    for record in records:
        task = tasks.get(record.task_id)
        policy = None if task is None else task.start_policy
        if policy is not None and policy.running_key(record.arguments) is not None:
            release(orchestrator, policy, record.invocation_id, record.arguments, actor)
