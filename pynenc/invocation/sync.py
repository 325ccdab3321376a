"""Synchronous invocations: dev sync mode runs the function inline, in the caller.

No broker, no state backend: the status history lives on the object. Return values and
exceptions are exactly those of a plain call (nothing is serialized).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.cancellation import (
    Cancellation,
    already_finished,
    cancelled_error,
    cancelled_now,
    default_canceller,
)
from pynenc.context import current_invocation
from pynenc.exceptions import WorkflowPausedError
from pynenc.identifiers import new_invocation_id
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
from pynenc.invocation.progress import Progress, decode_progress, make_progress
from pynenc.outcome import Outcome
from pynenc.records import InvocationStatus, StatusEntry
from pynenc.timeouts import checked_timeout
from pynenc.types import Params, Result
from pynenc.workflow.journal import (
    HISTORY_KEPT_ON_CONTINUE,
    RunInfo,
    finish_continue,
    read_run,
    write_run,
)
from pynenc.workflow.signals import ContinueAsNew, WorkflowPause, WorkflowSignal

if TYPE_CHECKING:
    from pynenc.task import Task

_SYNC_RUNNER_ID = "sync"


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="pynenc-sync-coroutine")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class SyncInvocation(BaseInvocation[Params, Result]):
    """An invocation already run inline; its outcome is known."""

    #: the running invocation that made this call, if any (set when it runs)
    _parent: BaseInvocation[Any, Any] | None = None
    _headers: dict[str, Any] | None = None

    def __init__(
        self, task: Task[Params, Result], arguments: Arguments, invocation_id: str | None = None
    ) -> None:
        super().__init__(task, arguments, invocation_id or new_invocation_id())
        self._status = InvocationStatus.REGISTERED
        self._history = [StatusEntry(InvocationStatus.REGISTERED, time.time())]
        self._retries = 0
        self._value: Any = None
        self._error: BaseException | None = None
        self._progress: Progress | None = None
        self._cancel_error: Exception | None = None

    @classmethod
    def run(
        cls,
        task: Task[Params, Result],
        arguments: Arguments,
        invocation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> SyncInvocation[Params, Result]:
        """Create the invocation and run it now, retrying as the task's options say (a
        retry's delay is not waited for: it runs again at once)."""
        invocation = cls(task, arguments, invocation_id)
        if headers is not None:
            invocation._headers = headers
        invocation._execute()
        invocation._finished_workflow()
        return invocation

    def _finished_workflow(self) -> None:
        """A top-level call that ended for good: what its workflow (if it ran one) kept in
        this process is kept for the last few only (``Workflows.finished_inline``)."""
        if self._parent is not None or self._status is InvocationStatus.PAUSED:
            return
        workflows = self.task.app.__dict__.get("workflows")
        if workflows is not None and "sync_backend" in workflows.__dict__:
            workflows.finished_inline(self.invocation_id)

    @property
    def root_id(self) -> str:
        parent = self._parent
        return self.invocation_id if parent is None else parent.root_id

    @property
    def headers(self) -> dict[str, Any] | None:
        return self._headers

    @property
    def error(self) -> BaseException | None:
        """The exception it ended with (``None``: it succeeded, or has not ended)."""
        return self._error

    def fail(self, error: BaseException) -> None:
        """End it FAILED with ``error`` without running it (in a composition, a step
        after one that failed)."""
        self._error = error
        self._set(InvocationStatus.FAILED)

    def _set(self, status: InvocationStatus) -> None:
        self._status = status
        self._history.append(StatusEntry(status, time.time(), _SYNC_RUNNER_ID))

    def _execute(self) -> None:
        """Run attempts until one succeeds or earns no retry; each attempt fires the
        ``run_start``/``run_end`` hooks, as on a runner (nothing is serialized: the
        outcome's ``result``/``error`` are ``None``)."""
        hooks = self.task.app.hooks
        token = current_invocation.set(self)
        # the invocation running when this one was called (its task made the call): free
        # to know, the token holds what it replaced
        parent = token.old_value
        if isinstance(parent, BaseInvocation):
            self._parent = parent
            self.parent_id = parent.invocation_id
        try:
            while True:
                if "_wf" in self.__dict__:  # a workflow's steps count from the start again
                    del self.__dict__["_wf"]
                self._set(InvocationStatus.RUNNING)
                if hooks.run_start:
                    hooks.emit("run_start", self)
                start = time.perf_counter() if hooks.run_end else 0.0
                try:
                    value: Any = self.task.run_function(self.arguments)
                    if self.task.is_async:
                        value = run_coroutine(value)
                except WorkflowSignal as signal:  # wf.pause() / wf.continue_as_new()
                    if hooks.run_end:  # as on a runner: PAUSED, or REGISTERED (next run)
                        seconds = time.perf_counter() - start
                        paused = isinstance(signal, WorkflowPause)
                        status = InvocationStatus.PAUSED if paused else InvocationStatus.REGISTERED
                        hooks.emit("run_end", self, Outcome(status, value=signal, duration=seconds))
                    if self._workflow_signal(signal):
                        continue
                    return
                except Exception as exc:
                    if self._cancel_error is not None:  # cancelled while it ran: that stands
                        self._error = self._cancel_error
                        return
                    retry = self.task.should_retry(exc, self._retries)
                    status = InvocationStatus.RETRY if retry else InvocationStatus.FAILED
                    if hooks.run_end:  # before the outcome is set, as on a runner
                        seconds = time.perf_counter() - start
                        outcome = Outcome(status, exception=exc, duration=seconds)
                        hooks.emit("run_end", self, outcome)
                    self._set(status)
                    if retry:
                        self._retries += 1
                        continue
                    self._error = exc
                    return
                if self._cancel_error is not None:
                    self._error = self._cancel_error
                    return
                if hooks.run_end:
                    seconds = time.perf_counter() - start
                    outcome = Outcome(InvocationStatus.SUCCESS, value=value, duration=seconds)
                    hooks.emit("run_end", self, outcome)
                self._value = value
                self._set(InvocationStatus.SUCCESS)
                return
        finally:
            current_invocation.reset(token)

    def _workflow_signal(self, signal: WorkflowSignal) -> bool:
        """Apply a workflow body's signal inline; whether to run the body again (a
        continue-as-new: the next run, with its arguments). A pause leaves it PAUSED,
        kept by ``app.workflows`` for :meth:`resume_inline`."""
        app = self.task.app
        if isinstance(signal, ContinueAsNew):
            backend = app.workflows.sync_backend
            info = read_run(backend, self.invocation_id) or RunInfo(signal.run)
            finish_continue(backend, self.invocation_id, info, None)
            self.arguments = Arguments(signal.kwargs)
            self._retries = 0
            self._set(InvocationStatus.REGISTERED)
            # bounded as on a runner: the first entry and the newest ones
            del self._history[1 : len(self._history) - HISTORY_KEPT_ON_CONTINUE]
            return True
        assert isinstance(signal, WorkflowPause)
        backend = app.workflows.sync_backend
        info = read_run(backend, self.invocation_id) or RunInfo(signal.run)
        info.run, info.paused = signal.run, signal.step
        write_run(backend, self.invocation_id, info)
        self._set(InvocationStatus.PAUSED)
        self._history[-1] = self._history[-1]._replace(reason=f"paused: {signal.reason}")
        self._error = WorkflowPausedError(
            f"Workflow {self.invocation_id} ({self.task.task_id.key}) is PAUSED "
            f"({signal.reason or 'no reason given'}). In dev sync mode nothing can wait for "
            f"it: call app.workflows.resume({self.invocation_id!r}, value) to run it again "
            "inline, then read the result."
        )
        app.workflows.keep_paused(self)
        return False

    def resume_inline(self) -> None:
        """Run a workflow paused in dev sync mode again (``app.workflows.resume``)."""
        self._error = None
        self._set(InvocationStatus.REGISTERED)
        self._execute()
        self._finished_workflow()

    def cancel_paused(self, reason: str | None) -> Cancellation:
        """Cancel a workflow paused in dev sync mode (``app.workflows.cancel``)."""
        answer = self.cancel(reason)
        self._error = self._cancel_error
        return answer

    def cancel(self, reason: str | None = None, by: str | None = None) -> Cancellation:
        """In dev sync mode the call ran the task before returning its invocation, so a
        caller's handle is finished: nothing changes (the answer is false and says so).

        From inside the running task (``task.invocation.cancel()``) it is CANCELLED at
        once: the task stops at its next :meth:`checkpoint`, what it returns or raises is
        discarded, and ``result`` raises :class:`InvocationCancelledError` (the task
        class's ``cancelled_error``).
        """
        task_id = self.task.task_id.key
        if self._status.is_final:
            return already_finished(self.invocation_id, task_id, self._status)
        actor = by or default_canceller()
        previous = self._status
        self._set(InvocationStatus.CANCELLED)
        self._history[-1] = self._history[-1]._replace(runner_id=actor, reason=reason)
        at = self._history[-1].timestamp
        self._cancel_error = cancelled_error(
            self.invocation_id, task_id, actor, at, reason, self.task.cancelled_error
        )
        self._next_cancel_read = 0.0  # its next checkpoint sees it
        how = "it stops at its next invocation.checkpoint(); its outcome is discarded."
        return cancelled_now(self.invocation_id, task_id, previous, how)

    @property
    def cancelled(self) -> bool:
        return self._status is InvocationStatus.CANCELLED

    def _cancelled_error(self) -> BaseException:
        assert self._cancel_error is not None
        return self._cancel_error

    @property
    def status(self) -> InvocationStatus:
        return self._status

    @property
    def num_retries(self) -> int:
        return self._retries

    @property
    def history(self) -> list[StatusEntry]:
        return list(self._history)

    def set_progress(self, state: str, meta: Any = None) -> Progress:
        # checked and read back as JSON, as on a runner (the same errors, the same values)
        self._progress = decode_progress(make_progress(state, meta)[1])
        return self._progress

    @property
    def progress(self) -> Progress | None:
        return self._progress

    def get_result(self, timeout: float | None = None) -> Result:
        checked_timeout(timeout)  # already run: nothing to wait for, but the same contract
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    async def async_result(self) -> Result:
        return self.get_result()


class SyncInvocationGroup(BaseInvocationGroup[Params, Result]):
    """The already-run invocations of a ``parallelize`` call in dev sync mode."""
