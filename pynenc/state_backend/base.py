"""The state backend interface: a few atomic primitives, nothing else.

Backends store invocation records and answer a few queries; every rule about what the
records mean (transitions, retries, ownership) lives once in :mod:`pynenc.orchestrator`.
A new backend implements the abstract methods below and passes the contract suites of
:mod:`pynenc.testing.state_backend_contract` (and, when processes share it,
:mod:`pynenc.testing.state_backend_cross_process`).
"""

from __future__ import annotations

import heapq
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pynenc.records import (
    InvocationRecord,
    InvocationStatus,
    InvocationSummary,
    StatusEntry,
    StatusUpdate,
    without_links,
)

#: Seconds after its time that an unused rate reservation is kept (its invocation may come
#: back late); older ones are dropped, and that invocation would take a new start.
RATE_RESERVATION_GRACE = 300.0


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared as data."""

    cross_process: bool  #: several processes may share it
    native_wakeup: bool  #: ``wait_final`` is woken by the backend, not by polling


class StateBackend(ABC):
    """Source of truth for invocations: records, statuses, results, history."""

    capabilities: Capabilities
    #: Seconds to wait for a backend not reached yet (``state_backend_connect_timeout``).
    connect_timeout: float = 5.0

    def __init__(self, app_id: str, url: str) -> None:
        self.app_id = app_id
        self.url = url

    def check(self) -> None:
        """Make sure the backend answers; :class:`~pynenc.exceptions.StateBackendError`
        within ``connect_timeout`` when it does not. The default reads the runners."""
        self.runners()

    @abstractmethod
    def register(self, records: Sequence[InvocationRecord], entry_time: float) -> list[bool]:
        """Store new invocations with their first history entry (their status: REGISTERED,
        or SCHEDULED, which also puts them in the scheduled index under their ``due``).

        Only ids the backend does not hold yet are inserted, atomically (a caller-chosen
        id registered twice at once is inserted once); a record whose id is stored already
        is left as it is. Returns, per record, whether it was inserted.

        Every field of a record comes back from :meth:`get` as it was given; the optional
        per-call ones (``serializer``, ``headers``, ``root_id``) may be kept together as
        :func:`~pynenc.records.encode_meta` text, stored only when it is not ``None``, and
        ``links`` apart from them (:func:`~pynenc.records.encode_links`; see
        :meth:`get_many_without_links`).

        A WAITING record with ``links.after`` is linked in the same atomic step: it waits
        for each of those invocations (registered in the same call or before), and those
        that have ended already are settled for it at once (see
        :class:`~pynenc.records.Links` and :func:`pynenc.state_backend._links.link_new`).
        """

    @abstractmethod
    def get(self, invocation_id: str) -> InvocationRecord | None:
        """The current record, or ``None`` when the backend has never seen the id."""

    @abstractmethod
    def set_status(self, update: StatusUpdate) -> bool:
        """Apply ``update`` atomically if its expectations hold; ``True`` when applied.

        On success the history gains ``update.entry`` and, for a final status, waiters in
        :meth:`wait_final` are woken, and — in the same atomic step — what waits for the
        invocation is settled by the rules of :class:`~pynenc.records.Links` (released
        SCHEDULED due at once or after its delay (:meth:`~pynenc.records.Links.due`), or
        ended, and on down; :mod:`pynenc.state_backend._links`).
        An invocation nothing waits for pays no more than a lookup inside that step.
        A :class:`~pynenc.records.StatusUpdateWithArguments` (a retry with new arguments)
        also replaces the stored arguments and their fingerprint, in the same step; with
        ``keep_history`` set (a workflow's continue-as-new), it also trims the history to
        its first entry and its newest ``keep_history`` entries (the new one among them).
        """

    def set_status_many(self, updates: Sequence[StatusUpdate]) -> list[bool]:
        """Apply several updates as :meth:`set_status` would, each on its own terms.

        Backends override it to do it in one round trip (a runner records a batch of claims
        or outcomes at once); the result says, per update, whether it was applied.
        """
        return [self.set_status(update) for update in updates]

    def get_many(self, invocation_ids: Sequence[str]) -> list[InvocationRecord | None]:
        """The records of ``invocation_ids``, in order (``None`` for an unknown id)."""
        return [self.get(invocation_id) for invocation_id in invocation_ids]

    def get_many_without_links(
        self, invocation_ids: Sequence[str]
    ) -> list[InvocationRecord | None]:
        """The records of ``invocation_ids`` as :meth:`get_many` returns them, with
        ``links`` left out (``None``).

        What a chain's step receives is read this way: a step followed by a group of
        ``n`` names every member in its ``links.then``, and reading it whole at each
        member's start made the group's cost grow with its size squared. The backends of
        pynenc store the links apart and do not read them; this default strips them.
        """
        return without_links(self.get_many(invocation_ids))

    def get_many_in_status(
        self, invocation_ids: Sequence[str], status: InvocationStatus
    ) -> list[InvocationRecord | None]:
        """The records of ``invocation_ids`` that are in ``status``, in order (``None`` for
        the others and for unknown ids), in one read.

        A record in another status is not read whole. The runner that ends a chord member
        looks whether the body was released (SCHEDULED) to publish it; the body's links
        name every member, and reading it whole at every member's end made a chord's cost
        grow with its size squared. The backends of pynenc read the status first, on the
        server; this default reads every record.
        """
        return [
            record if record is not None and record.status is status else None
            for record in self.get_many(invocation_ids)
        ]

    def wait_final_record(
        self, invocation_id: str, timeout: float | None
    ) -> InvocationRecord | None:
        """Block until the invocation is final and return its record (``None`` on timeout
        or for an unknown id). Backends that read the record while waiting override it to
        spare the read after the wait."""
        if not self.wait_final(invocation_id, timeout):
            return None
        return self.get(invocation_id)

    def wait_final_many(self, invocation_ids: Sequence[str], timeout: float | None) -> bool:
        """Block until every invocation is final; ``False`` on timeout or for an unknown id."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for invocation_id in invocation_ids:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.wait_final(invocation_id, remaining):
                return False
        return True

    @abstractmethod
    def history(self, invocation_id: str) -> list[StatusEntry]:
        """Every status the invocation went through, oldest first."""

    @abstractmethod
    def wait_final(self, invocation_id: str, timeout: float | None) -> bool:
        """Block until the invocation reaches a final status; ``False`` on timeout."""

    @abstractmethod
    def find(
        self,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
    ) -> list[str]:
        """Ids of the invocations matching every given filter."""

    def recent(
        self,
        limit: int,
        *,
        task_id: str | None = None,
        statuses: Iterable[InvocationStatus] | None = None,
        queue: str | None = None,
    ) -> list[InvocationSummary]:
        """Up to ``limit`` invocations matching every given filter, newest registration first.

        This default reads every match; backends override it with an indexed query.
        """
        ids = self.find(task_id, statuses)
        summaries = [
            InvocationSummary(
                r.invocation_id, r.task_id, r.status, r.queue, history[0].timestamp, r.due
            )
            for r in self.get_many(ids)
            if r is not None
            and (queue is None or r.queue == queue)
            and (history := self.history(r.invocation_id))
        ]
        return heapq.nlargest(limit, summaries, key=lambda s: s.registered)

    @abstractmethod
    def heartbeat(self, runner_id: str, timestamp: float) -> None:
        """Record that ``runner_id`` was alive at ``timestamp`` (seconds since the epoch)."""

    @abstractmethod
    def runners(self) -> dict[str, float]:
        """The last heartbeat of every runner that has not been forgotten."""

    @abstractmethod
    def forget_runner(self, runner_id: str) -> None:
        """Drop a runner's heartbeat and info (it stopped, or recovery has dealt with it)."""

    def set_runner_info(self, runner_id: str, info: Mapping[str, Any]) -> None:  # noqa: B027
        """Store what a runner is (kind, host, queues, slots: JSON values) for inspection;
        forgotten with its heartbeat. The default stores nothing."""

    def runner_infos(self) -> dict[str, dict[str, Any]]:
        """The info each runner stored with :meth:`set_runner_info`, by runner id."""
        return {}

    @abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl: float, now: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``, atomically.

        Succeeds when the lease is free, expired, or already held by ``holder``.
        """

    @abstractmethod
    def purge(self) -> int:
        """Forget everything stored for this app; returns how many invocations it dropped."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default has nothing to release."""

    def history_many(self, invocation_ids: Sequence[str]) -> list[list[StatusEntry]]:
        """The histories of ``invocation_ids``, in order, oldest entry first (empty for an
        unknown id): what :meth:`history` gives for each.

        Recovery reads a whole batch of invocations at once; backends override this
        default (one :meth:`history` per id) to read them in a few round trips.
        """
        return [self.history(invocation_id) for invocation_id in invocation_ids]

    # -- concurrency control and rate limits (rules: pynenc.orchestrator.concurrency) -----

    @abstractmethod
    def register_exclusive(
        self,
        records: Sequence[InvocationRecord],
        keys: Sequence[str | None],
        entry_time: float,
        held_while: frozenset[InvocationStatus],
    ) -> list[str | None]:
        """Register each record as :meth:`register` does, unless its key (``keys[i]``; a
        ``None`` key: always registered) is held, all in one atomic step.

        A key is held by the last invocation registered under it while that invocation's
        status is in ``held_while``. Per record: ``None`` when it was registered (it now
        holds its key), else the id of the holder (the record is not stored). Records of
        one call are taken in order: a later record finds the key of an earlier one held.
        A record whose id is stored already (a caller-chosen id seen before) is left as it
        is, and its key untouched: its own id is returned, as for :meth:`register`'s
        ``False``.
        """

    @abstractmethod
    def acquire_slot(
        self,
        key: str,
        holder: str,
        limit: int,
        held_while: frozenset[InvocationStatus],
        *,
        enqueue: bool = True,
    ) -> bool:
        """Take one of the ``limit`` slots of ``key`` for invocation ``holder``, atomically.

        ``True`` when ``holder`` holds a slot (it already did, or one was free). A holder
        whose invocation is gone or not in a status of ``held_while`` no longer counts and
        is dropped in the same step, so slots never outlive what holds them. Refused with
        ``enqueue``: ``holder`` joins the key's waiters (once, keeping its place), to be
        handed out by :meth:`release_slot`.
        """

    @abstractmethod
    def release_slot(self, key: str, holder: str) -> str | None:
        """Give back ``holder``'s slot of ``key`` (and its place among the waiters).

        When a slot was given back, the longest waiter of ``key`` leaves the waiters and
        its id is returned, for the caller to wake; else ``None``.
        """

    @abstractmethod
    def slot_holders(self, key: str) -> list[str]:
        """The invocations holding a slot of ``key`` (as stored: stale ones included)."""

    @abstractmethod
    def take_rate(self, key: str, holder: str, interval: float, now: float) -> float:
        """Ask, for invocation ``holder`` at ``now``, to start under rate ``key``: starts
        at least ``interval`` seconds apart, across every caller (atomic; the arithmetic
        is ``pynenc.state_backend._limits.rate_take``).

        ``0.0``: start now (the start is counted). Else the seconds to wait before asking
        again for ``holder``: a start is reserved for it then, one ``interval`` after the
        other reservations, so waiting holders come back spread out; the reservation is
        used when it asks again in time (a start never follows another by less than
        ``interval``: a holder back right after a late one waits the rest). Reservations
        unused ``RATE_RESERVATION_GRACE`` seconds after their time are forgotten.
        """

    # -- values: small atomic key-value primitives in namespaces -------------------------
    # Features keep their own data here (progress, the result cache, the client data
    # store, cancellation flags, concurrency keys), each under a namespace of its own;
    # :meth:`purge` drops them with everything else. Values are text, stored as they are
    # (UTF-8, lone surrogates kept; never base64): a 20 MB value costs 20 MB.

    @abstractmethod
    def put_value(
        self, namespace: str, key: str, value: str, *, only_if_absent: bool = False
    ) -> bool:
        """Store ``value`` under ``key`` of ``namespace``, atomically; ``True`` when written.

        With ``only_if_absent`` a value already stored is left as it is: ``False`` when it
        differs from ``value`` (nothing travels back: read it with :meth:`get_value`), and
        ``True`` when it is the very same (the same content put twice, or a write retried
        after its reply was lost: a writer putting a value of its own, such as its id,
        learns whether the key is its own).
        """

    @abstractmethod
    def get_values(self, namespace: str, keys: Sequence[str]) -> list[str | None]:
        """The values of ``keys``, in order (``None`` where there is none), in one round trip."""

    def get_value(self, namespace: str, key: str) -> str | None:
        """The value of ``key``, or ``None``."""
        return self.get_values(namespace, [key])[0]

    @abstractmethod
    def has_values(self, namespace: str, keys: Sequence[str]) -> list[bool]:
        """Whether each key has a value, without reading the values (one round trip)."""

    @abstractmethod
    def delete_value(self, namespace: str, key: str, expected: str | None = None) -> bool:
        """Drop ``key``; with ``expected``, only while its value equals it (compare and
        delete, atomically). ``True`` when a value was dropped."""

    @abstractmethod
    def due(self, until: float, limit: int) -> list[tuple[str, float]]:
        """The scheduled index: up to ``limit`` SCHEDULED invocations due at or before
        ``until`` (seconds since the epoch; ``math.inf`` for any), as ``(id, due)``,
        earliest first. :meth:`set_status` keeps the index in step with the status."""

    # -- logs: ordered, bounded, append-only streams --------------------------------------
    # Triggers keep their occurrences here (emitted events, outcomes of watched tasks):
    # writers append, the services lease holder reads on from its cursor.

    @abstractmethod
    def append_log(self, stream: str, value: str, max_len: int) -> int:
        """Append ``value`` to ``stream``, atomically; its sequence number (1 for the first
        entry of a stream, then each one more than the last, never reused: :meth:`purge`
        drops the entries but not the count, so a reader's cursor stays good). Only the
        newest ``max_len`` entries are kept: older ones are dropped in the same step.
        ``stream`` follows the rules of a value namespace.

        :raises ValueError: a bad ``stream`` name, or ``max_len`` not an integer >= 1
            (see :func:`check_log`).
        """

    @abstractmethod
    def read_log(self, stream: str, after: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` entries of ``stream`` with a sequence number above ``after``, as
        ``(sequence, value)`` in order, in one round trip. Entries dropped by ``max_len``
        are simply absent (a reader sees a gap in the numbers); empty for an unknown
        stream."""

    # -- the call tree (inspection) ------------------------------------------------------

    def children(self, invocation_id: str, limit: int) -> list[str]:
        """Up to ``limit`` invocations called from inside ``invocation_id`` (those whose
        ``parent_id`` it is), oldest registration first; empty for none or an unknown id.

        For inspection (``pynenc status``). The backends of pynenc index a child as they
        register it, at no cost to a call made outside a task (it has no parent); this
        default reads every record.
        """
        if limit <= 0:
            return []
        ids = self.find()
        pairs = zip(self.get_many(ids), self.history_many(ids), strict=True)
        found = [
            (history[0].timestamp, position, record.invocation_id)
            for position, (record, history) in enumerate(pairs)
            if record is not None and record.parent_id == invocation_id and history
        ]
        return [inv for _, _, inv in heapq.nsmallest(limit, found)]


def check_namespace(namespace: str) -> None:
    """Refuse a namespace the value primitives cannot keep apart from others.

    :raises ValueError: empty, or holding ``:`` (the separator of the stored keys).
    """
    if not namespace or ":" in namespace:
        raise ValueError(
            f"Invalid value namespace {namespace!r}: use a non-empty name without ':' "
            "(e.g. 'progress')"
        )


def check_log(stream: str, max_len: int) -> None:
    """Refuse what ``append_log`` cannot keep: a bad stream name (as :func:`check_namespace`)
    or a ``max_len`` that is not an integer >= 1 (it would drop the entry being appended).

    :raises ValueError: naming the bad argument.
    """
    check_namespace(stream)
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(
            f"append_log({stream!r}, ..., max_len={max_len!r}): max_len is how many entries "
            "the log keeps, an integer >= 1"
        )
