"""Delayed work, written once over the state backend's scheduled index.

A call with a delay or an ETA, and a retry with a delay, wait SCHEDULED in the state
backend under their due time; nothing is published and no runner holds them. The runner
holding the services lease runs a scheduler (:class:`pynenc.runner.services.RunnerServices`)
that calls :func:`publish_due`: each due invocation moves SCHEDULED → REGISTERED (RETRY for
a retry) by compare-and-set, then is published. The compare-and-set takes it out of the
index in the same step, so two schedulers (a lease changing hands) publish it once; a crash
between the two steps leaves it REGISTERED and unpublished, which redelivery covers
(``runner.redeliver_after``), as for any message a broker lost.

An invocation with an expiry that is not started by then ends EXPIRED: at the claim (the
backend's compare-and-set checks it), at :func:`publish_due` (the same check), or at once
when a delayed retry would fall due after it (:func:`schedule_retry`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pynenc.broker.envelope import Envelope
from pynenc.exceptions import LONGEST_DELAY, BrokerError, RetryError
from pynenc.invocation import log
from pynenc.records import InvocationStatus, StatusEntry, StatusUpdate, with_arguments

if TYPE_CHECKING:
    from pynenc.conf import TaskConfig
    from pynenc.orchestrator import Orchestrator

logger = logging.getLogger("pynenc.orchestrator")
S = InvocationStatus

#: History reason of an invocation found expired when claimed or when due.
NOT_STARTED = "not started before its expiry"
#: Due invocations published per scheduler pass (the next pass follows at once).
BATCH = 500
_SCHEDULED = frozenset({S.SCHEDULED})


def iso(timestamp: float) -> str:
    """A time as the history and the CLI show it (UTC, milliseconds)."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


def schedule_retry(
    orchestrator: Orchestrator,
    envelope: Envelope,
    runner_id: str,
    error: dict[str, Any],
    reason: str,
    delay: float,
    arguments: dict[str, str] | None = None,
) -> bool:
    """Record a retry due in ``delay`` seconds: RUNNING → SCHEDULED, with the due time in
    the history's reason; the runner's slot is free at once. A retry that would fall due
    at or after the invocation's expiry ends it EXPIRED instead (with the attempt's error).
    ``arguments`` (serialized): what the retry runs with, stored in the same step (the
    scheduler republishes the stored record). ``False`` (logged) when the record moved on
    without this runner."""
    due = time.time() + delay
    retries = envelope.num_retries + 1
    inv, expires = envelope.invocation_id, envelope.expires
    if expires is not None and due >= expires:
        why = f"{reason}; the retry would be due at {iso(due)}, after its expiry at {iso(expires)}"
        orchestrator.note_endings([(inv, envelope.task_id)])
        if not orchestrator.finish(
            inv, S.EXPIRED, runner_id, reason=why, error=error, num_retries=retries
        ):
            return False
        log.expired(envelope.task_id, inv, why)
        return True
    why = f"{reason}; due at {iso(due)} (in {delay:.3f} s)"
    update = orchestrator.status_update(
        inv, S.SCHEDULED, runner_id, reason=why, num_retries=retries, due=due
    )
    if arguments is not None:
        update = with_arguments(update, arguments)
    return orchestrator.record_updates([update])[0]


def changed_arguments(before: dict[str, str], after: dict[str, str]) -> str:
    """What the history says of a retry that runs with ``after`` instead of ``before``
    (serialized arguments): the names whose values changed, added or dropped."""
    names = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"with new arguments ({shown or 'same values'})"


def retry_delay(conf: TaskConfig, exc: BaseException, retry_number: int) -> float:
    """Seconds before retry number ``retry_number`` (1 for the first) of a task with
    options ``conf``, after it raised ``exc``.

    ``RetryError(delay=x)`` says ``x`` itself. Otherwise ``retry_delay``, times
    ``retry_backoff ** (retry_number - 1)`` when a backoff is set, at most
    ``retry_backoff_max`` (and :data:`~pynenc.exceptions.LONGEST_DELAY`); with
    ``retry_jitter``, a random time between 0 and that (full jitter: retries of many
    failed calls spread out instead of coming back together).
    """
    explicit = exc.delay if isinstance(exc, RetryError) else None
    if explicit is not None:
        return explicit
    delay = conf.retry_delay
    if not delay:
        return 0.0
    if conf.retry_backoff is not None:
        try:
            delay *= conf.retry_backoff ** (retry_number - 1)
        except OverflowError:  # a long run of retries: past any cap below
            delay = math.inf
    if conf.retry_backoff_max is not None:
        delay = min(delay, conf.retry_backoff_max)
    delay = min(delay, LONGEST_DELAY)  # a due time a datetime can hold
    if conf.retry_jitter:
        delay = random.uniform(0.0, delay)
    return delay


def publish_due(orchestrator: Orchestrator, actor: str, now: float, horizon: float) -> float:
    """Publish what is due by ``now``; how long the scheduler may sleep before its next pass.

    One read of the index covers ``now + horizon``: the sleep ends at the next due time
    it saw, or after ``horizon`` (to see work scheduled meanwhile), or at once when a
    full batch was due.
    """
    backend = orchestrator.app.state_backend
    entries = backend.due(now + horizon, BATCH)
    ready = [invocation_id for invocation_id, due in entries if due <= now]
    if ready:
        _release(orchestrator, actor, ready, now)
        if len(ready) == BATCH:
            return 0.0
    upcoming = [due for _, due in entries if due > now]
    return min(horizon, upcoming[0] - now) if upcoming else horizon


def publish_now(
    orchestrator: Orchestrator, actor: str, ids: list[str], reason: str, due_only: bool = False
) -> list[str]:
    """Publish scheduled invocations before their due time (a held-back invocation woken
    by the release of a running slot): what the scheduler does when they fall due, with
    ``reason`` in the history. One that is not SCHEDULED any more is left as it is (one
    past its expiry ends EXPIRED). With ``due_only`` (the followers a composition released),
    one due later is left to the scheduler too (a delayed step). Returns the ids moved out
    of SCHEDULED to be run."""
    return _release(orchestrator, actor, ids, time.time(), reason, due_only)


def _release(
    orchestrator: Orchestrator,
    actor: str,
    ready: list[str],
    now: float,
    reason: str = "",
    due_only: bool = False,
) -> list[str]:
    """SCHEDULED → REGISTERED/RETRY (or EXPIRED) in one backend call, then one publish;
    the ids now REGISTERED/RETRY. With ``due_only``, those due after ``now`` are left."""
    backend = orchestrator.app.state_backend
    updates: list[StatusUpdate] = []
    envelopes: list[Envelope] = []
    expired = StatusEntry(S.EXPIRED, now, actor, NOT_STARTED)
    expiring: list[bool] = []
    # only the SCHEDULED ones are read whole (a chord body still WAITING is not)
    for record in backend.get_many_in_status(ready, S.SCHEDULED):
        if record is None:
            continue  # purged, released by another scheduler meanwhile, or still waiting
        if due_only and record.due is not None and record.due > now:
            continue  # a delayed step: the scheduler publishes it when due
        target = S.RETRY if record.num_retries else S.REGISTERED
        late = now - (record.due or now)
        why = reason or f"due, published {late:.3f} s after its due time"
        entry = StatusEntry(target, now, actor, why)
        updates.append(StatusUpdate(record.invocation_id, _SCHEDULED, entry, on_expiry=expired))
        envelopes.append(orchestrator.envelope_for(replace(record, status=target)))
        expiring.append(record.expires is not None and record.expires <= now)
    if not updates:
        return []
    if orchestrator.app.trigger.watched:  # the expired ones end here: note them first
        orchestrator.note_endings(
            (e.invocation_id, e.task_id)
            for e, past in zip(envelopes, expiring, strict=True)
            if past
        )
    applied = backend.set_status_many(updates)
    due = [envelope for envelope, ok in zip(envelopes, applied, strict=True) if ok]
    for envelope, ok, past in zip(envelopes, applied, expiring, strict=True):
        if not ok and past:  # else another scheduler released it meanwhile
            log.expired(envelope.task_id, envelope.invocation_id, NOT_STARTED)
    if not due:
        return []
    try:
        orchestrator.app.broker.publish(due)
    except BrokerError:
        logger.exception(
            "Could not publish %d due invocations (first: %s); they stay REGISTERED and are "
            "published again after runner.redeliver_after",
            len(due),
            due[0].invocation_id,
        )
    return [envelope.invocation_id for envelope in due]
