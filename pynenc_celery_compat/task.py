"""The compat task: Celery's ``Task`` API, run by pynenc.

A compat task is an instance of a subclass of ``celery.Task`` (so ``base=`` classes written for
Celery, ``isinstance`` checks and Celery's eager tracer keep working) that also holds the
pynenc :class:`~pynenc.Task` in its instance attribute ``pynenc_task`` and the function in
``__inner_function__``: a runner importing the module finds the pynenc task there by name.

Calls go to pynenc unless the Celery app runs eagerly (``task_always_eager``: Celery's own
eager path, exactly) or the task is switched back to Celery by configuration
(:mod:`pynenc_celery_compat.routing`): then ``delay``, ``apply_async``,
``AsyncResult`` and ``retry`` are Celery's own (``super()``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from celery import current_app
from celery import result as celery_result
from celery.app import task as celery_task
from celery.app.autoretry import add_autoretry_behaviour
from celery.exceptions import DuplicateTaskNameWarning, ImproperlyConfigured, Retry
from celery.local import class_property
from celery.utils.functional import head_from_fun
from celery.utils.imports import gen_task_name
from celery.utils.serialization import raise_with_context
from celery.utils.threads import LocalStack

from pynenc_celery_compat import (
    calling,
    checks,
    conf_reads,
    publish,
    registry,
    replacing,
    retrying,
    routing,
)
from pynenc_celery_compat.adapter import CeleryTaskAdapter, make_compat
from pynenc_celery_compat.beat_celery import entry_run_by_runners, sent_by_celery_beat
from pynenc_celery_compat.bridge import pynenc_app_for
from pynenc_celery_compat.eager import ensure_runner, wants_runner
from pynenc_celery_compat.on_commit import django_on_commit
from pynenc_celery_compat.result import AsyncResult
from pynenc_celery_compat.time_limits import check_time_limits

if TYPE_CHECKING:
    from pynenc import Pynenc

#: set while Celery's own ``retry`` re-publishes a request a Celery worker runs: the retry
#: goes back to Celery (its caller waits on Celery's result backend), whatever the routing
_celery_retry: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pynenc_celery_compat_celery_retry", default=False
)


class Task(celery_task.Task):  # type: ignore[misc]
    """Celery's task class, calling through pynenc (see the module docs).

    Subclass it as you would subclass ``celery.Task`` (``base=`` accepts either: a
    ``celery.Task`` subclass that is not this class is combined with it).
    """

    #: pynenc's task (set on every instance when the task is created)
    pynenc_task: CeleryTaskAdapter
    #: the decorated function (pynenc's wrapper convention)
    __inner_function__: Callable[..., Any]
    #: whether the task wraps a function whose first parameter is the task (``bind=True``)
    _compat_bound: ClassVar[bool] = False
    #: made by ``shared_task``: it follows the current Celery app (Celery's shared tasks do)
    _compat_shared: ClassVar[bool] = False

    # -- the app -------------------------------------------------------------------------

    @classmethod
    def _get_app(cls) -> Any:
        if cls._compat_shared:
            return registry.follow_current_app(cls)
        return super()._get_app()

    @classmethod
    def bind(cls, app: Any) -> Any:
        if cls._compat_shared:  # settings of the app it was bound to before do not stay
            registry.forget_app_settings(cls)
        return super().bind(app)

    app = class_property(_get_app, bind)

    # -- calling -------------------------------------------------------------------------

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """``apply_async(args, kwargs)``: star arguments, no options."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        """Send the task (Celery's signature and options); returns an :class:`AsyncResult`.

        Eager apps (``task_always_eager``) and tasks switched back to Celery take Celery's own
        path; everything else is registered and published by pynenc (an eager app opted into
        the in-process runner too: :mod:`pynenc_celery_compat.eager`).
        """
        app = self._get_app()
        eager = conf_reads.read(app, "task_always_eager")  # app.conf's value, read cheaply
        if isinstance(eager, str) and eager:  # "" reads false, as meant
            raise ImproperlyConfigured(
                f"the setting task_always_eager (CELERY_TASK_ALWAYS_EAGER) is the string "
                f"{eager!r}, which Python reads as true: every call would run inline in the "
                "caller, in production too. Set it to True or False (from an environment "
                "variable: os.environ.get('NAME', '').lower() in ('1', 'true'))"
            )
        if (
            (eager and not wants_runner(app))
            or routing.routed_to_celery(self, app)
            or _celery_retry.get()
        ):
            return super().apply_async(
                args, kwargs, task_id, producer, link, link_error, shadow, **options
            )
        if eager:  # opted into the in-process runner (pynenc_celery_compat.eager)
            ensure_runner(app, self)
        elif (
            options
            and sent_by_celery_beat(options)
            and entry_run_by_runners(self, app, args, kwargs) is not None
        ):
            return None  # celery beat left running: the runners run that entry already
        check_time_limits(self.soft_time_limit, self.time_limit, "task")
        if options:
            check_time_limits(options.get("soft_time_limit"), options.get("time_limit"), "call")
            if self.expires is not None and "expires" not in options:
                options["expires"] = self.expires
        elif self.expires is not None:
            options = {"expires": self.expires}
        return calling.send(self, app, args, kwargs, task_id, link, link_error, options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(*args, **kwargs)`` once the current Django database transaction commits
        (at once outside a transaction), as Celery's ``DjangoTask``; returns ``None``."""
        django_on_commit(functools.partial(self.delay, *args, **kwargs))

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``apply_async(*args, **kwargs)`` once the current Django transaction commits
        (see :meth:`delay_on_commit`); returns ``None``."""
        django_on_commit(functools.partial(self.apply_async, *args, **kwargs))

    # -- canvas (pynenc_celery_compat.canvas) --------------------------------------------

    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any:
        """A signature of this task (``s``/``si`` build one too): this package's
        ``Signature``, so ``a.s() | b.s()`` is a chain that runs on pynenc."""
        from pynenc_celery_compat.canvas import signature

        starkwargs.setdefault("app", self.app)
        return signature(self, args, *starargs, **starkwargs)

    subtask = signature

    def map(self, it: Any) -> Any:
        """One call running this task inline on each item, in order (Celery's ``xmap``)."""
        from pynenc_celery_compat.canvas import xmap

        return xmap(self.s(), it, app=self.app)

    def starmap(self, it: Any) -> Any:
        """One call running ``task(*item)`` for each item, in order (``xstarmap``)."""
        from pynenc_celery_compat.canvas import xstarmap

        return xstarmap(self.s(), it, app=self.app)

    def chunks(self, it: Any, n: int) -> Any:
        """The items in parts of ``n``, one starmap call per part; ``apply_async()``
        returns a ``GroupResult`` whose ``get()`` is a list of lists."""
        from pynenc_celery_compat.canvas import chunks

        return chunks(self.s(), it, n, app=self.app)

    def apply(self, args: Any = None, kwargs: Any = None, *more: Any, **options: Any) -> Any:
        """Run the task here and now through Celery's tracer (Celery's ``apply``): signals
        fire, retries run at once; returns an ``EagerResult``."""
        registry.register_on(self._get_app(), self)
        return super().apply(args, kwargs, *more, **options)

    def AsyncResult(self, task_id: str, **kwargs: Any) -> Any:
        """The result of ``task_id`` (pynenc's, or Celery's for a task switched back)."""
        app = self._get_app()
        if routing.routed_to_celery(self, app):
            # Celery's class on Celery's backend (``app.AsyncResult`` may be ours)
            return celery_result.AsyncResult(
                task_id, backend=self.backend, task_name=self.name, app=app, **kwargs
            )
        return AsyncResult(task_id, app=app, task_name=self.name, **kwargs)

    # -- inside the task -----------------------------------------------------------------

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: Any = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        """Retry the running invocation with Celery's rules: ``retries + 1``, the given
        ``args``/``kwargs`` (else the running call's), ``countdown``/``eta`` (else
        ``default_retry_delay``).

        Past ``max_retries`` it raises ``exc`` when given, else ``MaxRetriesExceededError``
        (``throw=False`` too). ``throw=True`` raises ``Retry``: pynenc retries the same
        invocation (same id) with those arguments. ``throw=False`` sends the retry as a new
        call of the task (a new id) and returns ``Retry``
        (:mod:`pynenc_celery_compat.retrying`). Outside a pynenc runner (eager, called
        directly, a Celery worker) Celery's own ``retry`` runs.
        """
        request = self.request
        invocation = getattr(request, "pynenc_invocation", None)
        if invocation is None:  # eager, called directly, or a Celery worker's request
            token = _celery_retry.set(True)
            try:
                return super().retry(
                    args, kwargs, exc, throw, eta, countdown, max_retries, **options
                )
            finally:
                _celery_retry.reset(token)
        new_args, new_kwargs = retrying.retry_call(self, request, args, kwargs)
        limit = self.max_retries if max_retries is None else max_retries
        if limit is not None and request.retries + 1 > limit:
            if exc is not None:
                raise_with_context(exc)
            raise self.MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{new_args} kwargs:{new_kwargs}",
                task_args=new_args,
                task_kwargs=new_kwargs,
            )
        if not eta and countdown is None:
            countdown = self.default_retry_delay
        if not throw:
            sent = retrying.retry_as_call(
                self, request, new_args, new_kwargs, eta, countdown, options
            )
            signal = Retry(exc=exc, when=eta or countdown, sig=self.signature(new_args, new_kwargs))
            signal.pynenc_result = sent  # the new call's AsyncResult (None: never sent)
            return signal
        signal = Retry(exc=exc, when=eta or countdown)
        signal.pynenc_delay = calling.retry_delay(eta, countdown, self.default_retry_delay)
        if (args is not None or kwargs is not None) and (
            list(new_args) != list(request.args or ()) or new_kwargs != (request.kwargs or {})
        ):
            signal.pynenc_arguments = retrying.stored_arguments(
                self, invocation, new_args, new_kwargs
            )
        if publish.wanted():  # Celery publishes the retry: its signals fire
            publish.announce_retry(self, request, eta, countdown, new_args, new_kwargs)
        raise signal

    def replace(self, sig: Any) -> Any:
        """Celery's ``replace`` outside a pynenc runner (eager, a Celery worker); refused on
        one (:mod:`pynenc_celery_compat.replacing`)."""
        if getattr(self.request, "pynenc_invocation", None) is None:
            return super().replace(sig)
        raise replacing.refused(self, sig)

    def update_state(
        self,
        task_id: str | None = None,
        state: str | None = None,
        meta: Any = None,
        **kwargs: Any,
    ) -> None:
        """Record a custom state (``PROGRESS``, …) and its ``meta``: ``AsyncResult.state`` /
        ``.info`` show them while the task runs."""
        request = self.request
        invocation = getattr(request, "pynenc_invocation", None)
        if invocation is not None and (task_id is None or task_id == request.id):
            invocation.set_progress(state or "PENDING", meta)
            return
        if task_id is not None and not request.is_eager and invocation is None:
            pynenc_app = pynenc_app_for(self._get_app())
            from pynenc.invocation.progress import publish

            publish(pynenc_app.state_backend, task_id, state or "PENDING", meta)
            return
        super().update_state(task_id, state, meta, **kwargs)

    # -- pynenc -------------------------------------------------------------------------

    def pynenc_task_for(self, pynenc_app: Pynenc) -> CeleryTaskAdapter:
        """This task's pynenc task on ``pynenc_app`` (made there on first use)."""
        found = pynenc_app.tasks.get(self.name)
        if isinstance(found, CeleryTaskAdapter):
            return found
        if not registry.made_here(self):
            raise TypeError(
                f"{self.name} was made by Celery's own decorator (it keeps Celery's path, see "
                "pynenc_celery_compat.registry.made_here); to run it on pynenc, decorate it "
                "with pynenc_celery_compat's shared_task/app.task, or call wrap_task() on it"
            )
        return CeleryTaskAdapter.declare(pynenc_app, self, self._get_app())


def _existing(fun: Callable[..., Any], app: Any, name: str) -> Task | None:
    """The compat task already declared under ``name`` (in ``app``'s registry, or shared),
    as Celery keeps the first task of a name; a different function warns as Celery does."""
    found = app._tasks.get(name) if app is not None else registry.get(name)
    if (
        not isinstance(found, Task)
        or not registry.made_here(found)  # made by Celery's own decorator
        or (app is None and not found._compat_shared)
    ):
        return None
    existing = getattr(found, "_decorated_fun", None)
    if existing is not None and existing is not fun:
        warnings.warn(
            DuplicateTaskNameWarning(
                f"Task name {name!r} is already taken by {existing.__module__}."
                f"{existing.__qualname__}; {fun.__module__}.{fun.__qualname__} was not "
                "registered, and calls under this name reach the first one. Give one of "
                "them another name= ."
            ),
            stacklevel=4,
        )
    return found


def build_task(
    fun: Callable[..., Any],
    app: Any = None,
    *,
    name: str | None = None,
    base: type | None = None,
    bind: bool = False,
    **options: Any,
) -> Task:
    """A compat task for ``fun`` (what ``@shared_task`` and ``@app.task`` return)."""
    if isinstance(fun, celery_task.Task):
        raise TypeError(
            f"{fun!r} is already a task: the task decorator was applied more than once to "
            "the same function. Remove the extra decorator."
        )
    if not callable(fun):
        raise TypeError(f"the task decorator takes a function, got {fun!r}")
    checks.task_function(fun)
    checks.task_options(fun, options)
    if options.get("pydantic"):
        raise NotImplementedError(
            f"{fun.__qualname__}: pydantic=True (argument models validated and dumped) is "
            "not supported by pynenc_celery_compat; pass plain JSON values, or route the "
            "task to Celery (setting pynenc_celery_tasks)"
        )
    naming_app = app if app is not None else current_app
    name = name or gen_task_name(naming_app, fun.__name__, fun.__module__)
    existing = _existing(fun, app, name)
    if existing is not None:
        return existing
    run = fun if bind else staticmethod(fun)
    attributes: dict[str, Any] = {
        "name": name,
        "run": run,
        "_decorated": True,
        "_compat_bound": bind,
        "_compat_shared": app is None,
        "__doc__": fun.__doc__,
        "__module__": fun.__module__,
        "__annotations__": inspect.get_annotations(fun),
        "__header__": staticmethod(head_from_fun(fun, bound=bind)),
        "__wrapped__": run,
        "_decorated_fun": staticmethod(fun),
        "request_stack": LocalStack(),
        **options,
    }
    if app is not None:
        attributes["app"] = app
    bases: tuple[type, ...] = (compat_base(base),)
    if _defines_call(bases[0]):
        bases = (*bases, RunnerCall)  # a base's own __call__ wraps each run (Celery's too)
    task_class = type(fun.__name__, bases, attributes)
    task: Task = task_class()
    with contextlib.suppress(AttributeError):  # some callables refuse it
        task.__qualname__ = fun.__qualname__
    if app is not None:
        task.bind(app)
    add_autoretry_behaviour(task, **options)
    make_compat(task, fun)
    return task


def _defines_call(cls: type) -> bool:
    """Whether a class of ``cls``'s hierarchy above Celery's ``Task`` defines ``__call__``."""
    for node in cls.__mro__:
        if node is celery_task.Task:
            return False
        if "__call__" in node.__dict__:
            return True
    return False


class RunnerCall(celery_task.Task):  # type: ignore[misc]
    """Put under a ``base=`` class that defines ``__call__`` (Flask's ``ContextTask``):
    when that ``__call__`` calls ``super().__call__`` on a pynenc runner, the runner's
    request is kept and the body runs under it (Celery's worker patches ``Task.__call__``
    to the same effect). Elsewhere (a direct call, eager mode) Celery's ``__call__`` runs.

    Only such tasks get it: a compat class defining ``__call__`` would make Celery's
    tracer call every eager task through it.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stack = self.request_stack
        top = stack.top
        if (
            top is not None
            and len(stack) == 1
            and getattr(top, "pynenc_invocation", None) is not None
            and not top._protected
        ):
            top._protected = 1
            return self.run(*args, **kwargs)
        return super().__call__(*args, **kwargs)


_combined: dict[type, type] = {}


def compat_base(base: type | None) -> type:
    """``base`` as a compat task class: itself when it already is one, otherwise a class
    deriving from it and from :class:`Task` (its methods and attributes win)."""
    if base is None:
        return Task
    if not (isinstance(base, type) and issubclass(base, celery_task.Task)):
        raise TypeError(f"base= must be a celery.Task subclass, got {base!r}")
    if issubclass(base, Task):
        return base
    combined = _combined.get(base)
    if combined is None:
        combined = type(base.__name__, (base, Task), {"__module__": base.__module__})
        _combined[base] = combined
    return combined


def shared_task(*args: Any, **options: Any) -> Any:
    """Celery's ``shared_task``: a task of whichever Celery app is current when it is used.

    Bare (``@shared_task``) or with options (``@shared_task(bind=True, max_retries=5)``);
    every option becomes an attribute of the task, as in Celery.
    """

    def decorate(fun: Callable[..., Any]) -> Task:
        task = build_task(fun, **options)
        if not vars(task).get("_compat_sharing"):  # not a task declared before
            task._compat_sharing = True
            registry.share(task)
        return task

    if len(args) == 1 and callable(args[0]) and not options:
        return decorate(args[0])
    if args:
        raise TypeError("argument 1 to @shared_task() must be a callable")
    return decorate


__all__ = ["Task", "build_task", "compat_base", "shared_task"]
