"""The result cache: a call with the arguments of an earlier successful invocation gets that
invocation back instead of running the task again (task option ``call_result_cache``).

The key is the task id and a digest of the serialized arguments as they travel (large ones
are client-data-store references, so a 20 MB argument costs a 64-character hash), leaving
out the arguments named by ``disable_cache_args``. A runner records ``key -> invocation id``
(value namespace ``result_cache``) when an invocation succeeds; the newest success wins. A
call looks the key up (one read), then the invocation (one read): a hit is a handle on that
SUCCESS invocation, with nothing registered or published. An entry whose invocation is gone
(purged) or is not a success, or is older than ``call_result_cache_ttl`` seconds, is a miss,
and the call runs as usual.

The runner writes the entry just before it records the success, so a caller that has seen
the result finds the entry on its next call; an entry whose invocation is not final yet is
a miss. It is a cache, not a lock: calls made before the first success all run.
Tasks without the option never get here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pynenc.exceptions import ConfigError
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.records import InvocationStatus, fingerprint

if TYPE_CHECKING:
    from pynenc.broker.envelope import Envelope
    from pynenc.call import Call
    from pynenc.invocation.base import BaseInvocation
    from pynenc.task import Task

logger = logging.getLogger("pynenc.orchestrator")

#: The value namespace of cache entries (key: ``<task id>:<digest of the arguments>``).
NAMESPACE = "result_cache"


def check_options(task: Task[Any, Any]) -> None:
    """Refuse ``disable_cache_args`` naming no parameter of the task (a typo would
    silently keep the argument in the key).

    :raises ConfigError: naming the unknown names and the task's parameters.
    """
    unknown = [n for n in task.conf.disable_cache_args if n not in task.signature.parameters]
    if unknown:
        raise ConfigError(
            f"Task {task.task_id}: disable_cache_args names {', '.join(map(repr, unknown))}, "
            f"not parameters of the function (its parameters: "
            f"{', '.join(task.signature.parameters) or 'none'})"
        )


def cache_key(task: Task[Any, Any], serialized: dict[str, str]) -> str:
    """The cache key of a call of ``task`` with ``serialized`` arguments (as they travel)."""
    left_out = task.conf.disable_cache_args
    if left_out:
        serialized = {k: v for k, v in serialized.items() if k not in left_out}
    return f"{task.task_id.key}:{fingerprint(serialized)}"


def lookup(
    task: Task[Any, Any], calls: Sequence[Call[Any, Any]]
) -> list[DistributedInvocation[Any, Any] | None]:
    """Per call, a handle on its cached SUCCESS invocation, or ``None`` (a miss): two
    backend reads for all the calls, one when none is cached."""
    backend = task.app.state_backend
    entries = backend.get_values(
        NAMESPACE, [cache_key(task, c.serialized_arguments) for c in calls]
    )
    ttl, now = task.conf.call_result_cache_ttl, time.time()
    ids = [_fresh_id(entry, ttl, now) for entry in entries]
    wanted = [invocation_id for invocation_id in ids if invocation_id is not None]
    records = dict(zip(wanted, backend.get_many(wanted), strict=True)) if wanted else {}
    hits: list[DistributedInvocation[Any, Any] | None] = []
    for call, invocation_id in zip(calls, ids, strict=True):
        record = records.get(invocation_id) if invocation_id is not None else None
        if (
            record is None
            or record.status is not InvocationStatus.SUCCESS
            or record.task_id != task.task_id.key
        ):
            hits.append(None)
            continue
        hit: DistributedInvocation[Any, Any] = DistributedInvocation(
            task, call.arguments, record.invocation_id, record.parent_id
        )
        hit._final = record  # final already: its result is read without another round trip
        hits.append(hit)
    if wanted:
        logger.debug(
            "Result cache of %s: %d of %d calls hit", task.task_id, len(wanted), len(calls)
        )
    return hits


def _fresh_id(entry: str | None, ttl: float | None, now: float) -> str | None:
    if entry is None:
        return None
    data = json.loads(entry)
    if ttl is not None and now - float(data["at"]) > ttl:
        return None
    return str(data["id"])


def route_cached(
    task: Task[Any, Any],
    calls: Sequence[Call[Any, Any]],
    route: Callable[[Sequence[Call[Any, Any]]], Sequence[BaseInvocation[Any, Any]]],
) -> list[BaseInvocation[Any, Any]]:
    """The invocations of ``calls`` in order: cached ones from :func:`lookup`, the others
    from ``route`` (called once, with the misses only, if any)."""
    hits = lookup(task, calls)
    misses = [call for call, hit in zip(calls, hits, strict=True) if hit is None]
    routed = iter(route(misses) if misses else ())
    return [hit if hit is not None else next(routed) for hit in hits]


def remember(task: Task[Any, Any], envelope: Envelope) -> None:
    """Record ``envelope``'s invocation as the cached result of its arguments (on the
    runner, just before its success is recorded). A backend error is logged, not raised:
    the invocation succeeded; only later calls miss the cache."""
    key = cache_key(task, envelope.arguments)
    entry = json.dumps({"id": envelope.invocation_id, "at": time.time()})
    try:
        task.app.state_backend.put_value(NAMESPACE, key, entry)
    except Exception:
        logger.warning(
            "Could not record the result of %s in the result cache of %s",
            envelope.invocation_id,
            task.task_id,
            exc_info=True,
        )
