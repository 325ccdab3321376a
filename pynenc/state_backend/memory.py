"""In-memory state backend: one process, threads woken by events, no polling.

Stores are shared per ``app_id`` across the process, like kombu's ``memory://`` queues,
so every app object with the same id sees the same invocations.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pynenc.records import (
    FINAL,
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
    fingerprint,
)
from pynenc.state_backend.base import Capabilities, StateBackend


class _Store:
    """The data of one app id, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, InvocationRecord] = {}
        self.histories: dict[str, list[StatusEntry]] = {}
        self.fingerprints: dict[str, str] = {}  #: of each record's arguments
        self.waiters: dict[str, threading.Event] = {}
        self.heartbeats: dict[str, float] = {}
        self.runner_infos: dict[str, str] = {}  #: JSON, as other backends store it
        self.leases: dict[str, tuple[str, float]] = {}
        self.scheduled: dict[str, float] = {}  #: the scheduled index: id -> due time


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store_for(app_id: str) -> _Store:
    with _stores_lock:
        store = _stores.get(app_id)
        if store is None:
            store = _stores[app_id] = _Store()
        return store


class MemoryStateBackend(StateBackend):
    """Dict-backed state for the embedded default and for tests."""

    capabilities = Capabilities(cross_process=False, native_wakeup=True)

    def __init__(self, app_id: str, url: str = "memory://") -> None:
        super().__init__(app_id, url)
        self._store = _store_for(app_id)

    def register(self, records: Sequence[InvocationRecord], entry_time: float) -> list[bool]:
        store = self._store
        prints = [fingerprint(record.arguments) for record in records]  # outside the lock
        inserted: list[bool] = []
        with store.lock:
            for record, digest in zip(records, prints, strict=True):
                inv = record.invocation_id
                if inv in store.records:
                    inserted.append(False)
                    continue
                store.fingerprints[inv] = digest
                store.records[inv] = replace(record)
                store.histories[inv] = [StatusEntry(record.status, entry_time)]
                if record.status is InvocationStatus.SCHEDULED:
                    store.scheduled[inv] = entry_time if record.due is None else record.due
                inserted.append(True)
        return inserted

    def get(self, invocation_id: str) -> InvocationRecord | None:
        with self._store.lock:
            record = self._store.records.get(invocation_id)
            return None if record is None else replace(record)

    def set_status(self, update: StatusUpdate) -> bool:
        store = self._store
        with store.lock:
            record = store.records.get(update.invocation_id)
            if record is None or record.status not in update.expected:
                return False
            if update.expected_owner is not None and record.owner != update.expected_owner:
                return False
            if update.expected_task is not None and record.task_id != update.expected_task:
                return False
            expected_print = update.expected_fingerprint
            if expected_print is not None and (
                store.fingerprints[update.invocation_id] != expected_print
            ):
                return False
            entry, applied = update.entry, True
            if (
                update.on_expiry is not None
                and record.expires is not None
                and record.expires <= entry.timestamp
            ):
                entry, applied = update.on_expiry, False
                record.owner = None
            else:
                record.owner = update.owner
                if update.result is not None:
                    record.result = update.result
                if update.error is not None:
                    record.error = update.error
                if update.num_retries is not None:
                    record.num_retries = update.num_retries
            if entry.status is InvocationStatus.SCHEDULED:
                record.due = entry.timestamp if update.due is None else update.due
                store.scheduled[update.invocation_id] = record.due
            elif record.status is InvocationStatus.SCHEDULED:
                store.scheduled.pop(update.invocation_id, None)
            record.status = entry.status
            store.histories[update.invocation_id].append(entry)
            waiter = (
                store.waiters.pop(update.invocation_id, None) if (record.status in FINAL) else None
            )
        if waiter is not None:
            waiter.set()
        return applied

    def history(self, invocation_id: str) -> list[StatusEntry]:
        with self._store.lock:
            return list(self._store.histories.get(invocation_id, ()))

    def wait_final(self, invocation_id: str, timeout: float | None) -> bool:
        store = self._store
        with store.lock:
            record = store.records.get(invocation_id)
            if record is None or record.status in FINAL:
                return record is not None
            waiter = store.waiters.get(invocation_id)
            if waiter is None:
                waiter = store.waiters[invocation_id] = threading.Event()
        return waiter.wait(timeout)

    def find(
        self,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
    ) -> list[str]:
        wanted = None if statuses is None else frozenset(statuses)
        with self._store.lock:
            return [
                inv_id
                for inv_id, record in self._store.records.items()
                if (task_id is None or record.task_id == task_id)
                and (wanted is None or record.status in wanted)
            ]

    def recent(
        self,
        limit: int,
        *,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
        queue: str | None = None,
    ) -> list[InvocationSummary]:
        wanted = None if statuses is None else frozenset(statuses)
        store = self._store
        with store.lock:
            matches = [
                InvocationSummary(
                    inv_id,
                    r.task_id,
                    r.status,
                    r.queue,
                    store.histories[inv_id][0].timestamp,
                    r.due,
                )
                for inv_id, r in store.records.items()
                if (task_id is None or r.task_id == task_id)
                and (wanted is None or r.status in wanted)
                and (queue is None or r.queue == queue)
            ]
        return heapq.nlargest(limit, matches, key=lambda s: s.registered)

    def heartbeat(self, runner_id: str, timestamp: float) -> None:
        with self._store.lock:
            self._store.heartbeats[runner_id] = timestamp

    def runners(self) -> dict[str, float]:
        with self._store.lock:
            return dict(self._store.heartbeats)

    def forget_runner(self, runner_id: str) -> None:
        with self._store.lock:
            self._store.heartbeats.pop(runner_id, None)
            self._store.runner_infos.pop(runner_id, None)

    def set_runner_info(self, runner_id: str, info: Mapping[str, Any]) -> None:
        encoded = json.dumps(dict(info))
        with self._store.lock:
            self._store.runner_infos[runner_id] = encoded

    def runner_infos(self) -> dict[str, dict[str, Any]]:
        with self._store.lock:
            infos = dict(self._store.runner_infos)
        return {runner_id: json.loads(info) for runner_id, info in infos.items()}

    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        with self._store.lock:
            current = self._store.leases.get(name)
            if current is not None and current[0] != holder and current[1] > now:
                return False
            self._store.leases[name] = (holder, now + ttl)
            return True

    def purge(self) -> int:
        store = self._store
        with store.lock:
            dropped = len(store.records)
            store.records.clear()
            store.histories.clear()
            store.fingerprints.clear()
            store.heartbeats.clear()
            store.runner_infos.clear()
            store.leases.clear()
            store.scheduled.clear()
            waiters = list(store.waiters.values())
            store.waiters.clear()
        for waiter in waiters:  # wake anyone waiting: their invocation no longer exists
            waiter.set()
        return dropped

    def due(self, until: float, limit: int) -> list[tuple[str, float]]:
        with self._store.lock:
            ready = [(inv, due) for inv, due in self._store.scheduled.items() if due <= until]
        return heapq.nsmallest(limit, ready, key=lambda item: item[1])
