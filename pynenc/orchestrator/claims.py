"""Refused claims: why a runner did not take an invocation it received.

A claim carries the message's task id and arguments' fingerprint, and the backend refuses
it when they are not the stored invocation's (see ``Orchestrator.claim_each``). A refusal
is explained here from the record as it is now: a duplicate (taken, finished, purged) is
routine; a message naming another call is not, and is logged as an ERROR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pynenc.broker.envelope import Envelope
from pynenc.invocation import log
from pynenc.orchestrator.scheduling import NOT_STARTED
from pynenc.records import InvocationRecord, InvocationStatus, fingerprint

logger = logging.getLogger("pynenc.orchestrator")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a claim was refused."""

    reason: str
    #: the message names another task or other arguments than the stored invocation:
    #: not a duplicate but a forged or corrupted message (dead-letter it)
    forged: bool = False
    #: CANCELLED or EXPIRED: it will never run (the ``run_dropped`` hooks are told)
    status: InvocationStatus | None = None


def explain_refusal(
    envelope: Envelope, arguments_fingerprint: str | None, record: InvocationRecord | None
) -> Refusal:
    """Why the claim of ``envelope`` (whose arguments have ``arguments_fingerprint``) was
    refused, given the record as it is now; logged."""
    inv = envelope.invocation_id
    if record is None:
        logger.info("Not running %s: the invocation is unknown (purged?)", inv)
        return Refusal("the invocation is unknown (purged?)")
    if (
        record.task_id == envelope.task_id
        and envelope.num_retries < record.num_retries
        and fingerprint(record.arguments) != arguments_fingerprint
    ):  # a duplicate of a message older than a retry that changed the arguments
        reason = (
            f"a message of attempt {envelope.num_retries + 1}, older than retry "
            f"{record.num_retries}, which changed the arguments (a duplicate: only the "
            "retry's own message runs)"
        )
        logger.info("Not running %s: %s", inv, reason)
        return Refusal(reason)
    differences = []
    if record.task_id != envelope.task_id:
        differences.append(
            f"it names task {envelope.task_id!r}, the invocation is of {record.task_id!r}"
        )
    if fingerprint(record.arguments) != arguments_fingerprint:
        names = ", ".join(sorted(envelope.arguments)) or "none"
        stored = ", ".join(sorted(record.arguments)) or "none"
        if names == stored:
            differences.append(f"the values of its arguments ({names}) are not the stored ones")
        else:
            differences.append(f"its arguments ({names}) are not the stored ones ({stored})")
    if differences:
        reason = (
            f"the message does not match the stored invocation: {'; '.join(differences)}. "
            "Nothing was run: only the stored call runs, from its own message. Something "
            "other than a pynenc caller wrote to the broker; check who can publish to it."
        )
        logger.error("Refused a message for invocation %s: %s", inv, reason)
        return Refusal(reason, forged=True)
    if record.status is InvocationStatus.EXPIRED:
        reason = "it expired before it started (status EXPIRED)"
        log.expired(envelope.task_id, inv, f"{NOT_STARTED}, found when claimed")
        return Refusal(reason, status=InvocationStatus.EXPIRED)
    cancelled = record.status is InvocationStatus.CANCELLED
    reason = (
        "it was cancelled"
        if cancelled
        else f"already taken, finished or purged (status {record.status.name})"
    )
    logger.info("Not running %s: %s", inv, reason)
    return Refusal(reason, status=InvocationStatus.CANCELLED if cancelled else None)
