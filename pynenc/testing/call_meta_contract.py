"""The contract of a record's optional per-call fields — ``serializer`` (a task's own),
``headers`` (the caller's) and ``root_id`` (the root of its call tree) — as a pytest suite.

Every state backend keeps them exactly as registered, through every way a record is
stored (``register``, ``register_exclusive``) and read (``get``, ``get_many``,
``wait_final_record``), across status changes, and stores nothing for a plain call.
Subclass :class:`CallMetaContract` with a ``backend_url`` fixture (the URL of a fresh,
empty store; its scheme registered with :func:`pynenc.state_backend.register_backend`)::

    import pytest
    from pynenc.testing.call_meta_contract import CallMetaContract

    class TestMyStoreCallMeta(CallMetaContract):
        @pytest.fixture
        def backend_url(self, tmp_path):
            return f"mystore:///{tmp_path}/state"

Needs pytest (``pip install pynenc[testing]``); ``import pynenc`` never imports this module.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend, sample_record

S = InvocationStatus

#: headers with what JSON can hold: nesting, non-ASCII text, numbers, null, booleans
SAMPLE_HEADERS: dict[str, Any] = {
    "trace": "abc-123",
    "nested": {"list": [1, 2.5, None, True], "text": "héllo ✓"},
    "empty": {},
}


def meta_record(inv: str | None = None, **fields: Any) -> InvocationRecord:
    """A record with every optional per-call field set (a child of ``parent-1`` in the tree
    of ``root-1``, serializer ``pickle``, :data:`SAMPLE_HEADERS`); ``fields`` override."""
    values: dict[str, Any] = {
        "parent_id": "parent-1",
        "serializer": "pickle",
        "headers": SAMPLE_HEADERS,
        "root_id": "root-1",
    }
    values.update(fields)
    return replace(sample_record(inv=inv), **values)


def _meta(record: InvocationRecord | None) -> tuple[Any, ...]:
    assert record is not None
    return (record.serializer, record.headers, record.root_id, record.parent_id)


def _move(backend: StateBackend, inv: str, frm: S, to: S, **fields: Any) -> bool:
    owner = "runner-1" if to is S.RUNNING else None
    expected_owner = "runner-1" if frm is S.RUNNING else None
    update = StatusUpdate(
        inv,
        frozenset({frm}),
        StatusEntry(to, time.time(), "runner-1", None),
        owner=owner,
        expected_owner=expected_owner,
        **fields,
    )
    return backend.set_status(update)


class CallMetaContract:
    """What every state backend keeps of a record's ``serializer``, ``headers`` and
    ``root_id``; subclass it with a ``backend_url`` fixture (or override ``backend``)."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_a_plain_record_has_none(self, backend: StateBackend) -> None:
        record = sample_record()
        backend.register([record], time.time())
        assert _meta(backend.get(record.invocation_id)) == (None, None, None, None)

    def test_every_field_comes_back_as_registered(self, backend: StateBackend) -> None:
        record = meta_record()
        backend.register([record], time.time())
        assert _meta(backend.get(record.invocation_id)) == _meta(record)

    def test_each_field_alone(self, backend: StateBackend) -> None:
        none: dict[str, Any] = {
            "serializer": None,
            "headers": None,
            "root_id": None,
            "parent_id": None,
        }
        records = [
            meta_record(**{**none, "serializer": "cloudpickle"}),
            meta_record(**{**none, "headers": {"k": "v"}}),
            meta_record(**{**none, "root_id": "r", "parent_id": "p"}),
        ]
        backend.register(records, time.time())
        stored = backend.get_many([r.invocation_id for r in records])
        assert [_meta(r) for r in stored] == [_meta(r) for r in records]

    def test_kept_through_status_changes_to_the_final_record(self, backend: StateBackend) -> None:
        record = meta_record()
        inv = record.invocation_id
        backend.register([record], time.time())
        assert _move(backend, inv, S.REGISTERED, S.RUNNING)
        assert _move(backend, inv, S.RUNNING, S.RETRY, num_retries=1)
        assert _move(backend, inv, S.RETRY, S.RUNNING)
        assert _move(backend, inv, S.RUNNING, S.SUCCESS, result="gASVBQAAAAAAAACMAXiULg==")
        final = backend.wait_final_record(inv, 10)
        assert final is not None and final.status is S.SUCCESS
        assert _meta(final) == _meta(record)
        assert final.result == "gASVBQAAAAAAAACMAXiULg=="

    def test_many_records_in_one_registration_keep_their_own(self, backend: StateBackend) -> None:
        records = [
            meta_record(headers={"i": i}, root_id=f"root-{i % 3}") if i % 2 else sample_record()
            for i in range(20)
        ]
        backend.register(records, time.time())
        stored = backend.get_many([r.invocation_id for r in records])
        assert [_meta(r) for r in stored] == [_meta(r) for r in records]

    def test_registered_exclusively(self, backend: StateBackend) -> None:
        """Registration control stores records its own way: the fields go along."""
        record = meta_record()
        holders = backend.register_exclusive(
            [record], [f"key-{uuid.uuid4().hex}"], time.time(), frozenset({S.REGISTERED})
        )
        assert holders == [None]
        assert _meta(backend.get(record.invocation_id)) == _meta(record)

    def test_a_scheduled_record_keeps_them(self, backend: StateBackend) -> None:
        now = time.time()
        record = replace(meta_record(), status=S.SCHEDULED, due=now + 60)
        backend.register([record], now)
        stored = backend.get(record.invocation_id)
        assert stored is not None and stored.status is S.SCHEDULED
        assert _meta(stored) == _meta(record)
