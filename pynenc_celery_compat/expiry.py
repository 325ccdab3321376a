"""A call that expires before it could start: Celery revokes it, so does this layer.

Celery accepts ``apply_async(expires=<a past time>)`` (or an expiry before the
``countdown``/``eta``): the worker drops the message and the result is ``REVOKED``
(``get()`` raises ``TaskRevokedError``). pynenc refuses such a call with ``ValueError``,
which would turn a call that used to do nothing into a crash of the caller. So the call is
registered held (never due) and cancelled at once with the reason ``expired``: nothing
runs, and the result reads as Celery's does. Only calls with ``expires`` are looked at.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from pynenc.call_options import CallOptions
from pynenc.exceptions import LONGEST_DELAY

#: the cancellation reason, which ``TaskRevokedError`` carries as its message
REASON = "expired"


def never_starts(options: CallOptions | None) -> bool:
    """Whether a call with ``options`` expires before it may start."""
    if options is None or options.expires is None:
        return False
    try:
        options.times(time.time())
    except ValueError:  # already past, or not after the due time
        return True
    return False


def held(options: CallOptions) -> CallOptions:
    """``options`` registering the call without running it (cancelled next by
    :func:`revoke_unstarted`)."""
    return dataclasses.replace(options, delay=LONGEST_DELAY, eta=None, expires=None)


def revoke_unstarted(pynenc_app: Any, invocation: Any, existed: bool) -> None:
    """Cancel the held call as expired (unless the id named a call made before)."""
    if not existed:
        pynenc_app.orchestrator.cancel(
            invocation.invocation_id, by="apply_async(expires=...)", reason=REASON
        )


def id_taken(pynenc_app: Any, task_id: str | None) -> bool:
    """Whether the caller's ``task_id`` names a call already registered."""
    if task_id is None:
        return False
    from pynenc.exceptions import InvocationNotFoundError

    try:
        pynenc_app.orchestrator.get_record(task_id)
    except InvocationNotFoundError:
        return False
    return True
