"""The application: configuration, the task registry and lazily built components."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, NamedTuple, overload

from pynenc.broker.kombu_broker import KombuBroker
from pynenc.client_data_store import ClientDataStore
from pynenc.conf import AppConfig
from pynenc.conf.option import InvalidValue, OptionTable, import_object
from pynenc.conf.serializers import not_accepted
from pynenc.exceptions import ConfigError, SerializationError, TaskDefinitionError
from pynenc.hooks import Hooks
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.logs import apply_logging_level
from pynenc.orchestrator import Orchestrator
from pynenc.runner import BackgroundRunner, BaseRunner, create_runner
from pynenc.runner.execution import resolve_task
from pynenc.serializer import Serializer, get_serializer
from pynenc.state_backend import StateBackend, create_state_backend
from pynenc.task import Task
from pynenc.trigger.manager import TriggerManager, refuse_triggers
from pynenc.types import Func, Params, Result
from pynenc.workflow.manager import Workflows


class Purged(NamedTuple):
    """What :meth:`Pynenc.purge` dropped."""

    messages: int  #: queued messages
    invocations: int  #: stored invocations (records and histories)


class Pynenc:
    """A pynenc application.

    ``Pynenc()`` with no configuration is the embedded default: kombu ``memory://``
    broker, in-memory state and a thread runner, all in this process.

    :param config_values: option values (highest source after the environment).
    :param config_filepath: a YAML, TOML or JSON file of option values.
    :param app_id: shorthand for ``config_values={"app_id": ...}`` (so the environment,
        ``PYNENC__APP_ID``, can still override it per deployment).
    """

    def __init__(
        self,
        config_values: dict[str, Any] | None = None,
        config_filepath: str | None = None,
        *,
        app_id: str | None = None,
    ) -> None:
        if app_id is not None:
            config_values = {**(config_values or {}), "app_id": app_id}
        self.conf = AppConfig(config_values, config_filepath)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self._task_class: tuple[type | str, type[Task[Any, Any]]] | None = None
        #: ``module:attribute`` where this app can be imported (for spawned workers);
        #: found by :func:`pynenc.runner.reference.app_reference` when not set.
        self.reference: str | None = None
        #: handlers called around publishing, running and runners (see :mod:`pynenc.hooks`)
        self.hooks = Hooks()
        #: the triggers of this app's tasks, events, and the pass runners run
        self.trigger = TriggerManager(self)
        apply_logging_level(self.conf)

    @property
    def app_id(self) -> str:
        return self.conf.app_id

    def __repr__(self) -> str:
        return f"Pynenc(app_id={self.app_id!r})"

    # -- components, built on first use ------------------------------------------------------

    @property
    def serializer(self) -> Serializer:
        """The serializer named by the option ``serializer``, looked up on each use (a
        serializer may be registered after the configuration is read).

        :raises ConfigError: no serializer is registered under that name (all are listed).
        """
        try:
            return get_serializer(self.conf.serializer)
        except ConfigError as exc:
            source = self.conf.source_of("serializer")
            raise ConfigError(f"{exc} (serializer {self.conf.serializer!r} from {source})") from exc

    def serializer_for(self, name: str | None, what: str = "The data") -> Serializer:
        """The serializer that decodes what was encoded with serializer ``name`` (a
        record's or a message's; ``None``: the app's own), if this app accepts it
        (``what``: the data, for the error).

        :raises SerializationError: ``name`` is neither ``serializer`` nor listed in
            ``accept_serializers`` (the message names the option).
        :raises ConfigError: no serializer is registered under that name.
        """
        conf = self.conf
        if name is None or name == conf.serializer:
            return self.serializer
        if name not in conf.accept_serializers:
            raise SerializationError(
                not_accepted(name, what, conf.serializer, conf.accept_serializers)
            )
        return get_serializer(name)

    @cached_property
    def state_backend(self) -> StateBackend:
        conf = self.conf
        return create_state_backend(
            conf.state_backend_url, self.app_id, conf.state_backend_connect_timeout
        )

    @cached_property
    def broker(self) -> KombuBroker:
        return KombuBroker(
            self.conf.broker_url,
            self.app_id,
            self.conf.broker.transport_options,
            self.conf.broker.publish_retries,
            self.conf.broker.max_message_bytes,
            self.conf.broker.signing_keys,
        )

    @cached_property
    def orchestrator(self) -> Orchestrator:
        return Orchestrator(self)

    @cached_property
    def workflows(self) -> Workflows:
        """The app's workflows seen from outside: ``get``, ``list``, ``resume``, ``cancel``
        (see ``docs/workflows.md``)."""
        return Workflows(self)

    @cached_property
    def client_data_store(self) -> ClientDataStore:
        """Large arguments and results, stored once by content (see the module)."""
        return ClientDataStore(self)

    @cached_property
    def runner(self) -> BaseRunner:
        """The runner named by ``runner_cls`` (a :class:`ThreadRunner` by default)."""
        return create_runner(self, self.conf.runner_cls)

    def running_in_background(
        self, start_timeout: float = 30.0, stop_timeout: float | None = None
    ) -> BackgroundRunner:
        """The app's runner in a background thread, for a ``with`` block::

            with app.running_in_background():
                report = generate_report("Q1-2025")

        The block starts once the runner consumes; leaving it (even by an exception) stops
        the runner gracefully and waits for it. See :class:`BackgroundRunner`.

        :raises RunnerError: on entry, the runner failed to start or is already running
            in the background; on exit, it crashed or did not stop within ``stop_timeout``.
        """
        return BackgroundRunner(self.runner, start_timeout, stop_timeout)

    _COMPONENTS = ("state_backend", "broker", "orchestrator", "runner", "client_data_store")

    def reset_components(self) -> None:
        """Forget the built components so they are rebuilt on next use.

        For a forked child process: it must open its own connections, never use the
        parent's. The old objects are dropped, not closed (closing could talk over
        sockets the parent still uses).
        """
        for name in self._COMPONENTS:
            self.__dict__.pop(name, None)

    # -- tasks -------------------------------------------------------------------------------

    @property
    def task_class(self) -> type[Task[Any, Any]]:
        """The class of this app's tasks: the option ``task_cls`` (``pynenc.task.Task``
        unless a layer sets its subclass), imported on first use.

        :raises ConfigError: it cannot be imported or is not a ``Task`` subclass.
        """
        value = self.conf.task_cls
        cached = self._task_class
        if cached is not None and cached[0] == value:
            return cached[1]
        source = self.conf.source_of("task_cls")
        cls = resolve_task_class(value, f"task_cls (from {source})")
        self._task_class = (value, cls)
        return cls

    def task_class_options(self) -> OptionTable | None:
        """The task options that the app's ``task_cls`` declares (``extra_options``)."""
        return self.task_class.extra_options

    def create_task(
        self,
        func: Func[Params, Result],
        options: dict[str, Any],
        *,
        name: str | None = None,
        task_cls: type[Task[Any, Any]] | str | None = None,
    ) -> Task[Params, Result]:
        """Declare and register a task of ``func``: what the decorators do.

        :param name: the task's key, instead of ``module.function``; unique in the app.
        :param task_cls: a ``Task`` subclass (or its import path) instead of the app's
            ``task_cls``.
        :raises TaskDefinitionError: ``name`` is invalid or taken by another function.
        :raises ConfigError: ``task_cls`` is not a ``Task`` subclass, or an option is wrong.
        """
        if task_cls is None:
            cls = self.task_class
        else:
            cls = resolve_task_class(task_cls, "the task_cls argument of the task decorator")
        triggers = None
        if "triggers" in options:  # not a task option: the trigger manager holds them
            options = dict(options)
            triggers = options.pop("triggers")
        task: Task[Params, Result] = cls(self, func, options, name=name)
        if triggers is not None:
            self.trigger.register(task, triggers)  # checked before the task is registered
        self.register_task(task)
        return task

    def register_task(self, task: Task[Any, Any]) -> None:
        """Register ``task`` under its key (replacing a task of the same function).

        :raises TaskDefinitionError: another function is registered under that key.
        """
        key = task.task_id.key
        existing = self.tasks.get(key)
        if existing is not None and _where(existing.func) != _where(task.func):
            raise TaskDefinitionError(
                f"Task name {key!r} is already taken on app {self.app_id!r} by "
                f"{_where(existing.func)}, so {_where(task.func)} cannot be registered under "
                "it too: task names are unique per app. Give one of them another name "
                "(@app.task(name=...))."
            )
        self.tasks[key] = task

    def get_task(self, task_id: str) -> Task[Any, Any] | None:
        """The registered task with key ``task_id`` (``module.function`` or its name), or
        ``None``."""
        return self.tasks.get(str(task_id))

    @overload
    def task(self, func: Func[Params, Result], /) -> Task[Params, Result]: ...

    @overload
    def task(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        task_cls: type[Task[Any, Any]] | str | None = None,
        **options: Any,
    ) -> Callable[[Func[Params, Result]], Task[Params, Result]]: ...

    def task(
        self,
        func: Any = None,
        /,
        *,
        name: str | None = None,
        task_cls: type[Task[Any, Any]] | str | None = None,
        **options: Any,
    ) -> Any:
        """Decorator: ``@app.task`` or ``@app.task(max_retries=3, ...)``; calls return
        invocations. ``name=`` gives the task a key other than ``module.function``;
        ``task_cls=`` a class other than the app's ``task_cls``."""

        def decorate(f: Func[Params, Result]) -> Task[Params, Result]:
            return self.create_task(f, options, name=name, task_cls=task_cls)

        return decorate(func) if func is not None else decorate

    def direct_task(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        parallel_func: Callable[[dict[str, Any]], Any] | None = None,
        aggregate_func: Callable[[list[Any]], Any] | None = None,
        name: str | None = None,
        task_cls: type[Task[Any, Any]] | str | None = None,
        **options: Any,
    ) -> Any:
        """Decorator that distributes a function but keeps its contract: the call returns
        the value, raises the task's exception, and ``async def`` gives an awaitable.
        ``name=`` and ``task_cls=`` as for :meth:`task`."""
        from pynenc.direct_task import make_direct_task

        if "triggers" in options:
            raise refuse_triggers("@app.direct_task")

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            task = self.create_task(f, options, name=name, task_cls=task_cls)
            return make_direct_task(task, parallel_func, aggregate_func)

        return decorate(func) if func is not None else decorate

    def invocation(self, invocation_id: str) -> DistributedInvocation[Any, Any]:
        """A handle on invocation ``invocation_id`` from its id alone (made in another
        process, or looked up by id for its result), built from one read of its record::

            invocation = app.invocation(invocation_id)
            invocation.status, invocation.get_result(timeout=10)

        Status, history, retries and result work as on the handle a call returns, even
        where the task cannot be resolved (results decode without it). The task is
        resolved (registered, else imported as a runner would) and the arguments decoded
        only when ``.task`` / ``.arguments`` are read.

        :raises InvocationNotFoundError: this app's state backend has no such invocation
            (never registered with this app, purged, or lost); the error names the app and
            the backend.
        :raises TypeError: ``invocation_id`` is not a string (``ValueError``: empty).
        """
        if not isinstance(invocation_id, str) or not invocation_id:
            error = ValueError if isinstance(invocation_id, str) else TypeError
            raise error(
                f"app.invocation({invocation_id!r}): an invocation id is a non-empty string "
                "(an invocation's .invocation_id)"
            )
        return DistributedInvocation.from_record(self, self.orchestrator.get_record(invocation_id))

    def resolve_task(self, task_key: str) -> Task[Any, Any]:
        """The task with key ``task_key`` (``module.function`` or a declared name) as a
        runner finds it: the registered one, else one found by importing the modules this
        app declares (its own module, its tasks' modules, ``task_modules``); no other
        module is imported.

        :raises TaskNotFoundError: naming the module and how to declare it.
        """
        return resolve_task(self, task_key)

    def purge(self) -> Purged:
        """Drop every queued message and stored invocation of this app; says how many.

        Messages already delivered to a runner are not in a queue: they are not dropped, but
        their invocations no longer exist, so runners skip them.
        """
        from pynenc.workflow.identity import forget_known

        queues = {task.conf.queue for task in self.tasks.values()} | {"default"}
        messages = self.broker.purge(sorted(queues))
        purged = Purged(messages, self.state_backend.purge())
        forget_known(self.state_backend)  # its ids may name other invocations next
        return purged


def _where(func: Callable[..., Any]) -> str:
    """``module.qualname`` of a task's function: the same function, even reloaded."""
    return f"{func.__module__}.{func.__qualname__}"


def resolve_task_class(value: type | str, where: str) -> type[Task[Any, Any]]:
    """The ``Task`` subclass that ``value`` is or names (``module:Class``, ``module.Class``).

    :raises ConfigError: naming ``where`` the value came from, when it cannot be imported or
        is not a ``Task`` subclass.
    """
    cls: Any = value
    if isinstance(value, str):
        try:
            cls = import_object(value)
        except InvalidValue as exc:
            raise ConfigError(
                f"{where} must name a Task subclass: {exc}. If the class is defined in the "
                "module that declares the tasks, define it before the first of them."
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ConfigError(
            f"{where} must be a subclass of pynenc.task.Task (a class, or its import path "
            f"'module:Class'), got {cls!r}"
        )
    return cls
