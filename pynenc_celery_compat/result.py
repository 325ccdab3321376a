"""Celery's result objects over pynenc invocations: ``AsyncResult`` and ``GroupResult``.

States are Celery's names (:func:`~pynenc_celery_compat.states.celery_state`); ``get`` keeps
Celery's semantics (``timeout`` raises this package's ``TimeoutError``, ``propagate``
re-raises the task's exception as its own class, ``get()`` inside a task raises unless joins
are allowed). Unlike Celery, an id pynenc never registered is told apart from a pending one:
``exists()`` is ``False`` for it (its state is still ``PENDING``, as in Celery).
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Iterator
from typing import Any

from celery import current_app
from celery import result as celery_result
from celery.result import assert_will_not_block

from pynenc.exceptions import (
    InvocationCancelledError,
    InvocationExpiredError,
    InvocationNotFoundError,
    InvocationTimeoutError,
    SoftTimeoutExceeded,
    TaskTimeoutError,
)
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.invocation.progress import read as read_progress
from pynenc.records import FINAL, InvocationRecord, InvocationStatus
from pynenc_celery_compat import (
    exceptions,
    group_store,
    outcomes,
    registry,
    result_meta,
    revoking,
    states,
)
from pynenc_celery_compat.bridge import pynenc_app_for
from pynenc_celery_compat.eager import reads_celery_results
from pynenc_celery_compat.mixed import celerys_call


class AsyncResult(result_meta.ResultMeta, celery_result.AsyncResult):  # type: ignore[misc]
    """The result of one task call (Celery's ``AsyncResult`` API, read from pynenc).

    ``date_done``, ``name``, ``args``, ``kwargs``, ``worker``, ``retries`` and ``queue``
    are read when asked for: :class:`~pynenc_celery_compat.result_meta.ResultMeta`.

    In a canvas, ``parent`` is the result of the step before (a chain's), or the
    :class:`GroupResult` of a chord's header; ``get()`` of a failed step raises the error
    of the first failed one up those links, as Celery does.

    While the app runs eagerly, ``AsyncResult(id)`` is Celery's own result, read from
    Celery's result backend (where eager results are stored): see
    :func:`pynenc_celery_compat.eager.reads_celery_results`.
    """

    def __new__(
        cls,
        id: str,
        backend: Any = None,
        task_name: str | None = None,
        app: Any = None,
        parent: Any = None,
        *,
        invocation: DistributedInvocation[Any, Any] | None = None,
        ignored: bool = False,
        pynencs: bool = False,
    ) -> Any:
        if not id:  # Celery's check, with the fix
            raise ValueError(
                f"AsyncResult requires a valid task id, got {id!r}: pass the id of a call "
                "(result.id, or the task_id given to apply_async)"
            )
        # a lookup by id, not a call's own result nor one a real app's AsyncResult (``pynencs``)
        # already found in pynenc
        if invocation is None and not pynencs:
            celery_app = app if app is not None else current_app._get_current_object()
            if reads_celery_results(celery_app, id) or celerys_call(celery_app, id, task_name):
                return celery_result.AsyncResult(
                    id, backend=backend, task_name=task_name, app=celery_app, parent=parent
                )
        return super().__new__(cls)

    #: Celery's ``ResultSet`` (a ``GroupResult`` of Celery's own ``group``) joins these one
    #: by one with ``get()``
    supports_native_join = False

    def __init__(
        self,
        id: str,
        backend: Any = None,
        task_name: str | None = None,
        app: Any = None,
        parent: Any = None,
        *,
        invocation: DistributedInvocation[Any, Any] | None = None,
        ignored: bool = False,
        pynencs: bool = False,
    ) -> None:
        self.app = app if app is not None else current_app._get_current_object()
        self.id = id
        self.task_name = task_name
        self.parent = parent
        self.backend = backend
        self._ignored = ignored
        self._invocation = invocation
        self._final: InvocationRecord | None = None
        self._cache = None

    # -- reading -------------------------------------------------------------------------

    @property
    def _pynenc(self) -> Any:
        return pynenc_app_for(self.app)

    def _record(self) -> InvocationRecord | None:
        if self._final is not None:
            return self._final
        try:
            record = self._pynenc.orchestrator.get_record(self.id)
        except InvocationNotFoundError:
            return None
        if outcomes.ignored(record):  # raise Ignore(): never finished, as Celery shows it
            return outcomes.as_unfinished(record)
        if record.status in FINAL:
            self._final = record
        return record  # type: ignore[no-any-return]

    def _track_started(self, record: InvocationRecord) -> bool:
        task = registry.get(record.task_id)
        return bool(task is not None and task.track_started)

    @property
    def state(self) -> str:
        """Celery's state name: PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or the
        custom state a running task set with ``update_state``."""
        record = self._record()
        if record is None:
            return str(states.PENDING)
        if record.status not in FINAL:
            progress = read_progress(self._pynenc.state_backend, self.id)
            if progress is not None and not _retry_running(progress, record):
                return str(progress.state)
        return states.celery_state(record.status, record.num_retries, self._track_started(record))

    status = state

    @property
    def result(self) -> Any:
        """The return value (SUCCESS), the exception (FAILURE, REVOKED), the ``meta`` of a
        custom state, else ``None``."""
        record = self._record()
        if record is None:
            return None
        if record.status in FINAL:
            return self._outcome(record, raise_it=False)
        return outcomes.progress_info(self._progress())

    info = result

    @property
    def traceback(self) -> str | None:
        """The task's traceback text when it failed, else ``None``."""
        record = self._record()
        if record is None or record.error is None:
            return None
        text = record.error.get("traceback")
        return str(text) if text else None

    def _progress(self) -> Any:
        return read_progress(self._pynenc.state_backend, self.id)

    def _outcome(self, record: InvocationRecord, raise_it: bool) -> Any:
        invocation = self._invocation  # a call's own result holds its invocation
        if not isinstance(invocation, DistributedInvocation) or invocation.app is not self._pynenc:
            invocation = DistributedInvocation.from_record(self._pynenc, record)
        try:
            return invocation._outcome(record)
        except BaseException as exc:  # the task's own exception, rebuilt
            error = celery_exception(exc)
            if record.error and "upstream" in record.error:
                # a canvas step failed by what it waited for: a chord's ChordError, or
                # Celery's TaskRevokedError when that was revoked
                from pynenc_celery_compat.canvas_receive import celery_error

                error = celery_error(self._pynenc, record, error)
            if raise_it:
                raise error from None
            return error

    # -- waiting -------------------------------------------------------------------------

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        no_ack: bool = True,
        follow_parents: bool = True,
        callback: Callable[..., Any] | None = None,
        on_message: Callable[..., Any] | None = None,
        on_interval: Callable[..., Any] | None = None,
        disable_sync_subtasks: bool = True,
        EXCEPTION_STATES: Any = states.EXCEPTION_STATES,
        PROPAGATE_STATES: Any = states.PROPAGATE_STATES,
    ) -> Any:
        """Wait for the result (Celery's ``get``).

        :raises TimeoutError: (this package's, a Celery ``TimeoutError``) not ready within
            ``timeout`` seconds.
        :raises RuntimeError: called inside a task while joins are denied.
        """
        if self._ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        record = self._wait(timeout)
        failed = record.status is not InvocationStatus.SUCCESS
        if failed and follow_parents and propagate and self.parent is not None:
            # Celery raises the error of the first failed step of a chain (or of the chord
            # header); a step failing fails those after it at once, so the parents are
            # read only when this one did not succeed
            self._maybe_reraise_parent_error()
        if callback is not None:
            callback(self.id, self._outcome(record, raise_it=False))
        return self._outcome(record, raise_it=propagate)

    wait = get

    def _wait(self, timeout: float | None) -> InvocationRecord:
        if self._final is not None:
            return self._final
        if timeout is not None:
            timeout = _seconds(timeout)
        try:
            record = self._pynenc.orchestrator.wait_final(self.id, timeout)
        except InvocationTimeoutError:
            raise exceptions.TimeoutError("The operation timed out.") from None
        if outcomes.ignored(record):  # nothing is stored for it: wait as for a pending one
            threading.Event().wait(timeout)
            raise exceptions.TimeoutError("The operation timed out.")
        self._final = record
        return record  # type: ignore[no-any-return]

    def _maybe_reraise_parent_error(self) -> None:
        """Raise the error of the earliest failed result up the ``parent`` links."""
        parents = []
        node = self.parent
        while node is not None:
            parents.append(node)
            node = node.parent
        for node in reversed(parents):
            node.maybe_throw()

    def maybe_throw(self, propagate: bool = True, callback: Any = None) -> None:
        """Raise the task's exception if it failed (used by a child's ``get``)."""
        record = self._record()
        if record is not None and record.status in FINAL and propagate:
            self._outcome(record, raise_it=record.status is not InvocationStatus.SUCCESS)

    def ready(self) -> bool:
        """Whether the task finished (SUCCESS, FAILURE or REVOKED)."""
        record = self._record()
        return record is not None and record.status in FINAL

    def successful(self) -> bool:
        record = self._record()
        return record is not None and record.status is InvocationStatus.SUCCESS

    def failed(self) -> bool:
        record = self._record()
        return record is not None and record.status is InvocationStatus.FAILED

    def exists(self) -> bool:
        """Whether pynenc knows this id (a call registered it): ``False`` for an id that was
        never sent, or whose record was purged."""
        return self._record() is not None

    # -- acting --------------------------------------------------------------------------

    def revoke(
        self,
        connection: Any = None,
        terminate: bool = False,
        signal: Any = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Revoke the task, as Celery: not started, it never starts (durable: every runner
        honours it); running, it goes on unless ``terminate=True``, which stops it (a
        thread runner's task at its next checkpoint). A finished task keeps its state."""
        record = self._record()
        if record is None or record.status in FINAL:
            return
        revoking.revoke(self._pynenc, record, terminate, by="AsyncResult.revoke")
        self._final = None
        if wait:
            self._wait(timeout)

    def forget(self) -> None:
        """Drop the cached result (pynenc keeps records until they are purged)."""
        self._final = None
        self._cache = None
        self._forget_meta()

    @property
    def children(self) -> list[AsyncResult] | None:
        """Results of the calls this task made, then, for a canvas step that succeeded,
        of its ``link`` callbacks and the chain's next step (``None`` until it is ready,
        as in Celery)."""
        record = self._record()
        if record is None or record.status not in FINAL:
            return None
        from pynenc_celery_compat.canvas_lineage import children_results

        ids = outcomes.read_children(self._pynenc.state_backend, self.id)
        made = [AsyncResult(child, app=self.app) for child in ids]
        return made + children_results(record, self.app)

    def then(
        self,
        callback: Callable[[Any], Any],
        on_error: Callable[[BaseException], Any] | None = None,
        weak: bool = False,
    ) -> None:
        """Call ``callback(self)`` once the task is ready (``on_error(exc)`` if waiting
        fails), from a daemon thread."""

        def watch() -> None:
            try:
                self._wait(None)
            except BaseException as exc:
                if on_error is not None:
                    on_error(exc)
                return
            callback(self)

        threading.Thread(target=watch, name=f"then-{self.id}", daemon=True).start()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __reduce__(self) -> Any:
        return (_rebuild, (self.id, self.task_name))


def _seconds(timeout: Any) -> float:
    """``get(timeout=)`` as Celery reads it: a negative wait does not wait (a finished
    result is returned, else ``TimeoutError``); not a number is a ``TypeError``."""
    cls = type(timeout)
    if cls is int or (cls is float and timeout == timeout):  # the usual: a plain number
        return max(0.0, float(timeout))
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or math.isnan(timeout):
        raise TypeError(
            f"AsyncResult.get(timeout={timeout!r}): timeout must be a number of seconds, "
            "or None to wait for ever"
        )
    return max(0.0, float(timeout))


def _retry_running(progress: Any, record: InvocationRecord) -> bool:
    """The ``RETRY`` shown while a retry waited, now that its next attempt runs: the state
    is the running one again (``STARTED`` when tracked, else still ``RETRY``)."""
    return progress.state == states.RETRY and record.status is InvocationStatus.RUNNING


def _rebuild(task_id: str, task_name: str | None) -> AsyncResult:
    return AsyncResult(task_id, task_name=task_name)


def celery_exception(exc: BaseException) -> BaseException:
    """pynenc's errors for a revoked or expired call as Celery's ``TaskRevokedError``, and
    for time limits as Celery's ``TimeLimitExceeded``/``SoftTimeLimitExceeded``."""
    if isinstance(exc, TaskTimeoutError) and not isinstance(exc, exceptions.TimeLimitExceeded):
        return _keep_notes(exc, exceptions.TimeLimitExceeded(str(exc), exc.limit))
    if isinstance(exc, SoftTimeoutExceeded) and not isinstance(
        exc, exceptions.SoftTimeLimitExceeded
    ):
        return _keep_notes(exc, exceptions.SoftTimeLimitExceeded(str(exc), exc.limit))
    if isinstance(exc, InvocationExpiredError):
        return exceptions.TaskRevokedError("expired")
    if isinstance(exc, InvocationCancelledError):  # the task class's TaskRevokedError too
        # Celery's message is the reason alone ('revoked', 'expired', 'terminated')
        return _keep_notes(exc, exceptions.TaskRevokedError(exc.reason or "revoked"))
    return exc


#: the former name of :func:`celery_exception`
_celery_error = celery_exception


def _keep_notes(original: BaseException, error: BaseException) -> BaseException:
    for note in getattr(original, "__notes__", ()):
        error.add_note(note)  # the remote traceback
    return error


class GroupResult(celery_result.GroupResult):  # type: ignore[misc]
    """Results of several calls, in the order they were made (Celery's ``GroupResult``)."""

    def __init__(
        self,
        id: str | None = None,
        results: list[AsyncResult] | None = None,
        parent: Any = None,
        app: Any = None,
        **kwargs: Any,
    ) -> None:
        self.id = id
        self.results = list(results or [])
        self.parent = parent
        self.app = app if app is not None else current_app._get_current_object()
        self._cache = None

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Any = None,
        no_ack: bool = True,
        on_message: Any = None,
        disable_sync_subtasks: bool = True,
        on_interval: Any = None,
    ) -> list[Any]:
        """Every member's result, in order (``timeout`` bounds the whole wait). A failed
        member raises its own error, as Celery's ``get`` on its Redis backend
        (``join_native``): a failed chord's ``ChordError``."""
        return self._join(timeout, propagate, disable_sync_subtasks, follow_parents=False)

    #: Celery's join for backends that push results (its Redis backend): the same wait
    join_native = get

    def join(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Any = None,
        no_ack: bool = True,
        on_message: Any = None,
        disable_sync_subtasks: bool = True,
        on_interval: Any = None,
    ) -> list[Any]:
        """As :meth:`get`, each member's ``get()`` raising the first error up its
        ``parent`` links (a failed chord's member's own error), as Celery's ``join``."""
        return self._join(timeout, propagate, disable_sync_subtasks, follow_parents=True)

    def _join(
        self,
        timeout: float | None,
        propagate: bool,
        disable_sync_subtasks: bool,
        follow_parents: bool,
    ) -> list[Any]:
        import time

        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for member in self.results:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            options: dict[str, Any] = {"timeout": remaining, "propagate": propagate}
            if isinstance(member, AsyncResult):  # a nested GroupResult has no such option
                options["follow_parents"] = follow_parents
            values.append(member.get(disable_sync_subtasks=False, **options))
        return values

    def ready(self) -> bool:
        return all(member.ready() for member in self.results)

    def successful(self) -> bool:
        return all(member.successful() for member in self.results)

    def failed(self) -> bool:
        return any(member.failed() for member in self.results)

    def completed_count(self) -> int:
        return sum(1 for member in self.results if member.successful())

    def revoke(self, connection: Any = None, terminate: bool = False, **kwargs: Any) -> None:
        for member in self.results:
            member.revoke(terminate=terminate)

    # -- saving (see :mod:`pynenc_celery_compat.group_store`) ---------------------------

    def save(self, backend: Any = None) -> Any:
        """Keep this group (its id, its members' ids) to :meth:`restore` it by id later,
        from any process; returns it. Kept by the app's Celery result backend when it keeps
        groups (Redis, a database), else by pynenc's state backend.

        :raises ValueError: the group has no id.
        """
        return group_store.save(self, backend)

    def delete(self, backend: Any = None) -> None:
        """Forget the saved group (nothing happens if it was not saved)."""
        group_store.delete(str(self.id), backend, self.app)

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: Any = None) -> Any:
        """The group saved under ``id`` (:meth:`save`), its members' results read from
        pynenc; ``None`` when no group is saved under it, as in Celery."""
        celery_app = app if app is not None else current_app._get_current_object()
        return group_store.restore(id, backend, celery_app)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> AsyncResult:
        return self.results[index]

    def __iter__(self) -> Iterator[AsyncResult]:
        return iter(self.results)

    def __repr__(self) -> str:
        ids = ", ".join(member.id for member in self.results)
        return f"<{type(self).__name__}: {self.id} [{ids}]>"


__all__ = ["AsyncResult", "GroupResult"]
