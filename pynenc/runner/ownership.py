"""Which of a runner's invocations are still its own after it may have been declared dead.

A runner silent for ``runner.dead_after`` (paused, starved, cut off) is declared dead by
another runner, which reroutes its RUNNING invocations; they then run elsewhere. When the
silent runner resumes it must not start what it had claimed but not started, and must not
count what it still runs as its own work. Both checks read the backend; runners call them
only when in doubt (see ``RunnerServices.on_takeover``), never on the normal path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pynenc.records import InvocationStatus

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker import Envelope

logger = logging.getLogger("pynenc.runner")
S = InvocationStatus


def still_owned(app: Pynenc, runner_id: str, envelopes: Sequence[Envelope]) -> list[Envelope]:
    """The claimed, not yet started ``envelopes`` that ``runner_id`` still owns (RUNNING
    under it); the others are logged and dropped."""
    records = app.state_backend.get_many([e.invocation_id for e in envelopes])
    kept = []
    for envelope, record in zip(envelopes, records, strict=True):
        if record is not None and record.status is S.RUNNING and record.owner == runner_id:
            kept.append(envelope)
            continue
        status = record.status.name if record is not None else "purged"
        owner = record.owner if record is not None else None
        logger.warning(
            "Runner %s no longer owns invocation %s (now %s, owner %s): another runner took "
            "it over while this one was silent; not starting it",
            runner_id,
            envelope.invocation_id,
            status,
            owner,
        )
    return kept


def taken_over(app: Pynenc, runner_id: str, invocation_ids: Sequence[str]) -> set[str]:
    """The invocations ``runner_id`` is running that another runner rerouted since this
    one claimed them (they run, or ran, elsewhere); each is logged."""
    backend = app.state_backend
    taken = set()
    for invocation_id in set(invocation_ids):
        history = backend.history(invocation_id)
        claims = [
            i for i, e in enumerate(history) if e.status is S.RUNNING and e.runner_id == runner_id
        ]
        since = history[claims[-1] + 1 :] if claims else history
        by = [e.runner_id for e in since if e.status is S.REROUTED and e.runner_id != runner_id]
        if history and not by:
            continue
        taken.add(invocation_id)
        how = (
            f"runner {by[0]} rerouted it while this one was silent, and took it over"
            if by
            else "its record is gone (purged, or lost by the state backend)"
        )
        logger.warning(
            "Runner %s no longer owns invocation %s: %s. It still runs here, but this "
            "runner no longer counts it as its work (and its outcome is not recorded)",
            runner_id,
            invocation_id,
            how,
        )
    return taken
