"""What a Celery worker stores besides the return value, kept the same way on pynenc.

* **A retry waiting** (state ``RETRY``): Celery's result is the exception that caused it.
  The runner publishes it as the invocation's progress (state ``RETRY``; one write, on the
  retry path only) and :func:`progress_info` rebuilds it for ``AsyncResult.info``.
* **``raise Ignore()``**: Celery stores nothing, so the caller keeps seeing the state from
  before (``PENDING``, or a custom state set with ``update_state``) and ``get()`` waits.
  The invocation ends SUCCESS with :data:`IGNORED` as its value; :func:`ignored` tells such
  a record apart by its stored text (no decoding, no extra read), and ``AsyncResult``
  shows it as not finished.
* **Children** (``AsyncResult.children``): the calls a task made while it ran, stored in
  one value when it ends (only when it made calls), as Celery stores them with the result.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from celery import states

from pynenc.records import InvocationRecord, InvocationStatus
from pynenc.serializer import exception_to_payload, payload_to_exception

#: the key of the value an ignored invocation ends with
IGNORED_KEY = "__celery_ignored__"
#: the value an invocation whose task raised ``Ignore`` ends with
IGNORED: dict[str, bool] = {IGNORED_KEY: True}
#: state backend value namespace of the children of an invocation
CHILDREN = "celery-children"


def publish_retry(invocation: Any, exc: BaseException | None) -> None:
    """Show ``RETRY`` with ``exc`` (the retry's reason) until the next attempt."""
    invocation.set_progress(states.RETRY, None if exc is None else exception_to_payload(exc))


def progress_info(progress: Any) -> Any:
    """``AsyncResult.info`` of a running or waiting invocation with ``progress``."""
    if progress is None:
        return None
    if progress.state == states.RETRY and isinstance(progress.meta, dict):
        return payload_to_exception(progress.meta)
    return progress.meta


def ignored(record: InvocationRecord) -> bool:
    """Whether ``record`` is an invocation whose task raised ``Ignore``."""
    return (
        record.status is InvocationStatus.SUCCESS
        and record.result is not None
        and IGNORED_KEY in record.result
    )


def as_unfinished(record: InvocationRecord) -> InvocationRecord:
    """An ignored ``record`` as the caller sees it: never finished (``PENDING``, or the
    custom state the task set before it raised ``Ignore``)."""
    return dataclasses.replace(record, status=InvocationStatus.REGISTERED, result=None)


def store_children(backend: Any, invocation_id: str, children: list[Any]) -> None:
    """Keep the ids of the calls a task made (``request.children``), once, as it ends."""
    ids = [child.id for child in children if getattr(child, "id", None)]
    if ids:
        backend.put_value(CHILDREN, invocation_id, json.dumps(ids))


def read_children(backend: Any, invocation_id: str) -> list[str]:
    """The ids stored by :func:`store_children` (``[]`` when it made no calls)."""
    text = backend.get_value(CHILDREN, invocation_id)
    return [] if text is None else [str(child) for child in json.loads(text)]
