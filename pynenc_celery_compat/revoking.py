"""Celery's ``revoke`` on pynenc's cancel, for ``AsyncResult.revoke`` and ``control.revoke``.

Celery's revoke keeps a call that has not started from ever running; a running one goes on
to its end unless ``terminate=True``, which stops it (``TaskRevokedError('terminated')``).
pynenc's cancel stops running work too, so a running call is cancelled only when
``terminate`` is asked for. Not started, it is cancelled (durable: every runner honours it).
"""

from __future__ import annotations

import logging
from typing import Any

from pynenc import Pynenc
from pynenc.exceptions import InvocationNotFoundError
from pynenc.records import FINAL, InvocationRecord, InvocationStatus
from pynenc_celery_compat.bridge import pynenc_app_for

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


def revoke_ids(celery_app: Any, ids: list[str], terminate: bool, by: str) -> list[str]:
    """Revoke each call of ``ids`` that ``celery_app``'s pynenc app knows (one record read
    per id); returns the ids it does not know, in order."""
    app = pynenc_app_for(celery_app)
    unknown = []
    for invocation_id in ids:
        try:
            record = app.orchestrator.get_record(invocation_id)
        except InvocationNotFoundError:
            unknown.append(invocation_id)
            continue
        revoke(app, record, terminate, by=by)
    return unknown


__all__ = ["revoke", "revoke_ids"]
