"""Routing calls: their records and messages (a plan), then registering and publishing them.

Two steps so the task layer can show the invocations to ``before_publish`` hooks (which may
refuse them) between the two, without the orchestrator making handles: :func:`plan` builds
what would be stored and sent; :func:`send` stores and sends it, applying registration
control (calls folded into a pending invocation) and caller-chosen ids seen before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pynenc.broker.envelope import Envelope
from pynenc.context import current_invocation
from pynenc.exceptions import BrokerError
from pynenc.identifiers import new_invocation_id
from pynenc.orchestrator import registration
from pynenc.orchestrator.chosen_ids import id_source, reuse_stored
from pynenc.orchestrator.unpublished import fail_unpublished
from pynenc.records import InvocationRecord, InvocationStatus, stored_root

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.call import Call
    from pynenc.call_options import CallOptions
    from pynenc.orchestrator import Orchestrator

S = InvocationStatus


@dataclass(slots=True)
class Plan:
    """The records and messages of some calls, in call order, not stored or sent yet."""

    calls: Sequence[Call[Any, Any]]
    records: list[InvocationRecord]
    envelopes: list[Envelope]  #: only the calls published at once (not the delayed ones)
    now: float  #: the registration time
    #: set by :func:`send`: calls folded into a pending invocation (registration control),
    #: by index, with that invocation's id
    reused: dict[int, str] = field(default_factory=dict)
    #: set by :func:`send`: calls whose caller-chosen id was stored already, by index
    #: (the stored call stands: nothing was registered or published for them)
    held: frozenset[int] = frozenset()


def plan(app: Pynenc, calls: Sequence[Call[Any, Any]], options: CallOptions | None) -> Plan:
    """The records and envelopes of ``calls`` with ``options`` (the same for each)."""
    _ = app.broker  # built (its URL checked) before anything is registered
    parent = current_invocation.get()
    parent_id, root_id = None, None
    if parent is not None:  # a call from a running task: its tree's root goes along
        parent_id = parent.invocation_id
        root_id = stored_root(parent.root_id, parent_id)
    app_serializer = app.conf.serializer
    now = time.time()
    status, due, expires, headers = S.REGISTERED, None, None, None
    next_id = new_invocation_id
    if options is not None:
        due, expires = options.times(now)
        if due is not None and due > now:
            status = S.SCHEDULED
        else:
            due = None  # due already (an ETA in the past): published at once
        next_id = id_source(options, len(calls))
        headers = options.headers
    records: list[InvocationRecord] = []
    envelopes: list[Envelope] = []
    for call in calls:
        invocation_id = next_id()
        arguments = call.serialized_arguments  # checks a task's own serializer is accepted
        conf = call.task.conf
        queue, priority = conf.queue, conf.priority
        if options is not None:
            queue = options.queue or queue
            priority = priority if options.priority is None else options.priority
        # a task's own serializer is stored with the record (its readers decode with it)
        own = conf.serializer
        if own is not None and own == app_serializer:
            own = None
        task_key = call.task.task_id.key
        records.append(
            InvocationRecord(
                invocation_id,
                task_key,
                arguments,
                status=status,
                parent_id=parent_id,
                queue=queue,
                priority=priority,
                due=due,
                expires=expires,
                serializer=own,
                headers=headers,
                root_id=root_id,
            )
        )
        if due is None:
            envelopes.append(
                Envelope(
                    invocation_id,
                    task_key,
                    arguments,
                    own or app_serializer,
                    queue,
                    parent_id=parent_id,
                    priority=priority,
                    expires=expires,
                    headers=headers,
                    root_id=root_id,
                )
            )
    if options is not None and options.retries:  # carries on another call's retries
        for record in records:
            record.num_retries = options.retries
        envelopes = [replace(e, num_retries=options.retries) for e in envelopes]
    return Plan(calls, records, envelopes, now)


def send(orchestrator: Orchestrator, plan: Plan, per_message: int) -> list[InvocationRecord]:
    """Register ``plan`` (one backend write) and publish its messages (one broker batch);
    the records in call order: a call folded into a pending invocation (registration
    control, listed in ``plan.reused``) as that invocation's id, a caller-chosen id seen
    before as the stored record.

    :raises BrokerError: the broker could not take them: they are FAILED (never run).
    :raises InvocationConflictError: a caller-chosen id names another call.
    :raises InvocationConcurrencyWithDifferentArgumentsError: a KEYS duplicate with other
        arguments, for a task with ``on_diff_non_key_args_raise`` (the other calls were
        registered and published).
    """
    app = orchestrator.app
    records, envelopes = plan.records, plan.envelopes
    fused = orchestrator.fused
    if (
        fused is not None
        and len(envelopes) == len(records)
        and all(call.task.concurrency is None for call in plan.calls)
    ):
        done = fused.send(records, envelopes, plan.now, per_message)
        if done is not None:
            if all(done):  # stored and in the queues
                return records
            return _held(orchestrator, plan, done, per_message)
    reused, inserted = registration.register(app, plan.calls, records, plan.now)
    if reused:
        folded = {records[index].invocation_id for index in reused}
        envelopes = [e for e in envelopes if e.invocation_id not in folded]
        records = [
            replace(record, invocation_id=reused[index]) if index in reused else record
            for index, record in enumerate(records)
        ]
    elif not all(inserted):  # caller-chosen ids seen before: their stored calls stand
        records, envelopes = reuse_stored(orchestrator, records, inserted, envelopes)
        plan.held = frozenset(index for index, new in enumerate(inserted) if not new)
    _publish(app, records, envelopes, per_message)
    plan.reused = reused
    if reused:
        registration.check_reused(app, plan.calls, reused)
    return records


def _held(
    orchestrator: Orchestrator, plan: Plan, inserted: list[bool], per_message: int
) -> list[InvocationRecord]:
    """The fused path found caller-chosen ids stored already: it pushed nothing, so the
    new ones are published here and the stored records stand for the others."""
    records, envelopes = reuse_stored(orchestrator, plan.records, inserted, plan.envelopes)
    plan.held = frozenset(index for index, new in enumerate(inserted) if not new)
    _publish(orchestrator.app, records, envelopes, per_message)
    return records


def _publish(
    app: Pynenc, records: list[InvocationRecord], envelopes: list[Envelope], per_message: int
) -> None:
    """Publish ``envelopes``; on a broker failure their records are FAILED (never run)."""
    if not envelopes:
        return
    try:
        app.broker.publish(envelopes, per_message)
    except BrokerError as exc:
        sent = {envelope.invocation_id for envelope in envelopes}
        unpublished = [r for r in records if r.invocation_id in sent]
        raise fail_unpublished(app.state_backend, unpublished, exc) from exc
