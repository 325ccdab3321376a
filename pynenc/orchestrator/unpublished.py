"""Calls the broker did not take: finalised as FAILED, so what the caller is told happens.

``Orchestrator.route`` registers invocations, then publishes them. When the publish fails
the caller gets a ``BrokerError``; left REGISTERED, the invocations would be published
again by redelivery and run anyway — twice, for a caller that retries on the error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pynenc.exceptions import BrokerError, PynencError
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.serializer import exception_to_payload
from pynenc.state_backend.base import StateBackend

#: Only a still-waiting invocation is failed: one a runner claimed meanwhile is left alone.
_EXPECTED = frozenset({InvocationStatus.REGISTERED})


def fail_unpublished(
    backend: StateBackend, records: Sequence[InvocationRecord], exc: BrokerError
) -> BrokerError:
    """Finalise ``records`` (registered, not published) as FAILED with the broker's error;
    returns the error to raise to the caller, saying what became of them.

    Nothing the caller is told failed runs: redelivery only republishes waiting
    invocations, and a message that reached the broker anyway is refused at the claim. One a
    runner claimed first (the broker took it, its confirmation was lost) runs; the error
    says so.
    """
    reason = f"could not be published: {exc}"
    entry = StatusEntry(InvocationStatus.FAILED, time.time(), None, reason)
    payload = exception_to_payload(exc)
    updates = [
        StatusUpdate(record.invocation_id, _EXPECTED, entry, error=payload) for record in records
    ]
    first = records[0]
    which = (
        f"Invocation {first.invocation_id} of task {first.task_id}"
        if len(records) == 1
        else f"{len(records)} invocations of task {first.task_id} (first: {first.invocation_id})"
    )
    try:
        applied = backend.set_status_many(updates)
    except PynencError as backend_exc:
        return BrokerError(
            f"{exc}. {which} could not be marked FAILED either ({backend_exc}): it stays "
            "REGISTERED and is published again after runner.redeliver_after."
        )
    taken = [r.invocation_id for r, ok in zip(records, applied, strict=True) if not ok]
    note = (
        f" {len(taken)} of them (first: {taken[0]}) had already been taken by a runner and "
        "will run."
        if taken
        else ""
    )
    verb = "is" if len(records) == 1 else "are"
    return BrokerError(f"{exc}. {which} {verb} FAILED and will not run.{note}")
