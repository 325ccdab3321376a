"""Distributed invocations: run by a runner, tracked in the state backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.exceptions import InvocationExpiredError, SerializationError, TaskNotFoundError
from pynenc.invocation import progress
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
from pynenc.records import InvocationRecord, InvocationStatus, StatusEntry, root_of
from pynenc.serializer import deserialize_arguments, deserialize_result, payload_to_exception
from pynenc.timeouts import checked_timeout
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.broker.envelope import Envelope
    from pynenc.cancellation import Cancellation
    from pynenc.task import Task


class DistributedInvocation(BaseInvocation[Params, Result]):
    """A handle on an invocation that a runner executes; reads go to the state backend.

    A call returns one; :meth:`Pynenc.invocation <pynenc.app.Pynenc.invocation>` makes one
    from an id alone (:meth:`from_record`): its task is then resolved, and its arguments
    decoded, only when :attr:`task` / :attr:`arguments` are read, so its status and result
    stay readable in a process that cannot import the task.
    """

    def __init__(
        self,
        task: Task[Params, Result],
        arguments: Arguments,
        invocation_id: str,
        parent_id: str | None = None,
        *,
        attempt_retries: int | None = None,
        envelope: Envelope | None = None,
    ) -> None:
        # BaseInvocation.__init__ is not called: task and arguments are properties here
        self._setup(
            task.app, task, arguments, invocation_id, parent_id, attempt_retries, None, envelope
        )

    def _setup(
        self,
        app: Pynenc,
        task: Task[Params, Result] | None,
        arguments: Arguments | None,
        invocation_id: str,
        parent_id: str | None,
        attempt_retries: int | None = None,
        stored: InvocationRecord | None = None,
        envelope: Envelope | None = None,
    ) -> None:
        """Every attribute of a handle, set in one place (a call's, a stored one's and the
        running attempt's: ``envelope``, its message)."""
        self._app = app
        self._task = task
        self._arguments = arguments
        self._stored = stored  #: the record read by from_record
        self.invocation_id = invocation_id
        self.parent_id = parent_id
        self._final = stored if stored is not None and stored.status.is_final else None
        #: set by the runner on the handle of a running attempt: its message, which holds
        #: its retry count, headers and root (``num_retries`` and those read nothing)
        self._envelope = envelope
        self._attempt_retries = attempt_retries if envelope is None else envelope.num_retries
        self._next_cancel_read = 0.0  #: monotonic time of the next read by checkpoint()

    @classmethod
    def from_record(cls, app: Pynenc, record: InvocationRecord) -> DistributedInvocation[Any, Any]:
        """The handle of a stored invocation: nothing more is read, resolved or decoded
        (a registered task is attached; any other is resolved on first use of
        :attr:`task`)."""
        invocation: DistributedInvocation[Any, Any] = cls.__new__(cls)
        task = app.get_task(record.task_id)
        invocation._setup(app, task, None, record.invocation_id, record.parent_id, stored=record)
        return invocation

    @property
    def app(self) -> Pynenc:
        return self._app

    @property
    def task(self) -> Task[Params, Result]:
        """The task; for a handle made from an id, resolved now as a runner would (a
        registered task, else imported from a module the app declares).

        :raises TaskNotFoundError: this process cannot resolve it.
        """
        if self._task is None:
            try:
                self._task = self._app.resolve_task(self.task_key)
            except TaskNotFoundError as exc:
                raise TaskNotFoundError(
                    f"Invocation {self.invocation_id}: its task cannot be resolved in this "
                    f"process ({exc}). Its status and result can still be read."
                ) from exc
        return self._task

    @task.setter
    def task(self, task: Task[Params, Result]) -> None:
        self._task = task

    @property
    def task_key(self) -> str:
        """The task's key (``module.function``, or the name it was declared with), known
        without resolving the task."""
        if self._stored is not None:
            return self._stored.task_id
        assert self._task is not None
        return self._task.task_id.key

    @property
    def arguments(self) -> Arguments:
        """The call's arguments; for a handle made from an id, decoded on first read.

        :raises SerializationError: they cannot be decoded in this process.
        """
        if self._arguments is None:
            assert self._stored is not None
            try:
                stored = self._app.client_data_store.resolve(self._stored.arguments)
                serializer = self._app.serializer_for(
                    self._stored.serializer, "The stored arguments"
                )
                decoded = deserialize_arguments(serializer, stored)
            except SerializationError as exc:
                raise SerializationError(
                    f"Invocation {self.invocation_id} of {self.task_key}: {exc}"
                ) from exc
            self._arguments = Arguments(decoded)
        return self._arguments

    @arguments.setter
    def arguments(self, arguments: Arguments) -> None:
        self._arguments = arguments

    def _record(self) -> InvocationRecord:
        if self._final is not None:
            return self._final
        record = self._app.orchestrator.get_record(self.invocation_id)
        if record.status.is_final:
            self._final = record
        return record

    @property
    def status(self) -> InvocationStatus:
        return self._record().status

    def _known_record(self) -> InvocationRecord:
        """The record this handle read already, else one read (fields set at the call)."""
        return self._stored or self._final or self._record()

    @property
    def headers(self) -> dict[str, Any] | None:
        """The caller's headers (``with_options(headers=...)``), or ``None``. The running
        task reads them from its message; another handle reads the record once."""
        if self._envelope is not None:
            return self._envelope.headers
        return self._known_record().headers

    @property
    def root_id(self) -> str:
        """The id of the top-level call of this invocation's call tree (its own id for a
        top-level call). The running task knows it from its message; another handle reads
        the record once."""
        if self._envelope is not None:
            envelope = self._envelope
            return root_of(envelope.invocation_id, envelope.parent_id, envelope.root_id)
        record = self._known_record()
        return root_of(self.invocation_id, record.parent_id, record.root_id)

    @property
    def num_retries(self) -> int:
        """Retries so far; on the handle a runner runs, the retries before this attempt
        (0 on the first), for the whole attempt: hooks read it after a retry too."""
        if self._attempt_retries is not None:
            return self._attempt_retries
        return self._record().num_retries

    @property
    def history(self) -> list[StatusEntry]:
        return self._app.state_backend.history(self.invocation_id)

    def set_progress(self, state: str, meta: Any = None) -> progress.Progress:
        return progress.publish(self.task.app.state_backend, self.invocation_id, state, meta)

    @property
    def progress(self) -> progress.Progress | None:
        return progress.read(self.task.app.state_backend, self.invocation_id)

    def cancel(self, reason: str | None = None, by: str | None = None) -> Cancellation:
        """Cancel the invocation unless it has finished (stored: every runner honours it).

        Not started: it never runs. Running: a process runner kills it within
        ``runner.cancel_check_interval``; in a thread runner the task stops at its next
        :meth:`checkpoint` (its outcome is refused either way). Finished: nothing changes,
        and the answer says so (it is false).
        """
        answer = self._app.orchestrator.cancel(self.invocation_id, by, reason)
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
            self._final = self._app.orchestrator.wait_final(self.invocation_id, timeout)
        return self._outcome(self._final)  # type: ignore[no-any-return]

    def _outcome(self, record: InvocationRecord) -> Any:
        if record.status is InvocationStatus.SUCCESS:
            assert record.result is not None
            app = self._app
            encoded = app.client_data_store.resolve_value(record.result)
            serializer = app.serializer_for(
                record.serializer, f"The result of invocation {record.invocation_id}"
            )
            return deserialize_result(serializer, encoded)
        if record.status is InvocationStatus.EXPIRED:
            raise expired_error(record)
        assert record.error is not None
        raise payload_to_exception(record.error)

    async def async_result(self) -> Result:
        if self._final is None:
            loop = asyncio.get_running_loop()
            wait = self._app.orchestrator.wait_final
            self._final = await loop.run_in_executor(None, wait, self.invocation_id, None)
        return self._outcome(self._final)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_key}, id={self.invocation_id})"


class ReusedInvocation(DistributedInvocation[Params, Result]):
    """A handle on a pending invocation that a later call was folded into.

    Returned by a call to a task with ``registration_concurrency`` when an invocation with
    the same key is not final yet: nothing new was registered, and this handle reads (and
    waits for) the existing invocation. :attr:`arguments` are that invocation's (read once
    from the state backend); :attr:`requested_arguments` are what this call passed.
    """

    def __init__(
        self, task: Task[Params, Result], requested_arguments: Arguments, invocation_id: str
    ) -> None:
        super().__init__(task, requested_arguments, invocation_id)
        #: what this call passed (the handle's own arguments are the reused invocation's)
        self.requested_arguments = requested_arguments
        self._stored_arguments: Arguments | None = None

    @property
    def arguments(self) -> Arguments:
        """The arguments of the reused invocation."""
        if self._stored_arguments is None:
            app = self.task.app
            record = self._record()
            stored = app.client_data_store.resolve(record.arguments)
            serializer = app.serializer_for(
                record.serializer, f"The arguments of invocation {record.invocation_id}"
            )
            self._stored_arguments = Arguments(deserialize_arguments(serializer, stored))
        return self._stored_arguments

    @arguments.setter
    def arguments(self, value: Arguments) -> None:
        self.requested_arguments = value


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
