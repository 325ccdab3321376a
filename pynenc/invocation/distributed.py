"""Distributed invocations: run by a runner, tracked in the state backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup, checked_timeout
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry
from pynenc.serializer import deserialize_result, payload_to_exception
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.invocation.cancel import Cancellation
    from pynenc.task import Task


class DistributedInvocation(BaseInvocation[Params, Result]):
    """A handle on an invocation that a runner executes; reads go to the state backend."""

    def __init__(
        self,
        task: Task[Params, Result],
        arguments: Arguments,
        invocation_id: str,
        parent_id: str | None = None,
    ) -> None:
        super().__init__(task, arguments, invocation_id)
        self.parent_id = parent_id
        self._final: InvocationRecord | None = None

    def _record(self) -> InvocationRecord:
        if self._final is not None:
            return self._final
        record = self.task.app.orchestrator.get_record(self.invocation_id)
        if record.status.is_final:
            self._final = record
        return record

    @property
    def status(self) -> InvocationStatus:
        return self._record().status

    @property
    def num_retries(self) -> int:
        return self._record().num_retries

    @property
    def history(self) -> list[StatusEntry]:
        return self.task.app.state_backend.history(self.invocation_id)

    def cancel(self, reason: str | None = None, by: str | None = None) -> Cancellation:
        """Cancel the invocation unless it has finished (stored: every runner honours it).

        Not started: it never runs. Running: a process runner kills it within
        ``runner.cancel_check_interval``; in a thread runner the task stops at its next
        :meth:`checkpoint` (its outcome is refused either way). Finished: nothing changes,
        and the answer says so (it is false).
        """
        answer = self.task.app.orchestrator.cancel(self.invocation_id, by, reason)
        self._final = None  # read the final record again: it may be the cancellation
        self._next_cancel_read = 0.0  # a task cancelling itself stops at its next checkpoint
        return answer

    @property
    def cancelled(self) -> bool:
        """Whether the invocation was cancelled (one read of the stored status)."""
        return self.status is InvocationStatus.CANCELLED

    def _cancelled_error(self) -> BaseException:
        record = self._record()
        assert record.error is not None
        return payload_to_exception(record.error)

    def get_result(self, timeout: float | None = None) -> Result:
        timeout = checked_timeout(timeout)
        if self._final is None:
            self._final = self.task.app.orchestrator.wait_final(self.invocation_id, timeout)
        return self._outcome(self._final)  # type: ignore[no-any-return]

    def _outcome(self, record: InvocationRecord) -> Any:
        if record.status is InvocationStatus.SUCCESS:
            assert record.result is not None
            return deserialize_result(self.task.app.serializer, record.result)
        assert record.error is not None
        raise payload_to_exception(record.error)

    async def async_result(self) -> Result:
        if self._final is None:
            loop = asyncio.get_running_loop()
            wait = self.task.app.orchestrator.wait_final
            self._final = await loop.run_in_executor(None, wait, self.invocation_id, None)
        return self._outcome(self._final)  # type: ignore[no-any-return]


class DistributedInvocationGroup(BaseInvocationGroup[Params, Result]):
    """The distributed invocations of one ``parallelize`` call, in call order."""

    #: Invocations waited for together by :attr:`results` (results arrive chunk by chunk).
    WAIT_CHUNK = 1000

    @property
    def results(self) -> Iterator[Result]:
        """Each result in call order; the first failure is raised.

        Waits a chunk of invocations at a time, with a few round trips per chunk.
        """
        orchestrator = self.task.app.orchestrator
        invocations = self.invocations
        for start in range(0, len(invocations), self.WAIT_CHUNK):
            chunk = invocations[start : start + self.WAIT_CHUNK]
            waiting = [
                inv
                for inv in chunk
                if isinstance(inv, DistributedInvocation) and inv._final is None
            ]
            if waiting:
                records = orchestrator.wait_final_many([i.invocation_id for i in waiting], None)
                for waited, record in zip(waiting, records, strict=True):
                    waited._final = record
            for invocation in chunk:
                yield invocation.result
