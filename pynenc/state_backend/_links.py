"""Settling what waits for an invocation that ended: the one algorithm of
:class:`pynenc.records.Links`, written once for the backends that run Python inside their
atomic step (memory: under the store lock; SQLite: inside the write transaction). The
Redis backend runs the same rules in Lua (``redis_links.py``); the contract suite
(:mod:`pynenc.testing.links_contract`) holds all three to them.

A backend supplies the store operations (:class:`LinkOps`); :func:`settle` applies the
rules for one ended invocation and everything that follows from it, :func:`link_new` for a
WAITING invocation being registered.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from pynenc.exceptions import DependencyError, InvocationCancelledError
from pynenc.records import (
    CHORD_RECEIVES,
    FINAL,
    ON_FAILURE,
    InvocationStatus,
    Links,
    StatusEntry,
)
from pynenc.serializer.exceptions import exception_to_payload

S = InvocationStatus


class LinkOps(Protocol):
    """What :func:`settle` needs of a store, inside its atomic step."""

    def take_waiting(self, parent_id: str) -> list[str]:
        """The invocations registered as waiting for ``parent_id``; forgets the list."""

    def add_waiting(self, parent_id: str, child_id: str) -> None:
        """Remember that ``child_id`` waits for ``parent_id``."""

    def state(self, invocation_id: str) -> tuple[InvocationStatus, Links | None] | None:
        """The status and links of an invocation (``None``: unknown)."""

    def error(self, invocation_id: str) -> dict[str, Any] | None:
        """The stored error of an ended invocation."""

    def set_count(self, invocation_id: str, count: int) -> None:
        """How many invocations ``invocation_id`` still waits for."""

    def count_down(self, invocation_id: str) -> int:
        """One fewer to wait for; how many are left."""

    def move(
        self,
        invocation_id: str,
        entry: StatusEntry,
        error: dict[str, Any] | None,
        due: float | None = None,
    ) -> None:
        """Move a WAITING invocation to ``entry.status``, with its history entry: to
        SCHEDULED due at ``due`` (``None``: at ``entry.timestamp``; into the scheduled
        index), or to a final status with ``error`` (waiters woken). The count is
        forgotten."""


def link_new(ops: LinkOps, invocation_id: str, links: Links, now: float) -> None:
    """Register the waits of a new WAITING invocation (stored already, in the same atomic
    step): it waits for each of ``links.after`` not ended yet; those ended already are
    settled for it at once (callbacks added to an invocation that has finished)."""
    ops.set_count(invocation_id, len(links.after))
    ended: list[tuple[str, InvocationStatus]] = []
    for parent_id in links.after:
        state = ops.state(parent_id)
        if state is not None and state[0] in FINAL:
            ended.append((parent_id, state[0]))
        else:
            ops.add_waiting(parent_id, invocation_id)
    for parent_id, status in ended:
        _settle(ops, parent_id, status, [invocation_id], now)


def settle(ops: LinkOps, invocation_id: str, status: InvocationStatus, now: float) -> None:
    """Apply the rules of :class:`~pynenc.records.Links` to what waits for
    ``invocation_id``, which has just ended with ``status`` (its error stored already), and
    on down the invocations that end in turn."""
    children = ops.take_waiting(invocation_id)
    if children:  # nothing more for an invocation nothing waits for
        _settle(ops, invocation_id, status, children, now)


def _settle(
    ops: LinkOps, parent_id: str, status: InvocationStatus, children: list[str], now: float
) -> None:
    queue: deque[tuple[str, InvocationStatus, list[str]]] = deque([(parent_id, status, children)])
    while queue:
        parent, ended, waiting = queue.popleft()
        for child in waiting:
            moved = _apply(ops, parent, ended, child, now)
            if moved is not None:  # it ended too: what waits for it follows
                queue.append((child, moved, ops.take_waiting(child)))


def _apply(
    ops: LinkOps, parent: str, ended: InvocationStatus, child: str, now: float
) -> InvocationStatus | None:
    """Settle ``child`` for ``parent`` having ended ``ended``; the final status ``child``
    ended with, if it did."""
    state = ops.state(child)
    if state is None or state[0] is not S.WAITING or state[1] is None:
        return None  # ended already (cancelled, a chord body failed by another member)
    links = state[1]
    if links.on == ON_FAILURE:
        if ended is S.FAILED and _fires_errbacks(ops, parent):
            entry = StatusEntry(S.SCHEDULED, now, None, f"{parent} failed")
            ops.move(child, entry, None, links.due(now))
            return None
        reason = f"not needed: {parent} ended {ended.name}"
        ops.move(child, StatusEntry(S.CANCELLED, now, None, reason), _not_needed(reason))
        return S.CANCELLED
    if ended is S.SUCCESS:
        if ops.count_down(child) <= 0:
            entry = StatusEntry(S.SCHEDULED, now, None, f"released by {parent}")
            ops.move(child, entry, None, links.due(now))
        return None
    reason = f"{parent} ended {ended.name}"
    ops.move(child, StatusEntry(S.FAILED, now, None, reason), upstream_error(ops, parent, ended))
    return S.FAILED


def _fires_errbacks(ops: LinkOps, parent: str) -> bool:
    """Whether a failure of ``parent`` calls its error callbacks: when it failed by itself,
    or as a chord body whose member failed — not as a later step of a failed chain (the
    step that failed called its own), nor as a chord body failed by a step before the
    chord (``links.before``: the upstream path leads there)."""
    error = ops.error(parent)
    if error is None or "upstream" not in error:
        return True
    state = ops.state(parent)
    links = None if state is None else state[1]
    if links is None or links.receive not in CHORD_RECEIVES:
        return False
    before = set(links.before)
    upstream: Any = error.get("upstream")
    while upstream is not None and before:  # bounded by the steps before the failure
        if upstream in before:
            return False
        found = ops.error(str(upstream))
        upstream = None if found is None else found.get("upstream")
    return True


def upstream_error(ops: LinkOps, parent: str, ended: InvocationStatus) -> dict[str, Any]:
    """The error of a follower of ``parent``, which ended ``ended`` without a result: the
    parent's own error, marked with where it came from; for one cancelled or expired
    without an error, a :class:`~pynenc.exceptions.DependencyError`."""
    error = ops.error(parent) if ended is S.FAILED else None
    if error is None:
        message = f"Invocation {parent}, which this one waited for, ended {ended.name}"
        error = _payload(DependencyError(message, parent))
    return {**error, "upstream": parent}


def _not_needed(reason: str) -> dict[str, Any]:
    return _payload(InvocationCancelledError(f"Error callback not run: {reason}"))


def _payload(exc: BaseException) -> dict[str, Any]:
    # no traceback: nothing raised it (the Lua scripts write the same fields)
    payload = exception_to_payload(exc)
    payload["traceback"] = ""
    return payload
