"""A handle from an id alone costs one state-backend read, and nothing else until used."""

from __future__ import annotations

import uuid
from typing import Any

from pynenc import InvocationStatus, Pynenc
from pynenc.records import InvocationRecord, StatusEntry, StatusUpdate
from pynenc.state_backend import StateBackend

S = InvocationStatus


class _Counting:
    """A real backend whose method calls are recorded by name."""

    def __init__(self, inner: StateBackend) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


def _app_with_counting_backend() -> tuple[Pynenc, _Counting]:
    app = Pynenc(app_id=f"handle-{uuid.uuid4().hex[:8]}")
    counting = _Counting(app.state_backend)
    app.__dict__["state_backend"] = counting  # the cached component
    return app, counting


def _stored(counting: _Counting, final: bool) -> str:
    record = InvocationRecord(uuid.uuid4().hex, "tests.apps.by_id.add", {"x": "1", "y": "2"})
    backend: StateBackend = counting.inner
    backend.register([record], 0.0)
    if final:
        inv = record.invocation_id
        for before, after, result in ((S.REGISTERED, S.RUNNING, None), (S.RUNNING, S.SUCCESS, "3")):
            update = StatusUpdate(
                inv,
                frozenset({before}),
                StatusEntry(after, 1.0, "r"),
                owner="r" if after is S.RUNNING else None,
                expected_owner="r" if before is S.RUNNING else None,
                result=result,
            )
            assert backend.set_status(update)
    return record.invocation_id


def test_building_a_handle_reads_one_record() -> None:
    app, counting = _app_with_counting_backend()
    invocation_id = _stored(counting, final=True)
    handle = app.invocation(invocation_id)
    assert counting.calls == ["get"]
    # a final record is kept: status, result and arguments cost nothing more
    assert handle.status is S.SUCCESS and handle.result == 3 and handle.num_retries == 0
    assert handle.arguments.kwargs == {"x": 1, "y": 2}
    assert counting.calls == ["get"]
    assert app.tasks == {}  # the task was not resolved


def test_status_of_a_live_invocation_is_read_each_time() -> None:
    app, counting = _app_with_counting_backend()
    invocation_id = _stored(counting, final=False)
    handle = app.invocation(invocation_id)
    assert handle.status is S.REGISTERED
    assert handle.status is S.REGISTERED
    assert counting.calls == ["get", "get", "get"]
