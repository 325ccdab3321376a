"""The pynenc task behind a compat task: options from Celery's attributes, Celery's run."""

from __future__ import annotations

import threading
from typing import Any

from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.conf.task_config import TASK_OPTION_NAMES
from pynenc.exceptions import RetryError, TaskDefinitionError
from pynenc.task import Task as PynencTask
from pynenc_celery_compat import canvas_receive, registry
from pynenc_celery_compat.canvas_receive import SKIPPED
from pynenc_celery_compat.exceptions import (
    SoftTimeLimitExceeded,
    TaskRevokedError,
    TimeLimitExceeded,
)
from pynenc_celery_compat.message import call_arguments, message_args, positional_names
from pynenc_celery_compat.serialization import pynenc_serializer
from pynenc_celery_compat.time_limits import time_limits
from pynenc_celery_compat.trace import run_on_runner

_detached: Pynenc | None = None
_detached_lock = threading.Lock()


def detached_app() -> Pynenc:
    """The pynenc app compat tasks are declared on before any Celery app uses them (it is
    never called through: each call takes the pynenc app of the task's Celery app)."""
    global _detached
    if _detached is None:
        with _detached_lock:
            if _detached is None:
                _detached = Pynenc(app_id="pynenc_celery_compat")
    return _detached


def make_compat(compat: Any, function: Any) -> None:
    """Make the task object ``compat`` a compat task running ``function``: its
    ``__inner_function__``, its name in this process's registry, and its ``pynenc_task``
    (declared on :func:`detached_app`; each Celery app's pynenc app declares its own)."""
    compat.__inner_function__ = function
    registry.add(compat)
    compat.pynenc_task = CeleryTaskAdapter.declare(detached_app(), compat)


#: the argument under which a call that does not fit the function travels, for a task
#: declared with ``typing=False`` (it fails on the runner with the function's TypeError)
UNCHECKED_CALL = "__celery_unchecked_call__"


def pynenc_options(
    task: Any, celery_app: Any = None, app_serializer: str | None = None
) -> dict[str, Any]:
    """pynenc task options from a compat task's (Celery) attributes."""
    options: dict[str, Any] = dict(time_limits(task, celery_app))
    serializer = getattr(task, "serializer", None)
    if serializer:
        serializer = pynenc_serializer(serializer)  # Celery's name: 'json' is kombu's JSON
    if serializer and serializer != app_serializer and "serializer" in TASK_OPTION_NAMES:
        # a task's own serializer (e.g. 'pickle' to pass callables); the app must accept
        # it (Celery's accept_content): pynenc refuses it at the first call otherwise
        options["serializer"] = serializer
    if task.rate_limit:
        options["rate_limit"] = task.rate_limit
    queue = task.__dict__.get("queue") or getattr(type(task), "queue", None)
    if not queue and celery_app is not None:
        queue = celery_app.conf.task_default_queue
    options["queue"] = queue or "celery"
    if task.priority is not None:
        # Celery passes 0-255 through to AMQP; pynenc orders 0-9 on every broker
        options["priority"] = min(max(int(task.priority), 0), 9)
    return options


class CeleryTaskAdapter(PynencTask[Any, Any]):
    """A pynenc task running a compat task with Celery's semantics (request, hooks,
    signals, ``retry``); see :mod:`pynenc_celery_compat.trace`.

    Its time limits and cancellation raise Celery's classes (each also pynenc's), so the
    task's ``except SoftTimeLimitExceeded:`` catches the soft limit and a waiter gets
    ``TimeLimitExceeded`` or ``TaskRevokedError``.
    """

    #: the signature last called through and its :func:`positional_names`
    _plain_call: tuple[Any, tuple[str, ...] | None] | None = None

    soft_timeout_error = SoftTimeLimitExceeded
    timeout_error = TimeLimitExceeded
    cancelled_error = TaskRevokedError

    @classmethod
    def declare(cls, pynenc_app: Pynenc, compat: Any, celery_app: Any = None) -> CeleryTaskAdapter:
        """Create and register the pynenc task of ``compat`` on ``pynenc_app``."""
        fun = compat.__inner_function__
        # "<locals>": defined in a function; "Class.run": a class-based task's method;
        # __main__: a script's task (named <app main>.<function>, as in Celery)
        in_process_only = "." in fun.__qualname__ or fun.__module__ == "__main__"
        kind = LocalCeleryTaskAdapter if in_process_only else cls
        adapter = kind(
            pynenc_app,
            compat.__inner_function__,
            pynenc_options(compat, celery_app, pynenc_app.conf.serializer),
            name=compat.name,
            compat=compat,
        )
        try:
            pynenc_app.register_task(adapter)
        except TaskDefinitionError:
            if pynenc_app is not _detached:
                raise
            # the process-wide app every compat task is first declared on: two Celery apps
            # may each have a task of this name (another function); neither runs from here
        return adapter

    def __init__(
        self,
        app: Pynenc,
        func: Any,
        options: dict[str, Any],
        name: str | None = None,
        compat: Any = None,
    ) -> None:
        super().__init__(app, func, options, name=name)
        if compat is None:  # made by pynenc (Task.from_id on a runner): found by name
            compat = registry.get(self.task_id.key)
        if compat is None:
            raise LookupError(f"no compat task named {self.task_id.key!r} in this process")
        self.compat: Any = compat
        if compat._compat_bound:  # bind=True: the first parameter is the task itself
            parameters = list(self.signature.parameters.values())[1:]
            self.signature = self.signature.replace(parameters=parameters)
            self._by_name = all(
                p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters
            )

    def copy_for(self, app: Pynenc) -> CeleryTaskAdapter:
        """This task declared on ``app``, running the same compat task."""
        return type(self)(app, self.func, self.options, name=self.task_id.name, compat=self.compat)

    def call_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Arguments:
        """The :class:`Arguments` of ``task.apply_async(args, kwargs)``: bound by name,
        defaults left out (the runner's ``self.request.args`` are the caller's).

        :raises TypeError: the call does not fit the function (Celery's ``typing``); with
            ``typing=False`` the call is sent and fails on the runner instead, as in Celery.
        """
        signature = self.signature
        plain = self._plain_call
        if plain is None or plain[0] is not signature:
            plain = self._plain_call = (signature, positional_names(signature))
        names = plain[1]
        if names is not None and not kwargs and len(args) == len(names):
            return Arguments(dict(zip(names, args, strict=True)))  # what bind would give
        try:
            return call_arguments(signature, args, kwargs)
        except TypeError:
            if self.compat.typing is not False:
                raise
            return Arguments({UNCHECKED_CALL: [list(args), dict(kwargs)]})

    def bind_receiving(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], receiving: int
    ) -> tuple[Arguments, tuple[str, ...]]:
        """A canvas step's stored call: received values go before its own arguments, as
        in Celery (:mod:`pynenc_celery_compat.canvas_receive`)."""
        return canvas_receive.bind_receiving(self, args, kwargs, receiving)

    def receive(
        self, kwargs: dict[str, Any], values: tuple[Any, ...], into: tuple[str, ...]
    ) -> dict[str, Any]:
        """The call a released canvas step runs: what it received first (an error
        callback's as Celery's ``(request, exc, traceback)`` or ``(task_id,)``)."""
        return canvas_receive.receive(self, kwargs, values, into)

    def run_function(self, arguments: Arguments) -> Any:
        if SKIPPED in arguments.kwargs:  # an error callback Celery would not call
            return None

        unchecked = arguments.kwargs.get(UNCHECKED_CALL)
        if unchecked is not None and len(arguments.kwargs) == 1:
            args, kwargs = list(unchecked[0]), dict(unchecked[1])
        else:
            args, kwargs = message_args(self.signature, arguments)  # as the caller split them
        return run_on_runner(self.compat, self.invocation, args, kwargs)

    def should_retry(self, exc: Exception, num_retries: int) -> bool:
        # the compat task decided already (``retry()`` / autoretry raise RetryError)
        return isinstance(exc, RetryError)

    def expected_error(self, exc: BaseException) -> bool:
        # Celery's ``throws``: an expected error fails the task, logged at INFO without
        # its traceback
        throws = self.compat.throws
        return bool(throws) and isinstance(exc, tuple(throws))


class LocalCeleryTaskAdapter(CeleryTaskAdapter):
    """The pynenc task of a compat task whose function a runner cannot import by name: one
    defined inside a function (a test's local task: runners in other processes cannot run
    it), in ``__main__`` (a script), or the ``run`` method of a class-based task
    (:func:`~pynenc_celery_compat.wrap_task`: runners find it by name among the Celery
    app's tasks)."""

    requires_importable = False
