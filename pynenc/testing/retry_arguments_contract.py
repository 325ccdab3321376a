"""The state-backend contract of a retry with new arguments, as a pytest suite.

A retry may run with other arguments than the attempt before it (the Celery layer's
``self.retry(args=...)``). The orchestrator republishes the invocation with them, and
when the retry waits SCHEDULED, the scheduler (and recovery) rebuild its message from the
stored record later: so the new arguments, and the fingerprint claims are checked
against, are stored in the same compare-and-set that records the retry
(:class:`~pynenc.records.StatusUpdateWithArguments`). An update that is refused stores
nothing, and an update without arguments leaves them as they are.

Subclass :class:`RetryArgumentsContract` with a ``backend_url`` fixture (the URL of a
fresh, empty store; its scheme registered with :func:`pynenc.state_backend.register_backend`),
or override ``backend``. Needs pytest (``pip install pynenc[testing]``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from pynenc.records import InvocationStatus, StatusUpdate, fingerprint, with_arguments
from pynenc.state_backend import StateBackend
from pynenc.testing.state_backend_contract import open_backend, sample_record, sample_update

S = InvocationStatus
#: what the retries below run with instead of ``{"x": "1"}`` (non-ASCII on purpose)
NEW = {"x": '"dé jà"', "y": "[1, 2]"}


def _claim(inv: str, arguments: dict[str, str], owner: str = "r") -> StatusUpdate:
    """A runner's claim of ``inv`` by a message carrying ``arguments``."""
    return sample_update(
        inv,
        {S.REGISTERED, S.RETRY},
        S.RUNNING,
        owner=owner,
        expected_task="mod.task",
        expected_fingerprint=fingerprint(arguments),
    )


def _running(backend: StateBackend) -> str:
    """A registered invocation, claimed by runner ``r``; its id."""
    record = sample_record()
    backend.register([record], time.time())
    assert backend.set_status(_claim(record.invocation_id, record.arguments))
    return record.invocation_id


class RetryArgumentsContract:
    """What every state backend must do with a retry that stores new arguments."""

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[StateBackend]:
        """The backend under test; needs a ``backend_url`` fixture."""
        yield from open_backend(backend_url)

    def test_a_retry_stores_new_arguments_with_its_status(self, backend: StateBackend) -> None:
        inv = _running(backend)
        retry = sample_update(inv, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1)
        assert backend.set_status(with_arguments(retry, NEW))
        stored = backend.get(inv)
        assert stored is not None
        assert (stored.status, stored.num_retries, stored.arguments) == (S.RETRY, 1, NEW)
        assert [r.arguments if r else None for r in backend.get_many([inv])] == [NEW]

    def test_claims_are_checked_against_the_new_arguments(self, backend: StateBackend) -> None:
        """The message from before the retry (old arguments) is refused; the retry's own
        message is claimed."""
        inv = _running(backend)
        retry = sample_update(inv, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1)
        assert backend.set_status(with_arguments(retry, NEW))
        assert backend.set_status_many([_claim(inv, {"x": "1"}, "r2")]) == [False]
        assert backend.set_status_many([_claim(inv, NEW, "r2")]) == [True]
        stored = backend.get(inv)
        assert stored is not None and stored.owner == "r2" and stored.arguments == NEW

    def test_a_delayed_retry_keeps_them_for_the_scheduler(self, backend: StateBackend) -> None:
        """RUNNING → SCHEDULED with new arguments: the scheduler's read of the due
        invocation (what it republishes) has them."""
        inv = _running(backend)
        retry = StatusUpdate(
            inv,
            frozenset({S.RUNNING}),
            sample_update(inv, set(), S.SCHEDULED, owner="r").entry,
            expected_owner="r",
            num_retries=1,
            due=90.0,
        )
        assert backend.set_status(with_arguments(retry, NEW))
        assert backend.due(math.inf, 10) == [(inv, 90.0)]
        [due] = backend.get_many_in_status([inv], S.SCHEDULED)
        assert due is not None and due.arguments == NEW and due.num_retries == 1
        released = StatusUpdate(
            inv, frozenset({S.SCHEDULED}), sample_update(inv, set(), S.RETRY).entry
        )
        assert backend.set_status(released)
        assert backend.set_status(_claim(inv, NEW))

    def test_a_refused_update_stores_no_arguments(self, backend: StateBackend) -> None:
        inv = _running(backend)
        wrong_owner = sample_update(inv, {S.RUNNING}, S.RETRY, expected_owner="other")
        assert not backend.set_status(with_arguments(wrong_owner, NEW))
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.RUNNING
        assert stored.arguments == {"x": "1"}
        assert backend.set_status_many([_claim(inv, NEW, "r2")]) == [False]

    def test_updates_without_arguments_leave_them(self, backend: StateBackend) -> None:
        inv = _running(backend)
        retry = sample_update(inv, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1)
        assert backend.set_status(with_arguments(retry, NEW))
        assert backend.set_status(_claim(inv, NEW, "r2"))
        done = sample_update(inv, {S.RUNNING}, S.SUCCESS, expected_owner="r2", result="1")
        assert backend.set_status(done)
        stored = backend.get(inv)
        assert stored is not None and stored.status is S.SUCCESS and stored.arguments == NEW

    def test_in_a_batch_only_the_update_with_arguments_stores(self, backend: StateBackend) -> None:
        first, second = _running(backend), _running(backend)
        updates = [
            with_arguments(
                sample_update(first, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1),
                NEW,
            ),
            sample_update(second, {S.RUNNING}, S.RETRY, expected_owner="r", num_retries=1),
        ]
        assert backend.set_status_many(updates) == [True, True]
        stored = backend.get_many([first, second])
        assert [r.arguments if r else None for r in stored] == [NEW, {"x": "1"}]


__all__ = ["RetryArgumentsContract"]
