"""What Celery's result backend keeps about a call besides its outcome, read from pynenc.

Celery stores ``date_done`` with every finished result, and, with ``result_extended=True``,
the worker's request: ``name``, ``args``, ``kwargs``, ``worker`` (its node name), ``retries``
and ``queue`` (its routing key). ``AsyncResult`` answers the same from pynenc's record and
status history of the call, read only when one of them is asked for (``delay().get()``
reads none of it). pynenc has the call from the moment it is made, so these are answered
whatever ``result_extended`` says, and before the call runs (Celery: ``None`` until a worker
stored a state); ``date_done`` stays ``None`` until the call ended, as in Celery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.records import (
    FINAL,
    RECEIVE_LIST,
    RECEIVE_VALUE,
    InvocationRecord,
    InvocationStatus,
    StatusEntry,
)

#: the ``worker`` of a call run by a pynenc runner on host ``%s`` (the hostname a task
#: sees in ``self.request.hostname`` on a pynenc runner)
WORKER = "pynenc@%s"


def done_at(
    record: InvocationRecord, history: list[StatusEntry], celery_app: Any
) -> datetime | None:
    """When the call ended, as Celery's ``date_done``: an aware ``datetime`` in the app's
    ``timezone`` (UTC by default); ``None`` while it has not ended."""
    if record.status not in FINAL:
        return None
    ended = next((e for e in reversed(history) if e.status in FINAL), None)
    if ended is None:  # the history was purged with the record's other entries
        return None
    when = datetime.fromtimestamp(ended.timestamp, UTC)
    zone = getattr(celery_app, "timezone", None)
    return when.astimezone(zone) if zone is not None else when


#: state backend value namespace: a runner's Celery node name (``-n``), by runner id
NODES = "celery-nodes"


def remember_node(pynenc_app: Any, runner: Any) -> None:
    """Keep the node name the tasks of ``runner`` see in ``self.request.hostname`` (a
    ``pynenc-celery worker``'s ``celery@host``, a test worker's ``gen…@host``), once, as
    the runner starts: nothing is written when it is the default ``pynenc@host``."""
    from pynenc_celery_compat import trace

    runner_id, named = runner.runner_id, trace.HOSTNAME
    if named != WORKER % runner_host(runner_id):
        pynenc_app.state_backend.put_value(NODES, runner_id, named)


def worker_of(pynenc_app: Any, history: list[StatusEntry]) -> str | None:
    """The hostname the call's latest attempt saw in ``self.request.hostname``: its
    runner's node name, ``pynenc@host`` unless a Celery worker named it (``None`` before a
    runner took the call)."""
    ran = next((e for e in reversed(history) if e.status is InvocationStatus.RUNNING), None)
    if ran is None or not ran.runner_id:
        return None
    named = pynenc_app.state_backend.get_value(NODES, ran.runner_id)
    return str(named) if named is not None else WORKER % runner_host(ran.runner_id)


def runner_host(runner_id: str) -> str:
    """The host in a runner id (``kind@host:pid:suffix``: :func:`pynenc.identifiers.
    new_runner_id`); the whole id when it is not of that form."""
    _, at, rest = runner_id.partition("@")
    host = rest.rsplit(":", 2)[0] if rest.count(":") >= 2 else rest
    return host if at and host else runner_id


def retries_of(record: InvocationRecord, shown_state: Callable[[], str]) -> int:
    """Celery's ``retries``: the number of the attempt whose state is shown (0 for the
    first). While a retry waits (state ``RETRY``), the attempt that asked for it, as Celery
    stores it; ``shown_state`` is read only when that can be the case."""
    count = record.num_retries
    if count and record.status not in FINAL and shown_state() == "RETRY":
        return count - 1
    return count


def call_of(
    pynenc_app: Any, record: InvocationRecord, received: bool, celery_app: Any = None
) -> tuple[str, list[Any], dict[str, Any]]:
    """``(name, args, kwargs)`` of the call ``record`` as a Celery worker's request has
    them: the task's name, the arguments as the caller split them (defaults left out) and,
    with ``received``, a canvas step's received value first (once it was released).

    Telling positional from keyword arguments takes the task's signature: a task this
    process does not know yet is looked for in ``celery_app``'s task modules (``imports``,
    ``include``, ``autodiscover_tasks``), as ``send_task`` does; if it is still unknown,
    every argument is given by name, in ``kwargs``.

    :raises Exception: the arguments cannot be decoded in this process (the caller decides
        what to show instead).
    """
    from pynenc.invocation.distributed import DistributedInvocation
    from pynenc.runner import followers
    from pynenc_celery_compat import registry
    from pynenc_celery_compat.adapter import UNCHECKED_CALL
    from pynenc_celery_compat.canvas_receive import RECEIVING
    from pynenc_celery_compat.message import NARGS, message_args

    handle = DistributedInvocation.from_record(pynenc_app, record)
    stored = dict(handle.arguments.kwargs)
    compat = registry.get(record.task_id)
    if compat is None and celery_app is not None:
        celery_app.loader.import_default_modules()
        compat = registry.get(record.task_id)
    name = record.task_id  # the task's name (its pynenc key)
    if len(stored) == 1 and RECEIVING in stored:  # a canvas step, stored as it was written
        args, kwargs = list(stored[RECEIVING][0]), dict(stored[RECEIVING][1])
        links = record.links
        ready = record.status is not InvocationStatus.WAITING
        if received and ready and links is not None and links.receive in _RECEIVED:
            args = [*followers.received(pynenc_app, record.invocation_id, links), *args]
        return name, args, kwargs
    if len(stored) == 1 and UNCHECKED_CALL in stored:  # typing=False, not fitting the function
        return name, list(stored[UNCHECKED_CALL][0]), dict(stored[UNCHECKED_CALL][1])
    signature = _signature(compat, handle)
    if signature is None:  # the task is unknown here: every argument by name
        stored.pop(NARGS, None)
        return name, [], stored
    args, kwargs = message_args(signature, Arguments(stored))
    return name, args, kwargs


_RECEIVED = (RECEIVE_VALUE, RECEIVE_LIST)


def _signature(compat: Any, handle: Any) -> Any:
    """The signature a compat task's calls are bound to (``bind=True``'s ``self`` left out):
    from this process's compat task, else the task the app resolves; ``None`` if neither."""
    adapter = getattr(compat, "pynenc_task", None)
    if adapter is not None:
        return adapter.signature
    try:
        return handle.task.signature
    except Exception:  # not resolvable here (its module is not importable)
        return None


class ResultMeta:
    """``AsyncResult``'s ``date_done``, ``name``, ``args``, ``kwargs``, ``worker``,
    ``retries`` and ``queue`` (see the module docs): each reads the call's record (kept once
    final), the status history or the arguments only when it is asked for."""

    #: kept once known: the history of a final call, the decoded call once released
    _final_history: list[StatusEntry] | None = None
    _decoded_call: tuple[str, list[Any], dict[str, Any]] | None = None

    if TYPE_CHECKING:  # what AsyncResult gives
        id: str
        app: Any
        _pynenc: Any

        @property
        def state(self) -> str: ...

        def _record(self) -> InvocationRecord | None: ...

    def _forget_meta(self) -> None:
        self._final_history = None
        self._decoded_call = None

    @property
    def date_done(self) -> datetime | None:
        """When the call ended: an aware ``datetime`` in the app's ``timezone`` (UTC by
        default), as Celery's; ``None`` until it ended."""
        record = self._record()
        if record is None or record.status not in FINAL:
            return None
        return done_at(record, self._history(record), self.app)

    @property
    def name(self) -> str | None:
        """The task's name (Celery: with ``result_extended``; here always)."""
        record = self._record()
        return None if record is None else record.task_id

    @property
    def args(self) -> list[Any] | None:
        """The call's positional arguments, as the caller gave them (a canvas step's
        received value first, once it was released)."""
        call = self._call()
        return None if call is None else call[1]

    @property
    def kwargs(self) -> dict[str, Any] | None:
        """The call's keyword arguments, as the caller gave them (defaults left out)."""
        call = self._call()
        return None if call is None else call[2]

    @property
    def worker(self) -> str | None:
        """The node name of the runner that ran the latest attempt, as its
        ``self.request.hostname`` (``pynenc@host``, ``celery@host`` on a ``pynenc-celery
        worker``); ``None`` before one took the call."""
        record = self._record()
        if record is None:
            return None
        return worker_of(self._pynenc, self._history(record))

    @property
    def retries(self) -> int | None:
        """How many times the call was retried before the attempt whose state is shown."""
        record = self._record()
        if record is None:
            return None
        return retries_of(record, lambda: self.state)

    @property
    def queue(self) -> str | None:
        """The queue the call was sent to (Celery's routing key)."""
        record = self._record()
        return None if record is None else record.queue

    def _history(self, record: InvocationRecord) -> list[StatusEntry]:
        """The call's status history, kept once it ended (nothing follows then)."""
        if self._final_history is not None:
            return self._final_history
        history: list[StatusEntry] = self._pynenc.state_backend.history(self.id)
        if record.status in FINAL:
            self._final_history = history
        return history

    def _call(self) -> tuple[str, list[Any], dict[str, Any]] | None:
        """``(name, args, kwargs)`` of the call, decoded once it was released."""
        if self._decoded_call is not None:
            return self._decoded_call
        record = self._record()
        if record is None:
            return None
        upstream = "upstream" in (record.error or {})  # failed by a step before: never ran
        call = call_of(self._pynenc, record, not upstream, self.app)
        if record.status is not InvocationStatus.WAITING:  # what it received is known
            self._decoded_call = call
        return call


__all__ = [
    "NODES",
    "WORKER",
    "ResultMeta",
    "call_of",
    "done_at",
    "remember_node",
    "retries_of",
    "runner_host",
    "worker_of",
]
