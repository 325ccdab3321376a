"""The orchestrator: every rule about invocations, written once over the backend primitives.

It registers and publishes calls, claims them for runners, records outcomes and retries,
and waits for final statuses. State backends and the broker stay ignorant of all of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pynenc.broker.envelope import Envelope
from pynenc.conf.masking import masked_url
from pynenc.context import blocking_wait
from pynenc.exceptions import (
    InvalidStatusTransitionError,
    InvocationNotFoundError,
    InvocationTimeoutError,
)
from pynenc.orchestrator import cancellation, recovery, routing
from pynenc.orchestrator.claims import Refusal, explain_refusal
from pynenc.orchestrator.scheduling import (
    NOT_STARTED,
    changed_arguments,
    publish_due,
    schedule_retry,
)
from pynenc.orchestrator.transitions import (
    FROM_OWNED,
    RUNNER_SOURCES,
    TRANSITIONS,
    check_transition,
)
from pynenc.records import (
    InvocationRecord,
    InvocationStatus,
    StatusEntry,
    StatusUpdate,
    fingerprint,
    with_arguments,
)
from pynenc.timeouts import checked_timeout

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call
    from pynenc.call_options import CallOptions
    from pynenc.cancellation import Cancellation
    from pynenc.orchestrator.routing import Plan
    from pynenc.state_backend.redis_fused import FusedPath

logger = logging.getLogger("pynenc.orchestrator")
S = InvocationStatus
#: Why a record the caller holds an id for can be missing.
GONE = (
    "the record is gone — purged, or lost by the state backend (e.g. a Redis restarted "
    "without persistence) — or was never registered with this app"
)


class Orchestrator:
    """Routes calls to runners and keeps the status machine honest."""

    def __init__(self, app: Pynenc) -> None:
        self.app = app

    @cached_property
    def fused(self) -> FusedPath | None:
        """Register and publish in one round trip (broker and state backend are the same
        Redis), or ``None``: see :mod:`pynenc.state_backend.redis_fused`."""
        from pynenc.state_backend.redis_fused import fused_path

        return fused_path(self.app.state_backend, self.app.broker)

    # -- caller side ---------------------------------------------------------------------

    def route(
        self,
        calls: Sequence[Call[Any, Any]],
        per_message: int = 1,
        options: CallOptions | None = None,
    ) -> list[InvocationRecord]:
        """Register the calls (one backend write) and publish them (one broker batch),
        up to ``per_message`` invocations of a task in one message; their records, in call
        order (the task layer makes the handles): :meth:`plan` then :meth:`send`.

        ``options`` (the same for every call): a call with a delay or an ETA is registered
        SCHEDULED with its due time and not published (the services holder publishes it
        when due: :meth:`publish_due`); queue, priority and expiry are stored with the
        record. A caller-chosen invocation id already stored returns the stored record
        (nothing registered or published again).

        :raises BrokerError: the broker could not take them; they are then FAILED with
            that error, so none of them runs later (see
            :func:`~pynenc.orchestrator.unpublished.fail_unpublished`).
        :raises InvocationConflictError: a caller-chosen id names another call.
        """
        return self.send(self.plan(calls, options), per_message)

    def plan(self, calls: Sequence[Call[Any, Any]], options: CallOptions | None = None) -> Plan:
        """The records and messages of ``calls``, nothing stored or sent yet (the task
        layer shows them to ``before_publish`` hooks, then :meth:`send` s them)."""
        return routing.plan(self.app, calls, options)

    def send(self, plan: Plan, per_message: int = 1) -> list[InvocationRecord]:
        """Register and publish a :meth:`plan`; the records, in call order. Calls folded
        into a pending invocation by registration control are listed in ``plan.reused``
        and come back as that invocation's id (see :func:`routing.send`)."""
        return routing.send(self, plan, per_message)

    @property
    def _state_url(self) -> str:
        """The state backend URL for messages: its password masked."""
        return masked_url(self.app.conf.state_backend_url)

    def get_record(self, invocation_id: str) -> InvocationRecord:
        record = self.app.state_backend.get(invocation_id)
        if record is None:
            raise InvocationNotFoundError(
                f"Invocation {invocation_id} is not known to the state backend of app "
                f"{self.app.app_id!r} ({self._state_url}): {GONE}"
            )
        return record

    def wait_final(self, invocation_id: str, timeout: float | None) -> InvocationRecord:
        """Block until the invocation is final and return its record.

        Inside a runner, the wait is announced to the runner (``blocking_wait``) so the
        slot goes to other work meanwhile: nested waits never deadlock a runner.
        """
        timeout = checked_timeout(timeout, "wait_final")
        deadline = None if timeout is None else time.monotonic() + timeout
        backend = self.app.state_backend
        hook = blocking_wait.get()
        while True:
            # the backend's wait reads the record itself: no read before it, and an
            # invocation found final costs that one read
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                record = self.get_record(invocation_id)
                if record.status.is_final:
                    return record
                raise InvocationTimeoutError(
                    f"Invocation {invocation_id} of task {record.task_id} did not finish "
                    f"within {timeout} s (status: {record.status.name}). Is a runner "
                    f"consuming queue {record.queue!r} of app {self.app.app_id!r}?"
                )
            if hook is None:
                seen = backend.wait_final_record(invocation_id, remaining)
            else:
                with hook():
                    seen = backend.wait_final_record(invocation_id, remaining)
            # nothing seen: timed out, or unknown (get_record raises then)
            record = seen if seen is not None else self.get_record(invocation_id)
            if record.status.is_final:
                return record

    def wait_final_many(
        self, invocation_ids: Sequence[str], timeout: float | None
    ) -> list[InvocationRecord]:
        """Block until every invocation is final; their records, in order.

        A few round trips for the whole set (a pipelined read, pub/sub wake-ups, a
        pipelined read of the records), not two per invocation.
        """
        timeout = checked_timeout(timeout, "wait_final_many")
        backend = self.app.state_backend
        hook = blocking_wait.get()
        if hook is None:
            done = backend.wait_final_many(invocation_ids, timeout)
        else:
            with hook():
                done = backend.wait_final_many(invocation_ids, timeout)
        records = backend.get_many(invocation_ids)
        missing = [i for i, r in zip(invocation_ids, records, strict=True) if r is None]
        if missing:
            raise InvocationNotFoundError(
                f"{len(missing)} invocations (first: {missing[0]}) are not known to the state "
                f"backend of app {self.app.app_id!r} ({self._state_url}): {GONE}"
            )
        final = [r for r in records if r is not None]
        if not done:
            pending = [r for r in final if not r.status.is_final]
            if pending:
                raise InvocationTimeoutError(
                    f"{len(pending)} of {len(final)} invocations did not finish within "
                    f"{timeout} s (first: {pending[0].invocation_id} of task "
                    f"{pending[0].task_id}, status {pending[0].status.name}). Is a runner "
                    f"consuming queue {pending[0].queue!r} of app {self.app.app_id!r}?"
                )
        return final

    # -- runner side ---------------------------------------------------------------------

    @staticmethod
    def status_update(
        invocation_id: str,
        target: InvocationStatus,
        runner_id: str,
        *,
        reason: str | None = None,
        result: str | None = None,
        error: dict[str, Any] | None = None,
        num_retries: int | None = None,
        for_owner: str | None = None,
        task_id: str | None = None,
        arguments_fingerprint: str | None = None,
        due: float | None = None,
        expiring: bool = False,
    ) -> StatusUpdate:
        """The compare-and-set that moves ``invocation_id`` to ``target``, as ``runner_id``.

        Leaving an owned status needs its owner: ``runner_id`` itself, or ``for_owner``
        when recovery acts for a dead or stopping runner (history records the actor).
        ``task_id``/``arguments_fingerprint``, when given, must match the stored record.
        ``due``: when a SCHEDULED invocation is due. ``expiring``: a record past its expiry
        ends EXPIRED instead, in the same step (a claim).
        """
        now = time.time()
        return StatusUpdate(
            invocation_id=invocation_id,
            expected=RUNNER_SOURCES[target],
            entry=StatusEntry(target, now, runner_id, reason),
            owner=runner_id if TRANSITIONS[target].owned else None,
            # leaving an owned status (RUNNING) is for its owner only
            expected_owner=(for_owner or runner_id) if FROM_OWNED[target] else None,
            result=result,
            error=error,
            num_retries=num_retries,
            expected_task=task_id,
            expected_fingerprint=arguments_fingerprint,
            due=due,
            on_expiry=StatusEntry(S.EXPIRED, now, runner_id, NOT_STARTED) if expiring else None,
        )

    def claim_each(self, envelopes: Sequence[Envelope], runner_id: str) -> list[Refusal | None]:
        """Take every invocation for ``runner_id`` in one backend call; per envelope,
        ``None`` when it is now this runner's to run, else why not.

        The claim carries the message's task id and arguments' fingerprint: the backend
        refuses it, in the same atomic step, when they are not the stored invocation's,
        so a runner only ever runs the call that was registered. Refusals are explained
        from the stored records (one more read, only when something was refused); a
        message naming another call is logged as an ERROR.
        """
        updates = [
            self.status_update(
                e.invocation_id,
                S.RUNNING,
                runner_id,
                task_id=e.task_id,
                arguments_fingerprint=fingerprint(e.arguments),
                expiring=e.expires is not None,  # only calls with an expiry pay for it
            )
            for e in envelopes
        ]
        if self.app.trigger.watched:  # an expired one ends here: note it for its triggers
            now = time.time()
            self.note_endings(
                (e.invocation_id, e.task_id)
                for e in envelopes
                if e.expires is not None and e.expires <= now
            )
        claimed = self.app.state_backend.set_status_many(updates)
        if all(claimed):
            return [None] * len(claimed)
        refused = [(e, u) for e, u, ok in zip(envelopes, updates, claimed, strict=True) if not ok]
        records = self.app.state_backend.get_many([e.invocation_id for e, _ in refused])
        explained = iter(
            [
                explain_refusal(e, u.expected_fingerprint, r)
                for (e, u), r in zip(refused, records, strict=True)
            ]
        )
        return [None if ok else next(explained) for ok in claimed]

    def record_updates(self, updates: Sequence[StatusUpdate]) -> list[bool]:
        """Apply a runner's status updates in one backend call; per update, whether it was
        applied. A refused one (the record moved on without this runner) is logged with
        the reason, read back from the backend."""
        backend = self.app.state_backend
        applied = backend.set_status_many(updates)
        refused = [update for update, ok in zip(updates, applied, strict=True) if not ok]
        if refused:
            records = backend.get_many([update.invocation_id for update in refused])
            for update, record in zip(refused, records, strict=True):
                # refused because it was cancelled: expected, the canceller says why
                cancelled = record is not None and record.status is S.CANCELLED
                logger.log(
                    logging.INFO if cancelled else logging.WARNING,
                    "%s of %s not recorded: %s",
                    update.entry.status.name,
                    update.invocation_id,
                    _refusal(update, record),
                )
        return applied

    def retry(
        self,
        envelope: Envelope,
        runner_id: str,
        error: dict[str, Any],
        delay: float = 0.0,
        arguments: dict[str, str] | None = None,
    ) -> bool:
        """Record the retry and publish the invocation again with its retry count raised;
        with a ``delay`` (seconds), it waits SCHEDULED in the state backend until due
        instead (see :func:`~pynenc.orchestrator.scheduling.schedule_retry`).

        ``arguments`` (serialized): the retry runs with these instead, stored with the
        retry in the same atomic step (whoever publishes it later sends them); the
        history says so."""
        retries = envelope.num_retries + 1
        reason = f"retry {retries}: {error.get('type')}: {error.get('message')}"
        if arguments is not None:
            reason = f"{reason}; {changed_arguments(envelope.arguments, arguments)}"
        if delay > 0:
            return schedule_retry(self, envelope, runner_id, error, reason, delay, arguments)
        update = self.status_update(
            envelope.invocation_id, S.RETRY, runner_id, reason=reason, num_retries=retries
        )
        if arguments is not None:
            update = with_arguments(update, arguments)
        if not self.record_updates([update])[0]:
            return False
        sent = envelope.arguments if arguments is None else arguments
        self.app.broker.publish([replace(envelope, num_retries=retries, arguments=sent)])
        return True

    def envelope_for(self, record: InvocationRecord) -> Envelope:
        """Rebuild the envelope of a stored invocation (to publish it again), with the
        call's own queue, priority, expiry, serializer, headers and root as stored with
        the record."""
        return Envelope(
            record.invocation_id,
            record.task_id,
            record.arguments,
            record.serializer or self.app.conf.serializer,
            record.queue,
            record.num_retries,
            record.parent_id,
            priority=record.priority,
            expires=record.expires,
            headers=record.headers,
            root_id=record.root_id,
            links=record.links,
        )

    def publish_due(self, actor: str, now: float, horizon: float) -> float:
        """Publish the scheduled invocations due by ``now`` (the services holder's
        scheduler); seconds until the next pass (see
        :func:`~pynenc.orchestrator.scheduling.publish_due`)."""
        return publish_due(self, actor, now, horizon)

    def redeliver_stale(self, actor: str, now: float, after: float) -> int:
        """Publish again the invocations waiting unclaimed for more than ``after`` seconds.

        A broker can lose a message it had already handed out when it dies at the wrong
        moment (a Redis BRPOP answered as the server stops). The state backend still has
        the invocation, so it is published again — at most once per ``after`` seconds
        each (a lease marks it); a duplicate message is harmless: the claim absorbs it.
        Reads in batches (:mod:`pynenc.orchestrator.recovery`).
        """
        return recovery.redeliver_stale(self, actor, now, after)

    def reroute(self, record: InvocationRecord, actor: str, reason: str, max_reroutes: int) -> bool:
        """Take a RUNNING invocation back from its owner (dead or stopping) and publish it
        again, at least once. Past ``max_reroutes`` reroutes it FAILS instead, so a task
        that kills its runner every time cannot loop forever. ``False`` if it moved on."""
        return self.reroute_many([(record, reason)], actor, max_reroutes) == 1

    def reroute_many(
        self, moves: Sequence[tuple[InvocationRecord, str]], actor: str, max_reroutes: int
    ) -> int:
        """:meth:`reroute` for each ``(record, reason)``, in batches: one history read,
        one status write and one publish per batch. Returns how many moved."""
        return recovery.reroute_many(self, moves, actor, max_reroutes)

    def recover(self, actor: str, now: float, dead_after: float, max_reroutes: int) -> list[str]:
        """Reroute the RUNNING invocations of runners silent for ``dead_after`` seconds.

        Returns the ids of the runners found dead (their heartbeats are then forgotten).
        Called by the runner holding the services lease.
        """
        return recovery.recover(self, actor, now, dead_after, max_reroutes)

    def release_owned(self, runner_id: str, actor: str, reason: str, max_reroutes: int) -> int:
        """Reroute every invocation ``runner_id`` still runs (it is stopping or dead)."""
        return recovery.release_owned(self, runner_id, actor, reason, max_reroutes)

    def cancel(
        self, invocation_id: str, by: str | None = None, reason: str | None = None
    ) -> Cancellation:
        """Cancel an invocation unless it has finished (see
        :mod:`pynenc.orchestrator.cancellation`)."""
        return cancellation.cancel(self.app, invocation_id, by, reason)

    def note_endings(self, endings: Iterable[tuple[str, str]]) -> None:
        """Note ``(invocation id, task key)`` pairs about to end for the triggers watching
        their task (before the ending is written: the trigger pass reads the outcome back
        once it is final, and ignores one that did not end after all)."""
        watched = self.app.trigger.watched
        for invocation_id, task_key in endings:
            if task_key in watched:
                self.app.trigger.note_outcome(invocation_id, task_key)

    def finish(
        self, invocation_id: str, target: InvocationStatus, runner_id: str, **outcome: Any
    ) -> bool:
        """Move an owned invocation on (to an outcome, a retry, a reroute) at once;
        ``False``, with a warning, when the record moved on without this runner."""
        update = self.status_update(invocation_id, target, runner_id, **outcome)
        return self.record_updates([update])[0]


def _refusal(update: StatusUpdate, record: InvocationRecord | None) -> str:
    """Why the backend refused ``update``, given the record as it is now."""
    if record is None:
        return "the record is gone (purged, or lost by the state backend)"
    if record.status is S.CANCELLED and record.error is not None:
        return str(record.error.get("message", "it was cancelled"))
    try:
        check_transition(record.status, update.entry.status)
    except InvalidStatusTransitionError as exc:
        return str(exc)
    return f"runner {update.expected_owner} no longer owns it (owner: {record.owner})"
