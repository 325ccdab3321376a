"""The contract of :meth:`~pynenc.state_backend.base.StateBackend.children` (the calls made
from inside an invocation, for ``pynenc status``), as a pytest suite.

A backend lists the invocations registered with ``parent_id`` equal to the one asked
about, oldest registration first, at most ``limit``; through every way a record is stored
(``register`` alone or in a batch, ``register_exclusive``), once per id, unaffected by
status changes, forgotten by ``purge``. Subclass :class:`ChildrenContract` with a
``backend_url`` fixture (see :mod:`pynenc.testing.call_meta_contract`). Needs pytest.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend, sample_record

S = InvocationStatus


def child_of(
    parent: str | None, inv: str | None = None, root: str | None = None
) -> InvocationRecord:
    """A record called from inside ``parent`` (``None``: a top-level call)."""
    return replace(sample_record(inv=inv), parent_id=parent, root_id=root)


def _parent() -> str:
    return f"parent-{uuid.uuid4().hex}"


class ChildrenContract:
    """What every state backend answers for ``children``; subclass it with a
    ``backend_url`` fixture (or override ``backend``)."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_none_for_an_unknown_id_or_a_call_without_children(self, backend: StateBackend) -> None:
        top = child_of(None)
        backend.register([top], time.time())
        assert backend.children(top.invocation_id, 10) == []
        assert backend.children("never-seen", 10) == []

    def test_children_in_registration_order_across_calls_and_batches(
        self, backend: StateBackend
    ) -> None:
        parent, other = _parent(), _parent()
        first = [child_of(parent) for _ in range(3)]
        mixed = [child_of(parent), child_of(None), child_of(other), child_of(parent)]
        last = child_of(parent)
        now = time.time()
        backend.register(first, now)
        backend.register(mixed, now)  # one batch, one registration time: batch order
        backend.register([last], now + 1)
        expected = [r.invocation_id for r in [*first, mixed[0], mixed[3], last]]
        assert backend.children(parent, 100) == expected
        assert backend.children(other, 100) == [mixed[2].invocation_id]

    def test_limit(self, backend: StateBackend) -> None:
        parent = _parent()
        records = [child_of(parent) for _ in range(5)]
        backend.register(records, time.time())
        ids = [r.invocation_id for r in records]
        assert backend.children(parent, 2) == ids[:2]
        assert backend.children(parent, 5) == ids
        assert backend.children(parent, 0) == []

    def test_only_direct_children(self, backend: StateBackend) -> None:
        """A grandchild is its parent's child, not its root's."""
        root = _parent()
        child = child_of(root)
        grandchild = child_of(child.invocation_id, root=root)
        backend.register([child, grandchild], time.time())
        assert backend.children(root, 10) == [child.invocation_id]
        assert backend.children(child.invocation_id, 10) == [grandchild.invocation_id]

    def test_an_id_registered_twice_is_listed_once(self, backend: StateBackend) -> None:
        parent = _parent()
        record = child_of(parent)
        backend.register([record], time.time())
        assert backend.register([record], time.time()) == [False]
        assert backend.children(parent, 10) == [record.invocation_id]

    def test_registered_exclusively(self, backend: StateBackend) -> None:
        parent = _parent()
        held = child_of(parent)
        refused = child_of(parent)
        key = f"key-{uuid.uuid4().hex}"
        holders = backend.register_exclusive(
            [held, refused], [key, key], time.time(), frozenset({S.REGISTERED})
        )
        assert holders == [None, held.invocation_id]
        assert backend.children(parent, 10) == [held.invocation_id]

    def test_kept_through_status_changes(self, backend: StateBackend) -> None:
        parent = _parent()
        records = [child_of(parent) for _ in range(2)]
        backend.register(records, time.time())
        end = StatusUpdate(
            records[0].invocation_id,
            frozenset({S.REGISTERED}),
            StatusEntry(S.CANCELLED, time.time(), None, "test"),
        )
        assert backend.set_status(end)
        assert backend.children(parent, 10) == [r.invocation_id for r in records]

    def test_forgotten_by_purge(self, backend: StateBackend) -> None:
        parent = _parent()
        backend.register([child_of(parent)], time.time())
        backend.purge()
        assert backend.children(parent, 10) == []
