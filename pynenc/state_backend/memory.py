"""In-memory state backend: one process, threads woken by events, no polling.

Stores are shared per ``app_id`` across the process, like kombu's ``memory://`` queues,
so every app object with the same id sees the same invocations.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pynenc.records import (
    FINAL,
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    Links,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
    copy_record,
    fingerprint,
)
from pynenc.state_backend._limits import rate_take
from pynenc.state_backend._links import link_new, settle
from pynenc.state_backend.base import RATE_RESERVATION_GRACE as GRACE
from pynenc.state_backend.base import Capabilities, StateBackend, check_log, check_namespace


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
        #: concurrency control: registration key -> holder; slot key -> holders, and
        #: -> waiters (a dict as an ordered set); rate key -> arrival time, reservations
        self.registration_keys: dict[str, str] = {}
        self.slots: dict[str, set[str]] = {}
        self.slot_waiters: dict[str, dict[str, None]] = {}
        self.rate_times: dict[str, tuple[float | None, float | None]] = {}
        self.rate_reservations: dict[str, dict[str, float]] = {}
        self.values: dict[tuple[str, str], str] = {}  #: (namespace, key) -> value
        self.scheduled: dict[str, float] = {}  #: the scheduled index: id -> due time
        #: composition (records.Links): parent -> the WAITING invocations waiting for it;
        #: a WAITING invocation -> how many it still waits for
        self.waiting_of: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        #: waiters of invocations ended by settling links (set once the lock is released)
        self.woken: list[threading.Event] = []
        #: the call tree: parent -> its children, in registration order
        self.children: dict[str, list[str]] = {}
        #: logs: stream -> (last sequence number, the kept entries by sequence number)
        self.logs: dict[str, tuple[int, dict[int, str]]] = {}

    def store(self, records: Sequence[InvocationRecord], prints: list[str], when: float) -> None:
        """Store new records, indexing the SCHEDULED ones by due time (the lock held)."""
        for record, digest in zip(records, prints, strict=True):
            inv = record.invocation_id
            self.fingerprints[inv] = digest
            self.records[inv] = copy_record(record)
            self.histories[inv] = [StatusEntry(record.status, when)]
            if record.status is InvocationStatus.SCHEDULED:
                self.scheduled[inv] = when if record.due is None else record.due
            if record.parent_id is not None:
                self.children.setdefault(record.parent_id, []).append(inv)

    # -- LinkOps (pynenc.state_backend._links), the lock held ------------------------------

    def take_waiting(self, parent_id: str) -> list[str]:
        return self.waiting_of.pop(parent_id, [])

    def add_waiting(self, parent_id: str, child_id: str) -> None:
        self.waiting_of.setdefault(parent_id, []).append(child_id)

    def state(self, invocation_id: str) -> tuple[InvocationStatus, Links | None] | None:
        record = self.records.get(invocation_id)
        return None if record is None else (record.status, record.links)

    def error(self, invocation_id: str) -> dict[str, Any] | None:
        record = self.records.get(invocation_id)
        return None if record is None else record.error

    def set_count(self, invocation_id: str, count: int) -> None:
        self.counts[invocation_id] = count

    def count_down(self, invocation_id: str) -> int:
        left = self.counts[invocation_id] = self.counts.get(invocation_id, 1) - 1
        return left

    def move(
        self,
        invocation_id: str,
        entry: StatusEntry,
        error: dict[str, Any] | None,
        due: float | None = None,
    ) -> None:
        record = self.records[invocation_id]
        record.status = entry.status
        self.counts.pop(invocation_id, None)
        if entry.status is InvocationStatus.SCHEDULED:
            record.due = entry.timestamp if due is None else due
            self.scheduled[invocation_id] = record.due
        else:
            record.error = error
            waiter = self.waiters.pop(invocation_id, None)
            if waiter is not None:
                self.woken.append(waiter)
        self.histories[invocation_id].append(entry)

    def wake_settled(self) -> None:
        """Wake the waiters of invocations that settling ended (the lock released)."""
        woken, self.woken = self.woken, []
        for waiter in woken:
            waiter.set()

    def in_status(self, invocation_id: str, statuses: frozenset[InvocationStatus]) -> bool:
        record = self.records.get(invocation_id)
        return record is not None and record.status in statuses


def _trim(history: list[StatusEntry], newest: int) -> None:
    """Keep the first entry of ``history`` and its ``newest`` last ones, in place."""
    if len(history) > newest + 1:
        del history[1 : len(history) - newest]


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
                if record.invocation_id in store.records:  # a caller-chosen id seen before
                    inserted.append(False)
                    continue
                store.store([record], [digest], entry_time)
                inserted.append(True)
            for record, new in zip(records, inserted, strict=True):
                if new and record.status is InvocationStatus.WAITING and record.links:
                    link_new(store, record.invocation_id, record.links, entry_time)
        store.wake_settled()
        return inserted

    def get(self, invocation_id: str) -> InvocationRecord | None:
        with self._store.lock:
            record = self._store.records.get(invocation_id)
            return None if record is None else copy_record(record)

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
                if isinstance(update, StatusUpdateWithArguments):  # a retry, new arguments
                    record.arguments = dict(update.arguments)
                    store.fingerprints[update.invocation_id] = update.arguments_fingerprint
                    if update.keep_history is not None:  # before the entry is appended
                        _trim(store.histories[update.invocation_id], update.keep_history - 1)
            if entry.status is InvocationStatus.SCHEDULED:
                record.due = entry.timestamp if update.due is None else update.due
                store.scheduled[update.invocation_id] = record.due
            elif record.status is InvocationStatus.SCHEDULED:
                store.scheduled.pop(update.invocation_id, None)
            record.status = entry.status
            store.histories[update.invocation_id].append(entry)
            waiter = None
            if record.status in FINAL:
                waiter = store.waiters.pop(update.invocation_id, None)
                if update.invocation_id in store.waiting_of:
                    settle(store, update.invocation_id, record.status, entry.timestamp)
        if waiter is not None:
            waiter.set()
        if store.woken:
            store.wake_settled()
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
            for limits in (store.registration_keys, store.slots, store.slot_waiters):
                limits.clear()
            store.rate_times.clear()
            store.rate_reservations.clear()
            store.values.clear()
            store.scheduled.clear()
            store.waiting_of.clear()
            store.counts.clear()
            store.children.clear()
            for stream, (last, _) in list(store.logs.items()):  # see append_log: numbers go on
                store.logs[stream] = (last, {})
            waiters = list(store.waiters.values())
            store.waiters.clear()
        for waiter in waiters:  # wake anyone waiting: their invocation no longer exists
            waiter.set()
        return dropped

    def get_many(self, invocation_ids: Sequence[str]) -> list[InvocationRecord | None]:
        records = self._store.records
        with self._store.lock:  # one consistent view of every record
            found = [records.get(invocation_id) for invocation_id in invocation_ids]
            return [None if record is None else copy_record(record) for record in found]

    def history_many(self, invocation_ids: Sequence[str]) -> list[list[StatusEntry]]:
        histories = self._store.histories
        with self._store.lock:  # one consistent view of every history
            return [list(histories.get(invocation_id, ())) for invocation_id in invocation_ids]

    # -- concurrency control and rate limits ---------------------------------------------

    def register_exclusive(
        self,
        records: Sequence[InvocationRecord],
        keys: Sequence[str | None],
        entry_time: float,
        held_while: frozenset[InvocationStatus],
    ) -> list[str | None]:
        store = self._store
        prints = [fingerprint(record.arguments) for record in records]
        holders: list[str | None] = []
        with store.lock:
            for record, digest, key in zip(records, prints, keys, strict=True):
                if record.invocation_id in store.records:  # a caller-chosen id seen before
                    holders.append(record.invocation_id)
                    continue
                holder = None if key is None else store.registration_keys.get(key)
                if holder is not None and store.in_status(holder, held_while):
                    holders.append(holder)
                    continue
                store.store([record], [digest], entry_time)
                if key is not None:
                    store.registration_keys[key] = record.invocation_id
                holders.append(None)
        return holders

    def acquire_slot(
        self,
        key: str,
        holder: str,
        limit: int,
        held_while: frozenset[InvocationStatus],
        *,
        enqueue: bool = True,
    ) -> bool:
        store = self._store
        with store.lock:
            holders = store.slots.setdefault(key, set())
            if holder not in holders:
                holders -= {h for h in holders if not store.in_status(h, held_while)}
                if len(holders) >= limit:
                    if enqueue:
                        store.slot_waiters.setdefault(key, {}).setdefault(holder, None)
                    return False
                holders.add(holder)
            store.slot_waiters.get(key, {}).pop(holder, None)
            return True

    def release_slot(self, key: str, holder: str) -> str | None:
        store = self._store
        with store.lock:
            holders = store.slots.get(key, set())
            waiters = store.slot_waiters.get(key, {})
            waiters.pop(holder, None)
            if holder not in holders:
                return None
            holders.discard(holder)
            woken = next(iter(waiters), None)
            if woken is not None:
                del waiters[woken]
            if not holders:
                store.slots.pop(key, None)
            if not waiters:
                store.slot_waiters.pop(key, None)
            return woken

    def slot_holders(self, key: str) -> list[str]:
        with self._store.lock:
            return sorted(self._store.slots.get(key, ()))

    def take_rate(self, key: str, holder: str, interval: float, now: float) -> float:
        store = self._store
        with store.lock:
            reserved = store.rate_reservations.setdefault(key, {})
            # reservations are made in time order: the stale ones come first
            stale = list(itertools.takewhile(lambda item: item[1] < now - GRACE, reserved.items()))
            for holder_gone, _ in stale:
                del reserved[holder_gone]
            next_start, next_slot = store.rate_times.get(key, (None, None))
            take = rate_take(next_start, next_slot, reserved.get(holder), now, interval)
            store.rate_times[key] = (
                next_start if take.next_start is None else take.next_start,
                next_slot if take.next_slot is None else take.next_slot,
            )
            if take.consume:
                del reserved[holder]
            if take.reserve is not None:
                reserved[holder] = take.reserve
            return take.wait

    # -- values --------------------------------------------------------------------------

    def put_value(
        self, namespace: str, key: str, value: str, *, only_if_absent: bool = False
    ) -> bool:
        check_namespace(namespace)
        with self._store.lock:
            current = self._store.values.get((namespace, key)) if only_if_absent else None
            if current is not None:
                return current == value
            self._store.values[namespace, key] = value
            return True

    def get_values(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        check_namespace(namespace)
        with self._store.lock:
            return [self._store.values.get((namespace, key)) for key in keys]

    def has_values(self, namespace: str, keys: Sequence[str]) -> list[bool]:
        check_namespace(namespace)
        with self._store.lock:
            return [(namespace, key) in self._store.values for key in keys]

    def delete_value(self, namespace: str, key: str, expected: str | None = None) -> bool:
        check_namespace(namespace)
        with self._store.lock:
            current = self._store.values.get((namespace, key))
            if current is None or (expected is not None and current != expected):
                return False
            del self._store.values[namespace, key]
            return True

    def due(self, until: float, limit: int) -> list[tuple[str, float]]:
        with self._store.lock:
            ready = [(inv, due) for inv, due in self._store.scheduled.items() if due <= until]
        return heapq.nsmallest(limit, ready, key=lambda item: item[1])

    # -- the call tree -------------------------------------------------------------------

    def children(self, invocation_id: str, limit: int) -> list[str]:
        with self._store.lock:
            return self._store.children.get(invocation_id, [])[: max(limit, 0)]

    # -- reads by status -------------------------------------------------------------------

    def get_many_in_status(
        self, invocation_ids: Sequence[str], status: InvocationStatus
    ) -> list[InvocationRecord | None]:
        records = self._store.records
        with self._store.lock:  # one consistent view; only the records in status copied
            found = [records.get(invocation_id) for invocation_id in invocation_ids]
            return [
                copy_record(record) if record is not None and record.status is status else None
                for record in found
            ]

    # -- logs ----------------------------------------------------------------------------

    def append_log(self, stream: str, value: str, max_len: int) -> int:
        check_log(stream, max_len)
        with self._store.lock:
            last, entries = self._store.logs.get(stream, (0, {}))
            last += 1
            entries[last] = value
            while len(entries) > max_len:  # kept contiguous: drop the oldest
                del entries[last - len(entries) + 1]
            self._store.logs[stream] = (last, entries)
            return last

    def read_log(self, stream: str, after: int, limit: int) -> list[tuple[int, str]]:
        check_namespace(stream)
        with self._store.lock:
            last, entries = self._store.logs.get(stream, (0, {}))
            first = max(after + 1, last - len(entries) + 1)
            stop = min(last, first + limit - 1)
            return [(seq, entries[seq]) for seq in range(first, stop + 1) if seq in entries]
