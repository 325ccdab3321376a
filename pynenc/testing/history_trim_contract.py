"""The state-backend contract of an update that trims the history, as a pytest suite.

A workflow that continues as new (``wf.continue_as_new``) keeps its invocation id: each
run adds RUNNING and REGISTERED to the same history. So the update that records the
continue (a :class:`~pynenc.records.StatusUpdateWithArguments` with ``keep_history``)
also trims the history in its atomic step, to its first entry (the registration, which
listings read the registration time from) and its newest ``keep_history`` entries, in
order. A refused update trims nothing, and a trim touches no other invocation's history.

Subclass :class:`HistoryTrimContract` with a ``backend_url`` fixture (the URL of a fresh,
empty store; its scheme registered with :func:`pynenc.state_backend.register_backend`), or
override ``backend``. Needs pytest (``pip install pynenc[testing]``).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from pynenc.records import (
    InvocationRecord,
    InvocationStatus,
    StatusEntry,
    StatusUpdate,
    StatusUpdateWithArguments,
    with_arguments,
)
from pynenc.state_backend import StateBackend, create_state_backend
from pynenc.testing.state_backend_contract import open_backend

S = InvocationStatus
#: registration time of the invocations below (``recent`` must still report it)
REGISTERED_AT = 100.0
_clock = itertools.count(1000)


def _entry(status: InvocationStatus, runner: str | None, reason: str) -> StatusEntry:
    """A history entry at a time of its own (exact in every backend)."""
    return StatusEntry(status, float(next(_clock)), runner, reason)


def _claim(inv: str, reason: str, owner: str = "r") -> StatusUpdate:
    return StatusUpdate(inv, frozenset({S.REGISTERED}), _entry(S.RUNNING, owner, reason), owner)


def _continue(
    inv: str, reason: str, keep: int | None = None, owner: str = "r"
) -> StatusUpdateWithArguments:
    """RUNNING -> REGISTERED with new arguments, as ``owner`` (a continue-as-new)."""
    update = StatusUpdate(
        inv, frozenset({S.RUNNING}), _entry(S.REGISTERED, owner, reason), expected_owner=owner
    )
    return with_arguments(update, {"x": f'"{reason}"'}, keep_history=keep)


def _register(backend: StateBackend, inv: str | None = None) -> str:
    record = InvocationRecord(inv or uuid.uuid4().hex, "mod.wf", {"x": "1"}, queue="q")
    assert backend.register([record], REGISTERED_AT) == [True]
    return record.invocation_id


def _grow(backend: StateBackend, inv: str, runs: int, tag: str = "") -> None:
    """``runs`` claims and continues of ``inv`` kept whole (it ends REGISTERED)."""
    for run in range(runs):
        assert backend.set_status(_claim(inv, f"{tag}claim {run}"))
        assert backend.set_status(_continue(inv, f"{tag}continue {run}"))


class HistoryTrimContract:
    """What every state backend must do with an update that trims the history."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_keeps_the_first_and_the_newest_entries_in_order(self, backend: StateBackend) -> None:
        inv = _register(backend)
        first = backend.history(inv)[0]
        written: list[StatusEntry] = []
        for run in range(12):
            claim, cont = _claim(inv, f"claim {run}"), _continue(inv, f"continue {run}", keep=5)
            assert backend.set_status(claim)
            assert backend.set_status(cont)
            written += [claim.entry, cont.entry]
            assert backend.history(inv) == [first, *written[-5:]]
        assert backend.history_many([inv]) == [[first, *written[-5:]]]
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.REGISTERED
        assert stored.arguments == {"x": '"continue 11"'}

    def test_a_short_history_is_left_whole(self, backend: StateBackend) -> None:
        inv = _register(backend)
        _grow(backend, inv, 1)
        before = backend.history(inv)
        claim, cont = _claim(inv, "claim"), _continue(inv, "continue", keep=10)
        assert backend.set_status(claim)
        assert backend.set_status(cont)
        assert backend.history(inv) == [*before, claim.entry, cont.entry]
        assert len(before) == 3

    def test_keeping_one_leaves_the_registration_and_the_new_entry(
        self, backend: StateBackend
    ) -> None:
        inv = _register(backend)
        _grow(backend, inv, 4)
        first = backend.history(inv)[0]
        assert backend.set_status(_claim(inv, "claim"))
        cont = _continue(inv, "continue", keep=1)
        assert backend.set_status(cont)
        assert backend.history(inv) == [first, cont.entry]

    def test_recent_still_reports_the_registration_time(self, backend: StateBackend) -> None:
        inv = _register(backend)
        for run in range(6):
            assert backend.set_status(_claim(inv, f"claim {run}"))
            assert backend.set_status(_continue(inv, f"continue {run}", keep=2))
        [summary] = backend.recent(10, task_id="mod.wf")
        assert (summary.invocation_id, summary.registered) == (inv, REGISTERED_AT)
        assert summary.status is S.REGISTERED

    def test_a_trim_leaves_other_invocations_alone(self, backend: StateBackend) -> None:
        # ids that are prefixes of one another: a key or a LIKE would mix them up
        inv, longer, other = _register(backend, "wf"), _register(backend, "wf1"), _register(backend)
        for each in (inv, longer, other):
            _grow(backend, each, 4, tag=each)
        kept = backend.history_many([longer, other])
        assert backend.set_status(_claim(inv, "claim"))
        # in one batch with a plain claim of another: only the trimming update trims
        updates = [_continue(inv, "continue", keep=2), _claim(other, "other claim")]
        assert backend.set_status_many(updates) == [True, True]
        assert backend.history(longer) == kept[0]
        assert backend.history(other) == [*kept[1], updates[1].entry]
        assert len(backend.history(inv)) == 3

    def test_a_trim_leaves_another_app_with_the_same_id_alone(
        self, backend: StateBackend, backend_url: str
    ) -> None:
        other_app = create_state_backend(backend_url, f"contract-{uuid.uuid4().hex[:8]}")
        try:
            inv = _register(backend)
            assert _register(other_app, inv) == inv
            _grow(backend, inv, 4)
            _grow(other_app, inv, 4)
            kept = other_app.history(inv)
            assert backend.set_status(_claim(inv, "claim"))
            assert backend.set_status(_continue(inv, "continue", keep=2))
            assert len(backend.history(inv)) == 3
            assert other_app.history(inv) == kept
        finally:
            other_app.purge()
            other_app.close()

    def test_a_refused_update_trims_nothing(self, backend: StateBackend) -> None:
        inv = _register(backend)
        _grow(backend, inv, 4)
        assert backend.set_status(_claim(inv, "claim"))
        before = backend.history(inv)
        wrong_owner = _continue(inv, "continue", keep=2, owner="other")
        assert backend.set_status_many([wrong_owner]) == [False]
        wrong_status = with_arguments(
            StatusUpdate(inv, frozenset({S.PAUSED}), _entry(S.REGISTERED, "r", "x")),
            {"x": "2"},
            keep_history=2,
        )
        assert not backend.set_status(wrong_status)
        unknown = _continue(uuid.uuid4().hex, "continue", keep=2)
        assert not backend.set_status(unknown)
        assert backend.history(inv) == before
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.RUNNING
        assert stored.arguments == {"x": '"continue 3"'}

    def test_an_expired_record_gets_its_expiry_entry_untrimmed(self, backend: StateBackend) -> None:
        """A trimming update with an expiry check, on an expired record: the expiry entry
        is written instead and the update reads as refused, so nothing is trimmed."""
        record = InvocationRecord(uuid.uuid4().hex, "mod.wf", {"x": "1"}, expires=50.0)
        backend.register([record], REGISTERED_AT)
        inv = record.invocation_id
        _grow(backend, inv, 3)
        before = backend.history(inv)
        expired = _entry(S.EXPIRED, None, "expired")
        claim = with_arguments(
            StatusUpdate(
                inv,
                frozenset({S.REGISTERED}),
                _entry(S.RUNNING, "r", "claim"),
                owner="r",
                on_expiry=expired,
            ),
            {"x": "2"},
            keep_history=1,
        )
        assert not backend.set_status(claim)
        assert backend.history(inv) == [*before, expired]

    def test_keep_history_must_be_at_least_one(self) -> None:
        for bad in (0, -3, True, 2.5):
            with pytest.raises(ValueError, match="keep_history"):
                _continue("inv", "continue", keep=bad)  # type: ignore[arg-type]


__all__ = ["HistoryTrimContract"]
