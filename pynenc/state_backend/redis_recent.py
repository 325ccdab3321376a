"""``recent`` for the Redis state backend: invocations newest first, filtered, bounded.

Registration adds every id to the ``registered`` sorted set, scored by registration time. A
task or status filter that matches few invocations is served from the ``find`` sets, ordered
by that score; anything else walks ``registered`` newest first, a page of records per round
trip, so a listing never reads more than ``RECENT_SCAN_MAX`` records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

import redis

from pynenc.records import InvocationStatus, InvocationSummary

if TYPE_CHECKING:
    from pynenc.state_backend.redis import RedisStateBackend

#: Most invocations ``recent`` examines (newest first) to fill its page: a bound on the
#: cost of a listing over a large keyspace.
RECENT_SCAN_MAX = 100_000
#: ``recent`` with a task or status filter reads the matching ids from their sets when
#: there are at most this many (a rare status is found at once, however old).
RECENT_FROM_SETS = 20_000
#: Ids per ``ZMSCORE`` call.
SCORE_CHUNK = 1000

_SUMMARY = ("task", "status", "queue", "due")


def recent(
    backend: RedisStateBackend,
    limit: int,
    task_id: str | None,
    statuses: Iterable[InvocationStatus] | None,
    queue: str | None,
) -> list[InvocationSummary]:
    """:meth:`StateBackend.recent <pynenc.state_backend.base.StateBackend.recent>` on Redis:
    from the sets when a task/status filter matches at most ``RECENT_FROM_SETS``, else by
    walking ``registered`` until ``limit`` match or ``RECENT_SCAN_MAX`` were examined."""
    wanted = None if statuses is None else {status.value for status in statuses}
    if (wanted is not None and not wanted) or limit <= 0:
        return []
    filtered = task_id is not None or wanted is not None
    if filtered and _count(backend, task_id, wanted) <= RECENT_FROM_SETS:
        entries = _newest_of(backend, backend.find(task_id, statuses))
        page = max(limit, 200)
        found: list[InvocationSummary] = []
        for start in range(0, len(entries), page):  # usually one page is enough
            chunk = entries[start : start + page]
            found.extend(_summaries(backend, chunk, task_id, wanted, queue, limit - len(found)))
            if len(found) == limit:
                break
        return found
    page = max(limit, 200)
    found = []
    for start in range(0, RECENT_SCAN_MAX, page):
        stop = min(start + page, RECENT_SCAN_MAX) - 1
        entries = _newest(backend, start, stop)
        found.extend(_summaries(backend, entries, task_id, wanted, queue, limit - len(found)))
        if len(found) == limit:
            return found
        if len(entries) < stop - start + 1:
            break  # the index is exhausted
    return found


def _summaries(
    backend: RedisStateBackend,
    entries: Sequence[tuple[str, float]],
    task_id: str | None,
    wanted: set[str] | None,
    queue: str | None,
    limit: int,
) -> list[InvocationSummary]:
    """The first ``limit`` of ``entries`` (id, registration time) matching the filters."""
    ids = [invocation_id for invocation_id, _ in entries]
    fields = backend._read_records(ids, lambda pipe, key: pipe.hmget(key, _SUMMARY))
    found: list[InvocationSummary] = []
    for (inv, registered), (task, status, q, due) in zip(entries, fields, strict=True):
        if status is None:
            continue  # purged meanwhile
        if (
            (task_id is None or task == task_id)
            and (wanted is None or status in wanted)
            and (queue is None or q == queue)
        ):
            found.append(
                InvocationSummary(
                    inv,
                    task,
                    InvocationStatus(status),
                    q,
                    registered,
                    None if due is None else float(due),
                )
            )
            if len(found) == limit:
                break
    return found


def _count(backend: RedisStateBackend, task_id: str | None, wanted: set[str] | None) -> int:
    """An upper bound of the invocations matching a task and/or status filter."""
    keys = [backend.prefix + "status:" + status for status in wanted or ()]
    if task_id is not None:
        keys = [backend.prefix + "task:" + task_id]  # the task set bounds every status

    def count(client: redis.Redis) -> int:
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.scard(key)
            return sum(cast(list[int], pipe.execute()))

    return backend._call(count)


def _newest_of(
    backend: RedisStateBackend, invocation_ids: Sequence[str]
) -> list[tuple[str, float]]:
    """``invocation_ids`` with their registration time, newest first."""
    index = backend.prefix + "registered"

    def scores(client: redis.Redis) -> list[float | None]:
        found: list[float | None] = []
        for start in range(0, len(invocation_ids), SCORE_CHUNK):
            chunk = list(invocation_ids[start : start + SCORE_CHUNK])
            found.extend(client.zmscore(index, chunk))
        return found

    paired = zip(invocation_ids, backend._call(scores), strict=True)
    known = [(inv, score) for inv, score in paired if score is not None]
    return sorted(known, key=lambda entry: entry[1], reverse=True)


def _newest(backend: RedisStateBackend, start: int, stop: int) -> list[tuple[str, float]]:
    """Entries ``start``..``stop`` (inclusive) of the ``registered`` index, newest first."""
    index = backend.prefix + "registered"
    reply = backend._call(lambda client: client.zrevrange(index, start, stop, withscores=True))
    return cast(list[tuple[str, float]], reply)
