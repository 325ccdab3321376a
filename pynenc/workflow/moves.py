"""What a runner records when a workflow body leaves its run: PAUSED, or the next run.

:func:`outcome` turns a :class:`~pynenc.workflow.signals.WorkflowSignal` into the
attempt's :class:`~pynenc.outcome.Outcome` (status PAUSED, or REGISTERED for a
continue-as-new); :func:`record` applies it. Both are only reached by such a signal: the
call path of every other task is untouched.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pynenc.outcome import Outcome
from pynenc.records import InvocationStatus, fingerprint, with_arguments
from pynenc.workflow.journal import (
    HISTORY_KEPT_ON_CONTINUE,
    RunInfo,
    finish_continue,
    read_run,
    write_run,
)
from pynenc.workflow.signals import ContinueAsNew, WorkflowPause, WorkflowSignal

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope

logger = logging.getLogger("pynenc.workflow")
S = InvocationStatus


def outcome(signal: WorkflowSignal, seconds: float) -> Outcome:
    """The outcome of an attempt that left its run by ``signal``."""
    status = S.PAUSED if isinstance(signal, WorkflowPause) else S.REGISTERED
    return Outcome(status, None, None, None, signal, seconds)


def record(app: Pynenc, envelope: Envelope, runner_id: str, done: Outcome) -> None:
    """Apply a workflow signal's outcome as ``runner_id`` (the owner of the run)."""
    signal = done.value
    if isinstance(signal, WorkflowPause):
        pause(app, envelope, runner_id, signal)
    elif isinstance(signal, ContinueAsNew):
        continue_as_new(app, envelope, runner_id, signal)


def pause(app: Pynenc, envelope: Envelope, runner_id: str, signal: WorkflowPause) -> bool:
    """RUNNING -> PAUSED, with the step of the pause stored for the resume."""
    backend = app.state_backend
    info = read_run(backend, envelope.invocation_id) or RunInfo(signal.run)
    if _ended(info, signal.run, envelope, "pause"):
        return False
    info.run, info.paused = signal.run, signal.step
    info.fp = fingerprint(envelope.arguments)
    write_run(backend, envelope.invocation_id, info)
    why = f"paused: {signal.reason}" if signal.reason else "paused"
    update = app.orchestrator.status_update(envelope.invocation_id, S.PAUSED, runner_id, reason=why)
    applied = app.orchestrator.record_updates([update])[0]
    if applied:
        logger.info("Workflow %s (%s) %s", envelope.invocation_id, envelope.task_id, why)
    return applied


def continue_as_new(app: Pynenc, envelope: Envelope, runner_id: str, signal: ContinueAsNew) -> bool:
    """RUNNING -> REGISTERED with the new arguments (one atomic step, which also trims the
    status history to its first entry and its newest
    :data:`~pynenc.workflow.journal.HISTORY_KEPT_ON_CONTINUE`), then the old run's journal
    and state dropped and the invocation published again.

    The run info says a continue is under way before the arguments change, so an attempt
    started after a runner died between the steps knows which run it is in
    (:func:`~pynenc.workflow.journal.current_run`)."""
    backend = app.state_backend
    inv = envelope.invocation_id
    old_fp, new_fp = fingerprint(envelope.arguments), fingerprint(signal.arguments)
    info = read_run(backend, inv) or RunInfo(signal.run)
    if _ended(info, signal.run, envelope, "continue-as-new"):
        return False
    info.run, info.fp, info.next_fp, info.paused = signal.run, old_fp, new_fp, None
    write_run(backend, inv, info)
    why = f"continue-as-new: run {signal.run + 1}"
    update = app.orchestrator.status_update(inv, S.REGISTERED, runner_id, reason=why, num_retries=0)
    update = with_arguments(update, signal.arguments, keep_history=HISTORY_KEPT_ON_CONTINUE)
    if not app.orchestrator.record_updates([update])[0]:
        return False
    finish_continue(backend, inv, info, new_fp)
    app.broker.publish([replace(envelope, arguments=signal.arguments, num_retries=0)])
    return True


def _ended(info: RunInfo, run: int, envelope: Envelope, what: str) -> bool:
    """Whether ``run`` has ended (continued as new) since this attempt of it started: an
    attempt another runner took over (its runner declared dead while alive) that went on.
    Its move is not recorded, and the run info, the new run's, is left as it is."""
    if info.run <= run:
        return False
    logger.warning(
        "Workflow %s (%s): %s of run %d not recorded: run %d has started since (this "
        "attempt was taken over by another runner)",
        envelope.invocation_id,
        envelope.task_id,
        what,
        run,
        info.run,
    )
    return True


def resume_entry(info: RunInfo) -> tuple[int, int]:
    """The (run, step) of the pause a PAUSED workflow is stopped at."""
    if info.paused is None:  # pragma: no cover - written before PAUSED is
        raise RuntimeError("the run info of a PAUSED workflow names no pause")
    return info.run, info.paused


def describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
