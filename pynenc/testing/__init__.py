"""Helpers for test suites: running an app's tasks in tests, and the backend contracts.

For the tests of an application (no pytest needed to import them)::

    from pynenc.testing import in_memory, sync_mode

    def test_report_inline():
        with sync_mode(app):  # tasks run inline in the caller: no broker, no runner
            assert generate_report("Q1").result == "..."

    def test_report_through_a_runner():
        with in_memory(app), app.running_in_background():  # the real path, in-process
            assert generate_report("Q1").result == "..."

For the authors of a state backend or a broker transport, pytest suites to subclass (they
import pytest, so they are modules of their own, never imported by ``import pynenc``):

- :mod:`pynenc.testing.state_backend_contract`: ``StateBackendContract``
- :mod:`pynenc.testing.state_backend_cross_process`: ``CrossProcessStateBackendContract``
- :mod:`pynenc.testing.values_contract`: ``ValuesContract``, ``CrossProcessValuesContract``
  (the value primitives: ``put_value``, ``get_values``, ``has_values``, ``delete_value``)
- :mod:`pynenc.testing.broker_contract`: ``BrokerContract``, ``BrokerSigningContract``
- :mod:`pynenc.testing.recovery_reads_contract`: ``RecoveryReadsContract`` (batched reads,
  and recovery built on them)
- :mod:`pynenc.testing.scheduling_contract`: ``SchedulingContract`` (priority, insert-only
  register, the scheduled index, expiry)
- :mod:`pynenc.testing.limits_contract`: ``LimitsContract``, ``CrossProcessLimitsContract``
  (the concurrency-control and rate-limit primitives)
- :mod:`pynenc.testing.logs_contract`: ``LogsContract``, ``CrossProcessLogsContract``
  (the log primitives: ``append_log``, ``read_log``)
- :mod:`pynenc.testing.retry_arguments_contract`: ``RetryArgumentsContract`` (a retry
  that stores new arguments with its status)
- :mod:`pynenc.testing.history_trim_contract`: ``HistoryTrimContract`` (an update that
  trims the history in its step: a workflow's continue-as-new)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynenc.app import Pynenc


@contextmanager
def sync_mode(app: Pynenc) -> Iterator[Pynenc]:
    """Run ``app``'s tasks inline in the caller for the ``with`` block (dev sync mode:
    ``conf.dev_mode_force_sync_tasks``); the previous setting comes back afterwards."""
    before = app.conf.dev_mode_force_sync_tasks
    app.conf.dev_mode_force_sync_tasks = True
    try:
        yield app
    finally:
        app.conf.dev_mode_force_sync_tasks = before


@contextmanager
def in_memory(app: Pynenc) -> Iterator[Pynenc]:
    """Point ``app`` at the in-process ``memory://`` broker and state backend, with a
    :class:`~pynenc.ThreadRunner`, for the ``with`` block; start with nothing queued or
    stored. Tasks then take the distributed path (serialized, registered, published,
    claimed by ``app.running_in_background()``) without any server.

    Afterwards what the block stored is purged and the previous URLs and runner come back
    (as assigned values: ``show-config`` names them as such).
    """
    conf = app.conf
    before = {
        "broker_url": conf.broker_url,
        "state_backend_url": conf.state_backend_url,
        "runner_cls": conf.runner_cls,
    }
    conf.update(broker_url="memory://", state_backend_url="memory://", runner_cls="ThreadRunner")
    app.reset_components()
    try:
        app.purge()
        yield app
    finally:
        try:
            app.purge()
        finally:
            conf.update(**before)
            app.reset_components()


__all__ = ["in_memory", "sync_mode"]
