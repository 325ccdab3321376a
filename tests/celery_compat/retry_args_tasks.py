"""Tasks that retry with new arguments (module level: worker processes import them).

Each returns what its last attempt ran with, so a test in another process than the worker
sees it through ``get()``; ``RUNS`` also lists every attempt run in this process.
"""

from __future__ import annotations

import threading
from typing import Any

from pynenc_celery_compat import shared_task

#: (task id, retries, items) of every attempt run in this process
RUNS: list[tuple[str, int, list[str]]] = []
#: what ``returns_retry`` saw of the ``Retry`` it got back, by task id
SEEN: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


class Undeliverable(Exception):
    """An item that failed (``bad…`` items fail on their first attempt)."""


def _ran(request: Any, items: list[str]) -> None:
    with _lock:
        RUNS.append((request.id, request.retries, list(items)))


def runs_of(item: str) -> list[tuple[str, int, list[str]]]:
    """The attempts run in this process whose items held ``item``."""
    with _lock:
        return [run for run in RUNS if item in run[2]]


def _failed(items: list[str], retries: int) -> list[str]:
    return [item for item in items if item.startswith("bad") and retries == 0]


@shared_task(bind=True, max_retries=3, default_retry_delay=0)
def process(self: Any, items: list[str], countdown: float | None = None) -> dict[str, Any]:
    """Processes ``items``; retries (same id) with only the ones that failed."""
    _ran(self.request, items)
    failed = _failed(items, self.request.retries)
    if failed:
        raise self.retry(args=[failed], exc=Undeliverable(*failed), countdown=countdown)
    return {"id": self.request.id, "retries": self.request.retries, "items": items}


@shared_task(bind=True, max_retries=3, default_retry_delay=0)
def process_by_name(self: Any, items: list[str], tag: str = "") -> dict[str, Any]:
    """As :func:`process`, retrying with ``kwargs=`` only (the positional call's ``items``
    is replaced by name)."""
    _ran(self.request, items)
    failed = _failed(items, self.request.retries)
    if failed:
        raise self.retry(kwargs={"items": failed})
    return {"args": self.request.args, "kwargs": self.request.kwargs, "tag": tag}


@shared_task(bind=True, max_retries=2, default_retry_delay=0)
def grow(self: Any, items: list[str], with_exc: bool) -> None:
    """Retries with one more item every time, until its retries run out."""
    _ran(self.request, items)
    exc = Undeliverable("attempt", self.request.retries) if with_exc else None
    raise self.retry(args=[[*items, f"more{self.request.retries}"], with_exc], exc=exc)


@shared_task(max_retries=2, default_retry_delay=0)
def send_batch(messages: list[str], countdown: float | None = None) -> list[str]:
    """django-celery-email's shape: each message that fails is retried on its own
    (``retry(throw=False)`` on the task object) and the batch goes on with the others."""
    request = send_batch.request
    _ran(request, messages)
    sent = []
    for message in messages:
        if message.startswith("bad") and request.retries == 0:
            send_batch.retry(
                [[message]],
                {"countdown": countdown},
                exc=Undeliverable(message),
                throw=False,
                countdown=countdown,
            )
            continue
        sent.append(message)
    return sent


@shared_task(bind=True, max_retries=2, default_retry_delay=0)
def never_sent(self: Any, messages: list[str], with_exc: bool) -> str:
    """Retries every message on its own, every time, until its retries run out."""
    _ran(self.request, messages)
    exc = Undeliverable("attempt", self.request.retries) if with_exc else None
    for message in messages:
        self.retry(args=[[message], with_exc], exc=exc, throw=False)
    return f"attempt {self.request.retries} handed its messages on"


@shared_task(bind=True, max_retries=1, default_retry_delay=0)
def returns_retry(self: Any, value: int) -> int:
    """Keeps what ``retry(throw=False)`` returned (in :data:`SEEN`), then returns."""
    if self.request.retries == 0:
        signal = self.retry(args=[value + 1], throw=False, countdown=0)
        SEEN[self.request.id] = {
            "type": type(signal),
            "sig_args": tuple(signal.sig.args),
            "new_id": signal.pynenc_result.id,
            "when": signal.when,
        }
    return value
