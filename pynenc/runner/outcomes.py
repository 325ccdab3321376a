"""Recording outcomes in batches: one backend call for whatever finished meanwhile.

The thread that finishes an invocation while no write is in flight writes its outcome
itself, at once (no hand-off, no added latency). Outcomes finishing while a write is in
flight queue up, and that writer takes them all in its next call (group commit). Under
load, a runner thus records many outcomes per round trip; idle, it records each at once.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from pynenc.exceptions import StateBackendError, StateBackendUnavailableError
from pynenc.records import InvocationStatus
from pynenc.serializer import exception_to_payload

if TYPE_CHECKING:
    from pynenc.orchestrator import Orchestrator
    from pynenc.records import StatusUpdate

logger = logging.getLogger("pynenc.runner")


class OutcomeWriter:
    """Writes the final statuses of one runner's invocations, batching under load."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._orchestrator = orchestrator
        self._cond = threading.Condition()
        self._pending: list[StatusUpdate] = []
        self._writing = False

    def record(self, update: StatusUpdate) -> None:
        """Write ``update`` now, or hand it to the write in flight (returns at once)."""
        with self._cond:
            self._pending.append(update)
            if self._writing:
                return
            self._writing = True
        self._drain()

    def _drain(self) -> None:
        while True:
            with self._cond:
                batch, self._pending = self._pending, []
                if not batch:
                    self._writing = False
                    self._cond.notify_all()
                    return
            try:
                self._orchestrator.record_updates(batch)
            except StateBackendUnavailableError:
                # the backend stayed unreachable through its retries: the invocations stay
                # RUNNING under this runner, and are rerouted if it dies or stops
                logger.exception("Could not record the outcomes of %d invocations", len(batch))
            except Exception:
                # the backend refused something in the batch (a result it cannot store):
                # rerouted, that invocation would run and fail to record again; record the
                # others, and that one as FAILED with the reason
                logger.exception("Recording %d outcomes failed; one at a time", len(batch))
                for update in batch:
                    self._record_alone(update)

    def _record_alone(self, update: StatusUpdate) -> None:
        try:
            record_outcome(self._orchestrator, update)
        except StateBackendUnavailableError:
            logger.exception("Could not record the outcome of %s", update.invocation_id)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every outcome handed over so far is written; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._writing and not self._pending, timeout)


def record_outcome(orchestrator: Orchestrator, update: StatusUpdate) -> None:
    """Record one outcome; one the backend refuses (a result it cannot store) is recorded
    as FAILED with the reason instead, so the invocation does not stay RUNNING to be
    rerouted, run and refused again.

    :raises StateBackendUnavailableError: the backend could not be reached.
    """
    try:
        orchestrator.record_updates([update])
        return
    except StateBackendUnavailableError:
        raise
    except Exception as exc:
        failure = StateBackendError(
            f"The state backend could not store the outcome ({update.entry.status.name}) "
            f"of invocation {update.invocation_id}: {exc!r}"
        )
    failed = orchestrator.status_update(
        update.invocation_id,
        InvocationStatus.FAILED,
        update.entry.runner_id or "",
        error=exception_to_payload(failure),
    )
    orchestrator.record_updates([failed])
    logger.error("%s", failure)
