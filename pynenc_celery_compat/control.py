"""``app.control`` of this package's ``Celery``: ``revoke`` cancels through pynenc.

Celery's revoke is a broadcast that each worker keeps in memory; here it is pynenc's
cancel, stored in the state backend: durable, seen by every runner, and a call not started
yet never runs. A running one goes on unless ``terminate=True`` (as Celery's), which stops
it (process runners; a thread runner's task stops at its next ``invocation.checkpoint()``).
Ids pynenc does not know are broadcast to Celery's workers when tasks are switched back to
Celery (``pynenc_celery_tasks``, or ``PYNENC_CELERY_TASKS``), else ignored, as Celery's
workers ignore unknown ids.
The other remote-control commands are Celery's (they reach Celery workers only).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.app import control as celery_control

from pynenc_celery_compat import revoking, routing

logger = logging.getLogger("pynenc_celery_compat.control")


class Control(celery_control.Control):  # type: ignore[misc]
    """Celery's ``Control`` whose ``revoke`` is pynenc's durable cancel."""

    def revoke(
        self,
        task_id: str | list[str] | tuple[str, ...],
        destination: Any = None,
        terminate: bool = False,
        signal: str = "SIGTERM",
        **kwargs: Any,
    ) -> None:
        """Cancel the task call ``task_id`` (or each of a list of ids) unless it finished."""
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        unknown = revoking.revoke_ids(self.app, ids, terminate, by="app.control.revoke")
        if unknown and routing.switches_back(self.app):
            super().revoke(unknown, destination, terminate, signal, **kwargs)
        elif unknown:
            logger.debug("revoke: pynenc knows no task call %s", ", ".join(unknown))


__all__ = ["Control"]
