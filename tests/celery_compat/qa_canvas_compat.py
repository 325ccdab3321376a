"""A small document pipeline written with Celery's canvas, the way projects write it.

QA of the canvas layer: ``qa_canvas_celery.py`` runs on a real Celery 5.7 test worker,
``qa_canvas_compat.py`` (the same text but the import lines, as a migration changes them)
on pynenc runners. The shapes are those of real codebases: a bulk edit as
``chord(header, body=done.si(...)).on_error(restore.s(backup))`` (paperless), chains of
immutable steps, groups of chains, ``link=``/``link_error=`` on ``apply_async``, callbacks
stored as JSON and rebuilt with ``signature()``/``maybe_signature()``, ``self.replace()``.

Side effects go to a Redis list of the flavour's Redis (``note``): a test waits for them
with ``BLPOP`` whichever process ran the task.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

from pynenc_celery_compat import Celery, chain, chord, group, signature
from pynenc_celery_compat.canvas import maybe_signature

app = Celery(__name__)

GATE_TIMEOUT = 60.0


class DocumentLocked(Exception):
    """A document another user is editing."""


@functools.cache
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def note(key: str, entry: Any) -> None:
    """Append ``entry`` (JSON) to the Redis list ``key`` of the flavour's Redis."""
    _redis(app.conf.broker_url).rpush(key, json.dumps(entry))


def hold(gate: str) -> None:
    """Say ``started`` through the folder ``gate``; wait until the test releases it."""
    folder = Path(gate)
    (folder / "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + GATE_TIMEOUT
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} was never released")
        time.sleep(0.01)


# -- the pipeline --------------------------------------------------------------------------


@app.task
def fetch(doc_id: int) -> dict[str, Any]:
    return {"id": doc_id, "text": f"text of {doc_id}"}


@app.task
def ocr(doc: dict[str, Any], lang: str = "eng") -> dict[str, Any]:
    return {**doc, "lang": lang}


@app.task
def index(doc: dict[str, Any], *, key: str) -> int:
    note(key, {"indexed": doc["id"], "lang": doc.get("lang")})
    return int(doc["id"])


@app.task
def count_words(doc_id: int) -> int:
    return doc_id * 10


@app.task
def total(counts: list[int]) -> int:
    return sum(counts)


@app.task
def update_document(doc_id: int, field: str, value: Any, fail_on: list[int] | None = None) -> int:
    if fail_on and doc_id in fail_on:
        raise DocumentLocked(f"document {doc_id} is locked")
    return doc_id


@app.task
def bulk_edit_done(ids: list[int], *, key: str) -> list[int]:
    note(key, {"done": ids})
    return ids


@app.task
def restore_backup(
    request: Any, exc: Any, traceback: Any, backup: dict[str, Any], *, key: str
) -> None:
    """A new-style error callback with its own argument (``restore_backup.s(backup)``)."""
    note(
        key,
        {
            "restored": backup,
            "failed_id": request.id,
            "failed_task": request.task,
            "exc_type": type(exc).__name__,
            "exc": str(exc),
        },
    )


@app.task
def failed_id(task_id: str, *, key: str) -> None:
    """An old-style error callback: the failed task's id."""
    note(key, {"failed": task_id})


@app.task
def notify(value: Any, *, key: str, label: str = "") -> Any:
    note(key, {"label": label, "value": value})
    return value


@app.task
def explode(*args: Any) -> None:
    raise ValueError(f"exploded with {list(args)}")


@app.task
def held(value: Any, gate: str) -> Any:
    hold(gate)
    return value


@app.task
def with_callback(doc_id: int, callback: dict[str, Any] | None = None) -> int:
    """A task given its callback as a dict (a signature through JSON): rebuilt, then sent."""
    if callback is not None:
        signature(callback).delay(doc_id * 2)
    return doc_id


@app.task
def with_maybe_callback(doc_id: int, callback: Any = None) -> int:
    sig = maybe_signature(callback, app=app)
    if sig is not None:
        sig.apply_async((doc_id + 1,))
    return doc_id


@app.task
def fan_out_chord(ids: list[int], key: str) -> str:
    """A task that starts a chord and returns its body's id (a view's background job)."""
    result = chord([count_words.s(i) for i in ids], notify.s(key=key, label="fan-out"))()
    return str(result.id)


@app.task
def fan_out_chain(doc_id: int, key: str) -> str:
    result = chain(fetch.s(doc_id), ocr.s(lang="deu"), index.s(key=key)).apply_async()
    return str(result.id)


@app.task
def as_group(doc_ids: list[int]) -> list[int]:
    return list(doc_ids)


@app.task(bind=True)
def replaced_by_group(self: Any, ids: list[int]) -> None:
    raise self.replace(group(count_words.s(i) for i in ids))


@app.task(bind=True)
def replaced_by_chain(self: Any, doc_id: int) -> None:
    raise self.replace(chain(fetch.s(doc_id), ocr.s(lang="fra")))


@app.task(bind=True, max_retries=3, default_retry_delay=0)
def flaky(self: Any, doc_id: int, succeed_at: int) -> int:
    if self.request.retries < succeed_at:
        raise self.retry()
    return doc_id


@app.task(ignore_result=True)
def fire_and_forget(doc_id: int) -> int:
    return doc_id
