"""The application: configuration, the task registry and lazily built components."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, NamedTuple, overload

from pynenc.broker.kombu_broker import KombuBroker
from pynenc.conf import AppConfig
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.logs import apply_logging_level
from pynenc.orchestrator import Orchestrator
from pynenc.runner import BackgroundRunner, BaseRunner, create_runner
from pynenc.runner.execution import resolve_task
from pynenc.serializer import Serializer, get_serializer
from pynenc.state_backend import StateBackend, create_state_backend
from pynenc.task import Task
from pynenc.types import Func, Params, Result


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
        #: ``module:attribute`` where this app can be imported (for spawned workers);
        #: found by :func:`pynenc.runner.reference.app_reference` when not set.
        self.reference: str | None = None
        apply_logging_level(self.conf)

    @property
    def app_id(self) -> str:
        return self.conf.app_id

    def __repr__(self) -> str:
        return f"Pynenc(app_id={self.app_id!r})"

    # -- components, built on first use ------------------------------------------------------

    @property
    def serializer(self) -> Serializer:
        return get_serializer(self.conf.serializer)

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

    _COMPONENTS = ("state_backend", "broker", "orchestrator", "runner")

    def reset_components(self) -> None:
        """Forget the built components so they are rebuilt on next use.

        For a forked child process: it must open its own connections, never use the
        parent's. The old objects are dropped, not closed (closing could talk over
        sockets the parent still uses).
        """
        for name in self._COMPONENTS:
            self.__dict__.pop(name, None)

    # -- tasks -------------------------------------------------------------------------------

    def register_task(self, task: Task[Any, Any]) -> None:
        self.tasks[task.task_id.key] = task

    def get_task(self, task_id: str) -> Task[Any, Any] | None:
        """The registered task with id ``module.function``, or ``None``."""
        return self.tasks.get(str(task_id))

    @overload
    def task(self, func: Func[Params, Result], /) -> Task[Params, Result]: ...

    @overload
    def task(
        self, func: None = None, /, **options: Any
    ) -> Callable[[Func[Params, Result]], Task[Params, Result]]: ...

    def task(self, func: Any = None, /, **options: Any) -> Any:
        """Decorator: ``@app.task`` or ``@app.task(max_retries=3, ...)``; calls return
        invocations."""

        def decorate(f: Func[Params, Result]) -> Task[Params, Result]:
            task: Task[Params, Result] = Task(self, f, options)
            self.register_task(task)
            return task

        return decorate(func) if func is not None else decorate

    def direct_task(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        parallel_func: Callable[[dict[str, Any]], Any] | None = None,
        aggregate_func: Callable[[list[Any]], Any] | None = None,
        **options: Any,
    ) -> Any:
        """Decorator that distributes a function but keeps its contract: the call returns
        the value, raises the task's exception, and ``async def`` gives an awaitable."""
        from pynenc.direct_task import make_direct_task

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            return make_direct_task(self, f, options, parallel_func, aggregate_func)

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
        """The task with id ``task_key`` (``module.function``) as a runner finds it: the
        registered one, else imported from a module this app declares (its own module,
        its tasks' modules, ``task_modules``); no other module is imported.

        :raises TaskNotFoundError: naming the module and how to declare it.
        """
        return resolve_task(self, task_key)

    def purge(self) -> Purged:
        """Drop every queued message and stored invocation of this app; says how many.

        Messages already delivered to a runner are not in a queue: they are not dropped, but
        their invocations no longer exist, so runners skip them.
        """
        queues = {task.conf.queue for task in self.tasks.values()} | {"default"}
        messages = self.broker.purge(sorted(queues))
        return Purged(messages, self.state_backend.purge())
