"""The invocation interface shared by distributed and synchronous invocations."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic

from pynenc.arguments import Arguments
from pynenc.attempt import current_attempt
from pynenc.invocation.progress import Progress
from pynenc.records import InvocationStatus, StatusEntry
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.cancellation import Cancellation
    from pynenc.task import Task

#: Seconds between two reads of the stored status by :meth:`BaseInvocation.checkpoint`.
CHECKPOINT_READ_EVERY = 0.1


class BaseInvocation(ABC, Generic[Params, Result]):
    """One call of a task: its id, arguments, status and (eventually) its result."""

    #: the invocation whose task made this call (``None``: a top-level call)
    parent_id: str | None = None

    def __init__(self, task: Task[Params, Result], arguments: Arguments, invocation_id: str):
        self.task = task
        self.arguments = arguments
        self.invocation_id = invocation_id
        self._next_cancel_read = 0.0  #: monotonic time of the next read by checkpoint()

    @property
    def app(self) -> Any:
        return self.task.app

    @property
    def root_id(self) -> str:
        """The id of the top-level call of this invocation's call tree: the parent's root,
        or its own id for a top-level call."""
        return self.invocation_id

    @property
    def headers(self) -> dict[str, Any] | None:
        """The headers the caller gave (``task.with_options(headers=...)``), or ``None``."""
        return None

    @property
    @abstractmethod
    def status(self) -> InvocationStatus:
        """The current status."""

    @property
    @abstractmethod
    def num_retries(self) -> int:
        """How many times the invocation was retried so far."""

    @property
    @abstractmethod
    def history(self) -> list[StatusEntry]:
        """Every status it went through, with timestamps and runner ids, oldest first."""

    @abstractmethod
    def set_progress(self, state: str, meta: Any = None) -> Progress:
        """Publish a progress label and a JSON ``meta`` (usually a dict) for the readers of
        this invocation, without changing its status; each call replaces the previous one.

        Called from inside the task: ``my_task.invocation.set_progress("PROGRESS",
        {"done": 3, "total": 10})``. One state-backend write per call.

        :raises TypeError: ``meta`` is not JSON-able (the culprit's type is named), or
            ``state`` is not a string.
        :raises ValueError: ``state`` is empty or too long, or ``meta`` holds NaN/infinity.
        """

    @abstractmethod
    def cancel(self, reason: str | None = None, by: str | None = None) -> Cancellation:
        """Cancel the invocation unless it has finished; the answer says which happened
        (true when this call cancelled it). Waiters then get
        :class:`~pynenc.exceptions.InvocationCancelledError`.

        :param reason: why, kept in the history and the error.
        :param by: who cancels (default: this process, or the running invocation).
        """

    @property
    @abstractmethod
    def progress(self) -> Progress | None:
        """The last progress the task published (state, meta, updated), or ``None``; it
        stays readable after the invocation ends."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """Whether the invocation was cancelled (its stored status is CANCELLED)."""

    def checkpoint(self) -> None:
        """A cooperative check point for the running task: call it between units of work.

        Raises :class:`~pynenc.exceptions.InvocationCancelledError` once the invocation was
        cancelled, and :class:`~pynenc.exceptions.SoftTimeoutExceeded` (once) when the
        attempt ran past its ``soft_timeout``. Cheap: it reads the state backend at most
        every :data:`CHECKPOINT_READ_EVERY` seconds.
        """
        attempt = current_attempt.get()
        if attempt is not None and attempt.invocation_id == self.invocation_id:
            attempt.check_soft()
        now = time.monotonic()
        if now < self._next_cancel_read:
            return
        self._next_cancel_read = now + CHECKPOINT_READ_EVERY
        if self.cancelled:
            raise self._cancelled_error()

    @abstractmethod
    def _cancelled_error(self) -> BaseException:
        """The error of a cancelled invocation (as its waiters get it)."""

    @abstractmethod
    def get_result(self, timeout: float | None = None) -> Result:
        """Wait for the result (re-raising the task's exception); ``timeout`` in seconds.

        Raises :class:`~pynenc.exceptions.InvocationTimeoutError` when it does not arrive,
        and ``ValueError`` for a NaN or negative ``timeout`` (``None`` or ``inf``: no limit).
        """

    @property
    def result(self) -> Result:
        """The return value, waiting for it; the task's exception is re-raised here."""
        return self.get_result()

    @abstractmethod
    async def async_result(self) -> Result:
        """Await the result without blocking the event loop."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task.task_id.key}, id={self.invocation_id})"


class BaseInvocationGroup(Generic[Params, Result]):
    """The invocations made by one ``parallelize`` call, in call order."""

    def __init__(
        self, task: Task[Params, Result], invocations: Sequence[BaseInvocation[Params, Result]]
    ) -> None:
        self.task = task
        self.invocations: list[BaseInvocation[Params, Result]] = list(invocations)

    @property
    def results(self) -> Iterator[Result]:
        """Each result in call order, waiting as needed; the first failure is raised."""
        for invocation in self.invocations:
            yield invocation.result

    async def async_results(self) -> AsyncIterator[Result]:
        """Like :attr:`results`, awaiting each result instead of blocking."""
        for invocation in self.invocations:
            yield await invocation.async_result()

    def __len__(self) -> int:
        return len(self.invocations)

    def __iter__(self) -> Iterator[BaseInvocation[Params, Result]]:
        return iter(self.invocations)
