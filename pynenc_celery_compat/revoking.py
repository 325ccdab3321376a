"""Celery's ``revoke`` on pynenc's cancel, for ``AsyncResult.revoke`` and ``control.revoke``.

Celery's revoke keeps a call that has not started from ever running; a running one goes on
to its end unless ``terminate=True``, which stops it (``TaskRevokedError('terminated')``).
pynenc's cancel stops running work too, so a running call is cancelled only when
``terminate`` is asked for. Not started, it is cancelled (durable: every runner honours it).
"""

from __future__ import annotations

import logging

from pynenc import Pynenc
from pynenc.records import FINAL, InvocationRecord, InvocationStatus

logger = logging.getLogger("pynenc_celery_compat.revoking")


def revoke(app: Pynenc, record: InvocationRecord, terminate: bool, by: str) -> None:
    """Revoke the call of ``record`` as Celery does (see the module docs)."""
    if record.status in FINAL:
        return
    running = record.status is InvocationStatus.RUNNING
    if running and not terminate:
        logger.info(
            "revoke(%s): the task is running and goes on to its end, as in Celery; pass "
            "terminate=True to stop it",
            record.invocation_id,
        )
        return
    reason = "terminated" if running else "revoked"
    app.orchestrator.cancel(record.invocation_id, by=by, reason=reason)


__all__ = ["revoke"]
