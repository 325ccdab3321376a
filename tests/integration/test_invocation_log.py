"""One log line per invocation event on the ``pynenc.invocation`` logger (embedded default)."""

from __future__ import annotations

import logging
import re

import pytest

from pynenc import InvocationStatus, Pynenc
from tests.apps import core

LOGGER = "pynenc.invocation"


def _lines(caplog: pytest.LogCaptureFixture, invocation_id: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == LOGGER and f"[{invocation_id}]" in r.getMessage()
    ]


def test_success_logs_started_and_succeeded_with_duration(
    running_app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    invocation = core.add(1, 2)
    assert invocation.result == 3
    records = _lines(caplog, invocation.invocation_id)
    prefix = f"Task tests.apps.core.add[{invocation.invocation_id}]"
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    assert records[0].getMessage() == f"{prefix} started"
    assert re.fullmatch(re.escape(prefix) + r" succeeded in \d+\.\d{4} s", records[1].getMessage())


def test_failure_logs_a_warning_with_the_exception_and_traceback(
    running_app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    invocation = core.fail_with("boom")
    with pytest.raises(ValueError):
        invocation.result
    failed = _lines(caplog, invocation.invocation_id)[-1]
    assert failed.levelno == logging.WARNING
    assert re.search(r"failed in \d+\.\d{4} s: ValueError: boom$", failed.getMessage())
    assert failed.exc_info is not None and failed.exc_info[0] is ValueError


def test_retries_log_the_attempt_and_the_bound(
    running_app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    invocation = core.flaky("log-retry", succeed_on=2)
    assert invocation.result == 2
    messages = [r.getMessage() for r in _lines(caplog, invocation.invocation_id)]
    prefix = f"Task tests.apps.core.flaky[{invocation.invocation_id}]"
    assert messages[0] == f"{prefix} started"
    assert re.fullmatch(
        re.escape(prefix) + r" failed in \d+\.\d{4} s, retry 1/2: FlakyError: attempt 1",
        messages[1],
    )
    assert messages[2] == f"{prefix} started (retry 1)"
    assert "succeeded in" in messages[3]
    assert len(messages) == 4


def test_reroute_logs_a_warning_with_the_reason(
    core_app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    invocation = core.add(1, 2)  # no runner: claimed by hand, then taken back
    envelope = core_app.orchestrator.envelope_for(
        core_app.orchestrator.get_record(invocation.invocation_id)
    )
    assert core_app.orchestrator.claim_each([envelope], "runner-a") == [None]
    record = core_app.orchestrator.get_record(invocation.invocation_id)
    assert core_app.orchestrator.reroute(record, "runner-b", "runner-a is dead", 3)
    assert invocation.status is InvocationStatus.REROUTED
    (line,) = _lines(caplog, invocation.invocation_id)
    assert line.levelno == logging.WARNING
    assert line.getMessage() == (
        f"Task tests.apps.core.add[{invocation.invocation_id}] rerouted: runner-a is dead"
    )


def test_nothing_is_formatted_when_the_level_is_above_info(
    running_app: Pynenc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    invocation = core.add(2, 3)
    assert invocation.result == 5
    assert _lines(caplog, invocation.invocation_id) == []
