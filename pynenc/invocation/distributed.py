"""Distributed invocations: run by a runner, tracked in the state backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.exceptions import InvocationExpiredError
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup, checked_timeout
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry
from pynenc.serializer import deserialize_result, payload_to_exception
from pynenc.types import Params, Result

if TYPE_CHECKING:
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

    def get_result(self, timeout: float | None = None) -> Result:
        timeout = checked_timeout(timeout)
        if self._final is None:
            self._final = self.task.app.orchestrator.wait_final(self.invocation_id, timeout)
        return self._outcome(self._final)  # type: ignore[no-any-return]

    def _outcome(self, record: InvocationRecord) -> Any:
        if record.status is InvocationStatus.SUCCESS:
            assert record.result is not None
            return deserialize_result(self.task.app.serializer, record.result)
        if record.status is InvocationStatus.EXPIRED:
            raise expired_error(record)
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


def expired_error(record: InvocationRecord) -> InvocationExpiredError:
    """What a waiter of an EXPIRED invocation gets (the last attempt's error, if it was a
    retry that would have fallen due after the expiry, is named and chained)."""
    error = record.error
    detail = (
        f" (its last attempt failed: {error.get('type')}: {error.get('message')})" if error else ""
    )
    expired = InvocationExpiredError(record.invocation_id, record.task_id, record.expires, detail)
    if error:
        expired.__cause__ = payload_to_exception(error)
    return expired
