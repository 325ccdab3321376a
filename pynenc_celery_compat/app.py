"""``Celery``: Celery's application class whose tasks run on pynenc.

Configuration is Celery's own (``conf`` with lower-case, old upper-case and Django
``CELERY_`` names, ``config_from_object``, ``autodiscover_tasks``, ``set_current``/
``set_default``); the settings map onto the pynenc app behind it (``.pynenc``; see
:mod:`pynenc_celery_compat.config`). Tasks made by :meth:`Celery.task` and classes given to
:meth:`Celery.register_task` are compat tasks; ``send_task`` and ``control.revoke`` go
through pynenc.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import celery
from celery import result as celery_result
from celery.exceptions import NotRegistered

from pynenc import Pynenc
from pynenc_celery_compat import class_tasks, registry
from pynenc_celery_compat.bridge import _ATTRIBUTE, pynenc_app_for
from pynenc_celery_compat.result import AsyncResult
from pynenc_celery_compat.routing import routed_to_celery
from pynenc_celery_compat.task import Task, build_task

#: send_task options that are Celery's plumbing (no meaning for a compat task's call)
_SEND_TASK_ONLY = (
    "result_cls",
    "task_type",
    "route_name",
    "router",
    "publisher",
    "shadow",
    "replaced_task_nesting",
)


#: set while this app declares a task (``@app.task``): see :meth:`Celery._load_config`
_declaring: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pynenc_celery_compat_declaring", default=False
)


@contextlib.contextmanager
def _declaration() -> Iterator[None]:
    token = _declaring.set(True)
    try:
        yield
    finally:
        _declaring.reset(token)


class _HeldSignal:
    """Stands for ``on_after_configure`` while a declaration loads the configuration."""

    def send(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


class Celery(celery.Celery):  # type: ignore[misc]
    """A Celery app whose tasks are pynenc tasks (``Celery("proj", broker=…, backend=…)``).

    ``broker`` (``broker_url``) is the kombu URL pynenc's broker uses; ``backend``
    (``result_backend``) chooses pynenc's state backend (see ``docs/celery.md``,
    "Settings").
    """

    task_cls = "pynenc_celery_compat.task:Task"
    control_cls = "pynenc_celery_compat.control:Control"

    def __init__(self, main: str | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("task_cls", Task)
        super().__init__(main, *args, **kwargs)

    # -- configuration ---------------------------------------------------------------------

    def _load_config(self) -> Any:
        """Celery's, except inside a task declaration: ``on_after_configure`` is then sent
        at the next read of ``conf`` once the declaration is over.

        Celery declares ``@app.task`` lazily, so the configuration is read (and
        ``on_after_configure`` sent) once the app is used; this package binds a task to
        its app at once, which reads the configuration in the middle of a module's task
        definitions. Celery's documented idiom, a handler calling
        ``sender.add_periodic_task(10.0, test.s("hi"))`` for a ``test`` defined below it,
        would then run before ``test`` exists.
        """
        if not _declaring.get():
            return super()._load_config()
        signal: Any = self.__dict__["on_after_configure"]  # Celery's Signal, set in __init__
        self.on_after_configure = _HeldSignal()
        try:
            loaded = super()._load_config()
        finally:
            self.on_after_configure = signal
        self._compat_after_configure_held = True
        return loaded

    #: set (on the instance) while ``on_after_configure`` waits: see :meth:`_load_config`
    _compat_after_configure_held = False

    @property
    def conf(self) -> Any:
        """Current configuration (Celery's ``conf``, whose body this repeats: the property is
        read on every call)."""
        conf: Any = self._conf  # type: ignore[has-type]  # Celery's attribute
        if conf is None:
            conf = self._conf = self._load_config()
        if self._compat_after_configure_held and not _declaring.get():
            self._send_held_after_configure(conf)
        return conf

    @conf.setter
    def conf(self, value: Any) -> None:
        self._conf = value

    def _send_held_after_configure(self, conf: Any) -> None:
        if self.__dict__.pop("_compat_after_configure_held", False):  # once, if two threads
            self.on_after_configure.send(sender=self, source=conf)

    @property
    def pynenc(self) -> Pynenc:
        """The pynenc app this app's tasks run on (built from its settings on first use,
        rebuilt when they change while none of its runners runs)."""
        return pynenc_app_for(self)

    def task(self, *args: Any, **options: Any) -> Any:
        """``@app.task`` / ``@app.task(**options)``: a compat task bound to this app."""

        def decorate(fun: Callable[..., Any]) -> Any:
            with _declaration():
                return declare(fun)

        def declare(fun: Callable[..., Any]) -> Any:
            if str(options.get("name", "")).startswith("celery."):
                # Celery's built-in tasks (backend_cleanup, chord_unlock, …) stay Celery's
                return celery.Celery.task(
                    self, fun, **{"base": celery.Task, "lazy": False, **options}
                )
            options.pop("shared", None)
            options.pop("lazy", None)
            base = options.pop("base", None) or self.Task
            task = build_task(fun, self, base=base, **options)
            registry.register_on(self, task)
            return task

        if len(args) == 1 and callable(args[0]) and not options:
            return decorate(args[0])
        if args:
            raise TypeError("argument 1 to @task() must be a callable")
        return decorate

    def _task_from_fun(
        self,
        fun: Callable[..., Any],
        name: str | None = None,
        base: type | None = None,
        bind: bool = False,
        **options: Any,
    ) -> Any:
        """Celery's own way to make an app's task from a function (``celery.shared_task``
        and ``@celery_app.task`` register theirs on every app this way): a compat task
        here, except Celery's built-in ``celery.*`` tasks and names already taken."""
        name = name or self.gen_task_name(fun.__name__, fun.__module__)
        if name.startswith("celery.") or name in self._tasks:
            return super()._task_from_fun(fun, name=name, base=base, bind=bind, **options)
        for option in ("pydantic", "pydantic_strict", "pydantic_context", "pydantic_dump_kwargs"):
            if not options.get(option):
                options.pop(option, None)
        with _declaration():
            task = build_task(fun, self, name=name, base=base or self.Task, bind=bind, **options)
        self._tasks[task.name] = task
        return task

    def register_task(self, task: Any, **options: Any) -> Any:
        """Register a class-based task (``app.register_task(MyTask())``, or the class): a
        subclass of :class:`pynenc_celery_compat.Task`, or of ``celery.Task`` (wrapped);
        returns the registered task, whose ``run`` is its body."""
        with _declaration():
            compat = class_tasks.as_compat_task(task)
            registered = super().register_task(compat, **options)
        class_tasks.declare(registered)
        bridge = self.__dict__.get(_ATTRIBUTE)
        if bridge is not None:  # runners already built: they must know it by name
            registered.pynenc_task_for(bridge.pynenc)
        return registered

    def AsyncResult(
        self, id: str, backend: Any = None, task_name: str | None = None, **kwargs: Any
    ) -> Any:
        """The result of task call ``id`` (Celery's for a task switched back to Celery)."""
        task = self._tasks.get(task_name) if task_name else None
        if task is not None and routed_to_celery(task, self):
            # Celery's class (not ``super().AsyncResult``: a cached property that would
            # replace this method on the instance)
            return celery_result.AsyncResult(
                id, backend=backend, task_name=task_name, app=self, **kwargs
            )
        return AsyncResult(id, app=self, task_name=task_name, **kwargs)

    def signature(self, *args: Any, **kwargs: Any) -> Any:
        """A signature on this app (Celery's ``app.signature``): this package's class, so
        its canvas runs on pynenc."""
        from pynenc_celery_compat.canvas import signature

        kwargs["app"] = self
        return signature(*args, **kwargs)

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        """Call the task registered as ``name`` without importing it where it is called.

        pynenc checks a call's arguments and reads its task's options where it is sent, so
        the task must be known in this process: a name not registered yet makes this app
        import its task modules first (``imports``, ``include``, ``autodiscover_tasks``).
        Celery's own ``send_task`` publishes for tasks this layer did not make, tasks
        switched back to Celery (``pynenc_celery_tasks``), Celery's ``celery.*`` tasks and
        calls from Celery's ``Task.apply_async`` (``task_type``).

        :raises NotRegistered: no task of that name, even after importing the modules.
        """
        if options.get("task_type") is None and not name.startswith("celery."):
            task = self.tasks.get(name)
            if task is None:
                self.loader.import_default_modules()
                task = self.tasks.get(name)
            if task is None:
                raise NotRegistered(
                    f"send_task({name!r}): no task of that name in this process, even after "
                    "importing the app's task modules (imports, include, autodiscover_tasks). "
                    "pynenc checks a call's arguments and reads its task's options where it is "
                    "sent: import the module that defines it (or list it in include), or send "
                    "it to Celery by listing the name in the pynenc_celery_tasks setting."
                )
            if not routed_to_celery(task, self):  # a compat task this layer made
                for option in _SEND_TASK_ONLY:
                    options.pop(option, None)
                return task.apply_async(args, kwargs, **options)
        return super().send_task(name, args, kwargs, **options)
