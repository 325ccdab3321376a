"""Redis state backend: shared by any number of processes and hosts.

URLs: anything redis-py's ``from_url`` reads (``redis://:password@host:6379/0``,
``rediss://…``, ``unix:///path.sock?db=0``). Every key starts with ``pynenc:{app_id}:`` (the
braces are a Redis Cluster hash tag: one app's keys share a slot, as its scripts need).

Each primitive is one round trip: status changes and registration run as Lua scripts, so a
claim, its history entry, the status index and the wake-up happen in one atomic step. A
final status is PUBLISHed; one listener thread per backend turns messages into per-thread
Events, and waiters re-read the status every ``recheck_interval`` in case a message was lost.
Commands retry through a server restart for up to ``RETRY_FOR`` seconds.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pynenc.conf.masking import masked_url
from pynenc.exceptions import StateBackendError, StateBackendUnavailableError
from pynenc.records import (
    FINAL,
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
    without_links,
)
from pynenc.state_backend import (
    redis_limits,
    redis_logs,
    redis_recent,
    redis_status_reads,
    redis_values,
)
from pynenc.state_backend._waiters import Waiters, wait_until_all_final, wait_until_final
from pynenc.state_backend.base import Capabilities, StateBackend
from pynenc.state_backend.redis_clients import LentClients
from pynenc.state_backend.redis_listener import Listener
from pynenc.state_backend.redis_notices import RecentEnds, final_record
from pynenc.state_backend.redis_reach import reach
from pynenc.state_backend.redis_scripts import (
    ACQUIRE_LEASE,
    RECORD_FIELDS,
    REGISTER,
    REGISTER_RECORD,
    SET_STATUS,
    decode_entries,
    decode_record,
    register_fields,
    retry_fields,
    script_json,
    status_fields,
)

logger = logging.getLogger("pynenc.state_backend.redis")
T = TypeVar("T")

#: Seconds an operation keeps retrying while the server is unreachable (restart, failover).
RETRY_FOR = 30.0
#: Seconds between status re-reads of a waiter, in case a pub/sub message was lost.
RECHECK_INTERVAL = 1.0
#: Records per script call in ``register``.
REGISTER_CHUNK = 500
#: Commands per pipeline in the reads of many invocations.
READ_CHUNK = 1000
#: Calls registered and not waited for yet that a process remembers (see _note_fresh).
FRESH_KEPT = 10_000


class RedisStateBackend(StateBackend):
    """State in Redis: atomic scripts, pub/sub wake-ups, reconnection through restarts."""

    capabilities = Capabilities(cross_process=True, native_wakeup=True)

    def __init__(self, app_id: str, url: str) -> None:
        super().__init__(app_id, url)
        self.prefix = f"pynenc:{{{app_id}}}:"
        self.channel = self.prefix + "final"
        self.retry_for = RETRY_FOR
        self.recheck_interval = RECHECK_INTERVAL
        self._reached = False  # has the server answered once? (then outages are restarts)
        self._start()

    def _start(self) -> None:
        """Build the client and the per-process parts (again in a forked child)."""
        self._pid = os.getpid()
        # One immediate retry inside redis-py replaces a pooled connection that died with a
        # server restart; longer outages are retried by _call, with backoff.
        self._client = redis.Redis.from_url(
            self.url,
            decode_responses=True,
            # a lone surrogate in a str travels as its UTF-8-like bytes and comes back as
            # it was, where "strict" would fail the call (see script_json)
            encoding_errors="surrogatepass",
            socket_connect_timeout=5,
            socket_timeout=10,
            retry=Retry(NoBackoff(), 1),
        )
        self._lent = LentClients(self._client.connection_pool)
        self._register_script = self._client.register_script(REGISTER)
        self._set_status_script = self._client.register_script(SET_STATUS)
        self._lease_script = self._client.register_script(ACQUIRE_LEASE)
        self._limit_scripts = redis_limits.Scripts(self._client, REGISTER_RECORD)
        self._holds_script = self._client.register_script(redis_values.HOLDS)
        self._delete_if_equal_script = self._client.register_script(redis_values.DELETE_IF_EQUAL)
        self._append_log_script = self._client.register_script(redis_logs.APPEND)
        self._in_status_script = self._client.register_script(redis_status_reads.IN_STATUS)
        self._waiters = Waiters()
        self._recent = RecentEnds()
        self._listener = Listener(
            self.channel, f"pynenc-redis-listener-{self.app_id}", self._waiters, self._recent
        )
        #: the calls registered here while the listener listened, with the stretch of
        #: messages they were registered in (see wait_final_record)
        self._fresh: dict[str, int] = {}

    def _redis(self) -> redis.Redis:
        # redis-py's pools are not to be used across a fork: a child builds its own client
        # (the parent's sockets are left alone; redis-py never shuts them down in a child).
        if self._pid != os.getpid():
            self._start()
        return self._client

    def check(self) -> None:
        self._call(lambda client: client.ping())

    def _call(self, operation: Callable[[redis.Redis], T]) -> T:
        """Run ``operation``, retrying while the server is unreachable for up to retry_for
        (a restart); a server never reached yet gets ``connect_timeout`` to answer."""
        if not self._reached:
            reach(self.url, self.app_id, self.connect_timeout)
            self._reached = True
        deadline: float | None = None
        delay = 0.05
        while True:
            try:
                self._redis()  # rebuilt first, if we were forked
                return self._lent.run(operation)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.retry_for
                if now >= deadline:
                    raise StateBackendUnavailableError(
                        f"Redis state backend {masked_url(self.url)} unreachable for "
                        f"{self.retry_for} s (app {self.app_id!r}): {exc}"
                    ) from exc
                logger.debug("Redis unreachable, retrying in %.2f s: %s", delay, exc)
                time.sleep(min(delay, deadline - now))
                delay = min(delay * 2, 1.0)
            except redis.RedisError as exc:
                raise StateBackendError(
                    f"Redis state backend {masked_url(self.url)} failed "
                    f"(app {self.app_id!r}): {exc}"
                ) from exc

    # -- invocations ---------------------------------------------------------------------

    def register(self, records: Sequence[InvocationRecord], entry_time: float) -> list[bool]:
        args = [register_fields(record, entry_time) for record in records]
        when = repr(entry_time)

        def run(client: redis.Redis) -> str:
            # chunks keep each script short: Redis serves nobody else while one runs
            flags = []
            for start in range(0, len(args), REGISTER_CHUNK):
                chunk = script_json(args[start : start + REGISTER_CHUNK])
                script_args = [self.prefix, chunk, when, self.channel]
                reply = self._register_script(args=script_args, client=client)
                flags.append(cast(str, reply))
            return "".join(flags)

        inserted = [flag == "1" for flag in self._call(run)]
        self._note_fresh(r.invocation_id for r, new in zip(records, inserted, strict=True) if new)
        return inserted

    def get(self, invocation_id: str) -> InvocationRecord | None:
        key = self.prefix + "inv:" + invocation_id
        fields = cast(dict[str, str], self._call(lambda client: client.hgetall(key)))
        return decode_record(invocation_id, fields)

    def get_many(self, invocation_ids: Sequence[str]) -> list[InvocationRecord | None]:
        replies = self._read_records(invocation_ids, lambda pipe, key: pipe.hgetall(key))
        pairs = zip(invocation_ids, replies, strict=True)
        return [decode_record(i, cast(dict[str, str], fields)) for i, fields in pairs]

    def get_many_without_links(
        self, invocation_ids: Sequence[str]
    ) -> list[InvocationRecord | None]:
        """The records without their ``links`` field, which is not read (HMGET of the
        others): a step's links name every member of a group after it."""
        replies = self._read_records(
            invocation_ids, lambda pipe, key: pipe.hmget(key, RECORD_FIELDS)
        )
        found = [
            {k: v for k, v in zip(RECORD_FIELDS, values, strict=True) if v is not None}
            for values in replies
        ]
        # an older pynenc's record keeps its links in the meta: left out all the same
        return without_links(
            decode_record(i, fields) for i, fields in zip(invocation_ids, found, strict=True)
        )

    def _read_records(
        self,
        invocation_ids: Sequence[str],
        command: Callable[[Any, str], object],
        kind: str = "inv:",
    ) -> list[Any]:
        """``command(pipeline, key)`` for every id's record key (``kind``: ``hist:`` for
        its history), ``READ_CHUNK`` per round trip."""
        keys = [self.prefix + kind + invocation_id for invocation_id in invocation_ids]

        def run(client: redis.Redis) -> list[Any]:
            replies: list[Any] = []
            for start in range(0, len(keys), READ_CHUNK):
                with client.pipeline(transaction=False) as pipe:
                    for key in keys[start : start + READ_CHUNK]:
                        command(pipe, key)
                    replies.extend(pipe.execute())
            return replies

        return self._call(run)

    def set_status(self, update: StatusUpdate) -> bool:
        return self.set_status_many([update])[0]

    def set_status_many(self, updates: Sequence[StatusUpdate]) -> list[bool]:
        """One script call for the whole batch: one round trip, one PUBLISH of the finals."""
        if not updates:
            return []
        fields = script_json(
            [
                retry_fields(update)
                if isinstance(update, StatusUpdateWithArguments)
                else status_fields(update)
                for update in updates
            ]
        )
        args = [self.prefix, self.channel, fields]
        reply = cast(
            str, self._call(lambda client: self._set_status_script(args=args, client=client))
        )
        applied = [flag == "1" for flag in reply]
        for update, done in zip(updates, applied, strict=True):
            if (done and update.entry.status in FINAL) or (
                not done and update.on_expiry is not None
            ):
                # no need to wait for pub/sub (a refused expiry check may have expired it:
                # a waiter woken for nothing reads the status and waits on)
                self._waiters.notify(update.invocation_id)
        return applied

    def history(self, invocation_id: str) -> list[StatusEntry]:
        key = self.prefix + "hist:" + invocation_id
        raw = cast(list[str], self._call(lambda client: client.lrange(key, 0, -1)))
        return decode_entries(raw)

    def _status(self, invocation_id: str) -> InvocationStatus | None:
        key = self.prefix + "inv:" + invocation_id
        status = cast(str | None, self._call(lambda client: client.hget(key, "status")))
        return None if status is None else InvocationStatus(status)

    def wait_final(self, invocation_id: str, timeout: float | None) -> bool:
        return self._wait(invocation_id, timeout, lambda: self._status(invocation_id))

    def wait_final_record(
        self, invocation_id: str, timeout: float | None
    ) -> InvocationRecord | None:
        # An end this process was told of (the listener keeps the last ones) costs no read.
        # A call registered here while the listener listened, without a break since, is
        # not read before waiting either: its end cannot pass unseen (a break wakes every
        # waiter to read). Else the record is read first: one already final costs that.
        fresh = self._fresh.pop(invocation_id, 0) == self._listener.listening != 0
        seen: list[InvocationRecord | None] = [None]

        def read() -> InvocationStatus | None:
            nonlocal fresh
            if fresh:
                fresh = False
                return InvocationStatus.REGISTERED  # not final: wait for the message
            seen[0] = record = self.get(invocation_id)
            return None if record is None else record.status

        sent: dict[str, str] = {}
        if not self._wait(invocation_id, timeout, read, sent):
            return None
        record = seen[0]
        if record is not None and record.status in FINAL:
            return record
        # told of its end, with the record (unless it was too large to send)
        carried = sent.get(invocation_id) or self._recent.get(invocation_id)
        return final_record(invocation_id, carried) or self.get(invocation_id)

    def _note_fresh(self, invocation_ids: Iterable[str]) -> None:
        """Calls just registered by this process, while its listener listens."""
        listening = self._listener.listening
        if listening:
            fresh = self._fresh
            if len(fresh) > FRESH_KEPT:  # registered and never waited for
                fresh.clear()
            for invocation_id in invocation_ids:
                fresh[invocation_id] = listening

    def _wait(
        self,
        invocation_id: str,
        timeout: float | None,
        read_status: Callable[[], InvocationStatus | None],
        sent: dict[str, str] | None = None,
    ) -> bool:
        self._ensure_listener()
        # The waiter is registered before the first read, and the listener wakes every waiter
        # once it has (re)subscribed: no completion falls between the read and the wait.
        with self._waiters.watch(invocation_id) as waiter:
            self._listener.pace.catch_up()  # one reading in batches reads what came in first
            if self._recent.ended(invocation_id):  # announced before the waiter was there
                return True
            interval = self.recheck_interval
            done = wait_until_final(read_status, waiter, timeout, interval, interval)
            if sent is not None:
                sent.update(waiter.sent)
            return done

    def wait_final_many(self, invocation_ids: Sequence[str], timeout: float | None) -> bool:
        self._ensure_listener()
        ids = list(invocation_ids)

        def read(pending: list[str]) -> list[InvocationStatus | None]:
            replies = self._read_records(pending, lambda pipe, key: pipe.hget(key, "status"))
            return [None if s is None else InvocationStatus(s) for s in replies]

        with self._waiters.watch(*ids) as waiter:
            self._listener.pace.catch_up()
            return wait_until_all_final(read, waiter, ids, timeout, self.recheck_interval)

    def find(
        self,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
    ) -> list[str]:
        wanted = list(InvocationStatus) if statuses is None else sorted(set(statuses))
        status_keys = [self.prefix + "status:" + status.value for status in wanted]
        if not status_keys:
            return []
        if task_id is None:
            members = self._call(lambda client: client.sunion(status_keys))
            return list(cast(set[str], members))
        task_key = self.prefix + "task:" + task_id

        def intersect(client: redis.Redis) -> list[set[str]]:
            with client.pipeline(transaction=False) as pipe:
                for key in status_keys:
                    pipe.sinter([task_key, key])
                return cast(list[set[str]], pipe.execute())

        return list(set().union(*self._call(intersect)))

    def recent(
        self,
        limit: int,
        *,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
        queue: str | None = None,
    ) -> list[InvocationSummary]:
        return redis_recent.recent(self, limit, task_id, statuses, queue)

    # -- runners and leases --------------------------------------------------------------

    def heartbeat(self, runner_id: str, timestamp: float) -> None:
        key = self.prefix + "runners"
        self._call(lambda client: client.hset(key, runner_id, repr(timestamp)))

    def runners(self) -> dict[str, float]:
        key = self.prefix + "runners"
        raw = cast(dict[str, str], self._call(lambda client: client.hgetall(key)))
        return {runner_id: float(value) for runner_id, value in raw.items()}

    def forget_runner(self, runner_id: str) -> None:
        keys = (self.prefix + "runners", self.prefix + "runner_info")

        def forget(client: redis.Redis) -> None:
            with client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.hdel(key, runner_id)
                pipe.execute()

        self._call(forget)

    def set_runner_info(self, runner_id: str, info: Mapping[str, Any]) -> None:
        key, encoded = self.prefix + "runner_info", json.dumps(dict(info))
        self._call(lambda client: client.hset(key, runner_id, encoded))

    def runner_infos(self) -> dict[str, dict[str, Any]]:
        key = self.prefix + "runner_info"
        raw = cast(dict[str, str], self._call(lambda client: client.hgetall(key)))
        return {runner_id: json.loads(info) for runner_id, info in raw.items()}

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        keys = [self.prefix + "lease:" + name]
        # the key outlives the lease by a minute: expiry itself is decided by ``now``
        args = [holder, repr(now), repr(now + ttl), str(int(ttl * 1000) + 60_000)]
        return bool(self._call(lambda client: self._lease_script(keys, args, client=client)))

    def purge(self) -> int:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
        records = self.prefix + "inv:"

        def delete_all(client: redis.Redis) -> int:
            cursor, dropped = 0, 0
            while True:
                cursor, keys = client.scan(cursor, match=pattern, count=1000)
                keys = [key for key in keys if not redis_logs.is_counter(self.prefix, str(key))]
                if keys:
                    client.unlink(*keys)
                    dropped += sum(str(key).startswith(records) for key in keys)
                if cursor == 0:
                    break
            client.publish(self.channel, "")  # an empty message: every waiter checks again
            return dropped

        dropped = self._call(delete_all)
        self._recent.clear()
        self._waiters.notify_all()
        return dropped

    # -- wake-ups ------------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        self._redis()  # rebuild the per-process parts first, if we were forked
        self._listener.ensure(self._client)

    def close(self) -> None:
        if self._pid != os.getpid():
            return  # the client and the listener belong to the parent process
        self._listener.close()
        self._lent.close()
        self._client.close()

    def history_many(self, invocation_ids: Sequence[str]) -> list[list[StatusEntry]]:
        """Pipelined ``LRANGE``s: one round trip per ``READ_CHUNK`` invocations."""
        replies = self._read_records(
            invocation_ids, lambda pipe, key: pipe.lrange(key, 0, -1), kind="hist:"
        )
        return [decode_entries(cast(list[str], raw)) for raw in replies]

    # -- concurrency control and rate limits (redis_limits.py) ---------------------------

    def register_exclusive(
        self,
        records: Sequence[InvocationRecord],
        keys: Sequence[str | None],
        entry_time: float,
        held_while: frozenset[InvocationStatus],
    ) -> list[str | None]:
        args = redis_limits.register_exclusive_args(
            self.prefix, [register_fields(r, entry_time) for r in records], keys, entry_time
        )
        scripts = self._limit_scripts
        reply = self._call(lambda client: scripts.register(args, held_while, client))
        return [holder or None for holder in reply]

    def acquire_slot(
        self,
        key: str,
        holder: str,
        limit: int,
        held_while: frozenset[InvocationStatus],
        *,
        enqueue: bool = True,
    ) -> bool:
        scripts = self._limit_scripts
        return self._call(
            lambda client: scripts.acquire(
                self.prefix, key, holder, limit, held_while, enqueue, client
            )
        )

    def release_slot(self, key: str, holder: str) -> str | None:
        scripts = self._limit_scripts
        return self._call(lambda client: scripts.release(self.prefix, key, holder, client))

    def slot_holders(self, key: str) -> list[str]:
        members = self._call(lambda client: client.smembers(self.prefix + "slot:" + key))
        return sorted(cast(set[str], members))

    def take_rate(self, key: str, holder: str, interval: float, now: float) -> float:
        scripts = self._limit_scripts
        return self._call(
            lambda client: scripts.take_rate(self.prefix, key, holder, interval, now, client)
        )

    # -- values (see redis_values) -------------------------------------------------------

    def put_value(
        self, namespace: str, key: str, value: str, *, only_if_absent: bool = False
    ) -> bool:
        return redis_values.put_value(self, namespace, key, value, only_if_absent)

    def get_values(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        return redis_values.get_values(self, namespace, keys)

    def has_values(self, namespace: str, keys: Sequence[str]) -> list[bool]:
        return redis_values.has_values(self, namespace, keys)

    def delete_value(self, namespace: str, key: str, expected: str | None = None) -> bool:
        return redis_values.delete_value(self, namespace, key, expected)

    def append_log(self, stream: str, value: str, max_len: int) -> int:
        return redis_logs.append_log(self, stream, value, max_len)

    def read_log(self, stream: str, after: int, limit: int) -> list[tuple[int, str]]:
        return redis_logs.read_log(self, stream, after, limit)

    def due(self, until: float, limit: int) -> list[tuple[str, float]]:
        key, top = self.prefix + "scheduled", "+inf" if until == math.inf else repr(until)
        reply = cast(
            list[tuple[str, float]],
            self._call(
                lambda client: client.zrangebyscore(key, "-inf", top, 0, limit, withscores=True)
            ),
        )
        return [(invocation_id, float(score)) for invocation_id, score in reply]

    # -- the call tree -------------------------------------------------------------------

    def children(self, invocation_id: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        key = self.prefix + "children:" + invocation_id  # a list kept by registration
        return cast(list[str], self._call(lambda client: client.lrange(key, 0, limit - 1)))

    # -- reads by status -------------------------------------------------------------------

    def get_many_in_status(
        self, invocation_ids: Sequence[str], status: InvocationStatus
    ) -> list[InvocationRecord | None]:
        return redis_status_reads.get_many_in_status(self, invocation_ids, status)
