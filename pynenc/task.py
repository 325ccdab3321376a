"""Tasks: functions registered on an app, called to create invocations.

Also the helpers of ``Task.parallelize``: :func:`can_batch_process`,
:func:`prepare_arguments`, :func:`distribute_calls`, :func:`distribute_batch_calls`, and
:func:`_extract_task_from_wrapper`, which finds the Task inside decorator wrappers
(``direct_task``'s ``__pynenc_task__``, the Celery shim's ``pynenc_task``, …).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic

from pynenc.arguments import Arguments
from pynenc.call import Call, PreSerializedCall, submit
from pynenc.call_options import CallOptions, TaskWithOptions, run_sync
from pynenc.conf import ConcurrencyControlType, TaskConfig
from pynenc.conf.limits import check_time_limits
from pynenc.conf.option import OptionTable
from pynenc.conf.serializers import not_accepted
from pynenc.conf.task_config import task_option_table
from pynenc.context import current_invocation
from pynenc.error_classes import ERROR_CLASS_ATTRIBUTES, check_error_class
from pynenc.exceptions import (
    BrokerError,
    ConfigError,
    InvalidTaskOptionsError,
    InvocationCancelledError,
    OutsideTaskError,
    PublishVetoError,
    RetryError,
    SoftTimeoutExceeded,
    TaskDefinitionError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from pynenc.identifiers import TaskId, check_task_name
from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
from pynenc.invocation.distributed import DistributedInvocationGroup
from pynenc.invocation.sync import SyncInvocation, SyncInvocationGroup
from pynenc.orchestrator import result_cache
from pynenc.orchestrator.concurrency import ConcurrencyPolicy
from pynenc.serializer import Serializer, get_serializer, serialize_arguments
from pynenc.types import Func, Params, Result

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.compose import Sig
    from pynenc.workflow.workflow_context import WorkflowContext

ParamItem = tuple[Any, ...] | dict[str, Any] | Arguments


class Task(Generic[Params, Result]):
    """A function that pynenc can run on a runner.

    Create tasks with ``@app.task`` (or ``@app.direct_task``); calling one returns an
    invocation. Functions must be defined at module level in an importable module: a
    runner finds the function again by module and function name. A task is known by its
    key: ``module.function``, or the ``name`` it was declared with.

    A layer subclasses ``Task`` (selected by the app option ``task_cls`` or the decorator's
    ``task_cls=``) to override methods such as :meth:`run_function` or :meth:`should_retry`,
    add attributes, and declare options of its own in :attr:`extra_options`. A subclass
    keeps the constructor's signature (:meth:`copy_for` calls it).

    :raises RuntimeError: the function is defined in ``__main__``.
    :raises TaskDefinitionError: the function is not defined at module level, or ``name``
        is not a valid name.
    :raises InvalidTaskOptionsError: an option does not exist (all of them are listed).
    """

    #: Task options this class adds to pynenc's (:data:`~pynenc.conf.TASK_OPTION_NAMES`):
    #: resolved with them from every source (decorator, ``PYNENC__TASK__<TASK_KEY>__<OPTION>``,
    #: config files, defaults), listed by ``show-config``, read with ``task.conf.get(name)``.
    extra_options: ClassVar[OptionTable | None] = None

    #: What this class's invocations raise, so a layer can use its own classes (Celery's
    #: ``SoftTimeLimitExceeded``, ``TimeLimitExceeded``, ``TaskRevokedError``):
    #: ``soft_timeout_error`` inside the task past its ``soft_timeout``;
    #: ``timeout_error`` recorded past its hard ``timeout`` (waiters get it, and
    #: ``retry_for`` decides on it); ``cancelled_error`` to waiters of a cancelled
    #: invocation and from ``checkpoint()``. A subclass of pynenc's default is called
    #: with the default's arguments; any other ``Exception`` subclass with the message
    #: alone; then the default's attributes are set on it where it takes them (``limit``;
    #: ``cancelled_by``, ``cancelled_at``, ``reason``, ``invocation_id``). See
    #: :func:`pynenc.error_classes.build_error`.
    soft_timeout_error: ClassVar[type[Exception]] = SoftTimeoutExceeded
    timeout_error: ClassVar[type[Exception]] = TaskTimeoutError
    cancelled_error: ClassVar[type[Exception]] = InvocationCancelledError

    #: ``False`` lets a subclass wrap functions defined inside other functions (tests of a
    #: layer that runs them in-process only: a runner in another process cannot import them)
    requires_importable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ERROR_CLASS_ATTRIBUTES:
            check_error_class(f"{cls.__module__}.{cls.__qualname__}.{name}", getattr(cls, name))
        extra = cls.__dict__.get("extra_options")
        if extra is None:
            return
        if not isinstance(extra, OptionTable):
            raise TaskDefinitionError(
                f"{cls.__module__}.{cls.__qualname__}.extra_options must be an OptionTable "
                f"of Options (pynenc.conf.OptionTable('task', [...])), got {type(extra).__name__}"
            )
        try:
            task_option_table(extra)
        except ConfigError as exc:
            raise TaskDefinitionError(
                f"{cls.__module__}.{cls.__qualname__}.extra_options: {exc}"
            ) from None

    def __init__(
        self,
        app: Pynenc,
        func: Func[Params, Result],
        options: dict[str, Any],
        name: str | None = None,
    ) -> None:
        if self.requires_importable:
            _check_importable(func)
        self.app = app
        self.func = func
        self.options = dict(options)
        self.task_id = TaskId(func.__module__, func.__name__, check_task_name(name))
        self.validate_options()
        self.conf: TaskConfig = app.conf.task_config(
            self.task_id.key, self.options, self.extra_options, app.task_class_options
        )
        check_time_limits(self.task_id.key, self.conf.timeout, self.conf.soft_timeout)
        self.signature = inspect.signature(func)
        #: concurrency control and rate limit; ``None`` (no control): the fast path
        self.concurrency = ConcurrencyPolicy.of(
            self.task_id.key, self.conf, self.signature.parameters
        )
        #: the policy a runner asks before starting an invocation (running slots, rate
        #: limit); ``None``: it starts what it claims at once (the fast path)
        self.start_policy = (
            self.concurrency
            if self.concurrency is not None and self.concurrency.checks_at_start
            else None
        )
        if self.conf.disable_cache_args:
            result_cache.check_options(self)
        self.is_async = inspect.iscoroutinefunction(func)
        # most functions take every parameter by name: then a call needs no re-binding
        self._by_name = all(
            p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            for p in self.signature.parameters.values()
        )

    def run_function(self, arguments: Arguments) -> Any:
        """Call the function with ``arguments`` (a coroutine for ``async def``)."""
        if self._by_name:
            return self.func(**arguments.kwargs)  # type: ignore[call-arg]
        args, kwargs = arguments.to_call(self.signature)
        return self.func(*args, **kwargs)

    def validate_options(self) -> None:
        """Raise :class:`InvalidTaskOptionsError` listing every unknown option."""
        table = task_option_table(self.extra_options)
        invalid = [name for name in self.options if name not in table]
        if invalid:
            raise InvalidTaskOptionsError(self.task_id.key, invalid, sorted(table.names))

    @property
    def serializer(self) -> Serializer:
        """The serializer of this task's arguments and results: its option ``serializer``,
        else the app's (the fast path: nothing is checked).

        :raises ConfigError: the app does not accept the task's serializer (option
            ``accept_serializers``), or no serializer has that name.
        """
        name = self.conf.serializer
        if name is None:
            return self.app.serializer
        conf = self.app.conf
        if name == conf.serializer:
            return self.app.serializer
        if name not in conf.accept_serializers:
            what = f"Task {self.task_id.key!r} (task option serializer)"
            raise ConfigError(not_accepted(name, what, conf.serializer, conf.accept_serializers))
        try:
            return get_serializer(name)
        except ConfigError as exc:
            raise ConfigError(
                f"Task {self.task_id.key!r}, option serializer "
                f"(from {self.conf.source_of('serializer')}): {exc}"
            ) from None

    @property
    def logger(self) -> logging.Logger:
        """The task's logger, ``pynenc.task.<module>.<name>``."""
        return logging.getLogger(f"pynenc.task.{self.task_id.key}")

    @property
    def invocation(self) -> BaseInvocation[Params, Result]:
        """The invocation of this task currently running in this thread."""
        invocation = current_invocation.get()
        if invocation is None or invocation.task.task_id != self.task_id:
            raise OutsideTaskError(
                f"{self.task_id}.invocation is only available while the task is running "
                "(inside its function, on a runner or in dev sync mode)."
            )
        return invocation

    @property
    def wf(self) -> WorkflowContext:
        """The workflow of the invocation of this task running in this thread: durable
        state, deterministic values and child calls, pause/resume, continue-as-new (see
        :class:`~pynenc.workflow.workflow_context.WorkflowContext` and ``docs/workflows.md``).

        :raises NotInWorkflowError: no invocation of this task is running here.
        """
        return self.app.workflows.context(self)  # the app's, as triggers are: no import

    @cached_property
    def retriable_exceptions(self) -> tuple[type[Exception], ...]:
        """Exceptions that trigger a retry: ``retry_for`` plus, always, ``RetryError``."""
        return (*self.conf.retry_for, RetryError)

    def should_retry(self, exc: Exception, num_retries: int) -> bool:
        """Whether ``exc``, after ``num_retries`` retries, earns another try."""
        return num_retries < self.conf.max_retries and isinstance(exc, self.retriable_exceptions)

    def expected_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is an error the task is expected to raise (a layer's "throws"):
        its failure is logged at INFO, without a traceback. pynenc's tasks expect none."""
        return False

    # -- identity and pickling -------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        task_id = self.task_id
        return {"task_id": task_id.key, "module": task_id.module, "function": task_id.func_name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        key = state["task_id"]
        if "module" in state:
            task_id = TaskId(state["module"], state["function"], key)
        else:  # pickled by an older version: the key was always module.function
            task_id = TaskId.from_key(key)
        self.__dict__.update(self._find(task_id).__dict__)

    @classmethod
    def _find(cls, task_id: TaskId) -> Task[Any, Any]:
        """The Task of ``task_id``, found where its function lives (directly, inside a
        wrapper, or on the app of the task found there when that one has another name)."""
        found = cls._get_from_task_id(task_id)
        task = _extract_task_from_wrapper(found)
        if task is None:
            raise TaskNotFoundError(f"{task_id} exists but is not a pynenc task")
        if task.task_id.key != task_id.key:
            # the function was registered under several names: the module holds one of them
            named = task.app.tasks.get(task_id.key)
            if named is None:
                raise TaskNotFoundError(
                    f"Task {task_id.key!r}: {task_id.module}.{task_id.func_name} is task "
                    f"{task.task_id.key!r}, not {task_id.key!r}"
                )
            task = named
        return task

    @staticmethod
    def _get_from_task_id(task_id: TaskId) -> Task[Any, Any] | Callable[..., Any]:
        """Import the module of ``task_id`` and return what its function's name holds there."""
        try:
            module = importlib.import_module(task_id.module)
        except ImportError as exc:
            raise TaskNotFoundError(
                f"Task {task_id}: module {task_id.module!r} cannot be imported ({exc}). "
                "Is it installed and importable where this process runs?"
            ) from exc
        found = getattr(module, task_id.func_name, None)
        if found is None:
            raise TaskNotFoundError(
                f"Task {task_id}: module {task_id.module!r} has no attribute {task_id.func_name!r}"
            )
        return found  # type: ignore[no-any-return]

    @classmethod
    def from_id(cls, app: Pynenc, task_id: TaskId) -> Task[Any, Any]:
        """The task named ``task_id``, bound to ``app``.

        Registered tasks come first; otherwise the module is imported and the Task found
        there (directly or inside a wrapper) is copied onto ``app`` (:meth:`copy_for`: same
        class, options and name) when it belongs to another app object, so two apps in one
        process never share runners or state.

        :raises ValueError: (``TaskNotFoundError``) when ``task_id`` is not a task.
        """
        registered = app.tasks.get(task_id.key)
        if registered is not None:
            return registered
        task = cls._find(task_id)
        if task.app is not app:
            task = task.copy_for(app)
        app.register_task(task)
        return task

    def copy_for(self, app: Pynenc) -> Task[Params, Result]:
        """This task (class, function, options and name) declared on ``app``."""
        return type(self)(app, self.func, self.options, name=self.task_id.name)

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.task_id})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task_id={self.task_id.key!r}, options={self.options!r})"

    # -- calling ---------------------------------------------------------------------------

    def args(self, *args: Params.args, **kwargs: Params.kwargs) -> Arguments:
        """The :class:`Arguments` of a call, bound against the signature (for parallelize)."""
        return Arguments.from_call(self.signature, args, kwargs)

    def sig(self, *args: Any, **kwargs: Any) -> Sig[Result]:
        """A call of this task not made yet, to compose (:mod:`pynenc.compose`)::

            (fetch.sig(url) | parse.sig() | store.sig(table="pages")).run()

        In a chain, a step receives the previous step's result as its first argument
        (before ``args``); ``.immutable()`` makes one that receives nothing.
        """
        from pynenc.compose import Sig

        return Sig(self, args, kwargs)

    def bind_receiving(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], receiving: int
    ) -> tuple[Arguments, tuple[str, ...]]:
        """The arguments of a composed call that will receive ``receiving`` values first
        (a chain's previous result; an error callback's failed invocation and exception),
        and the names of the parameters that will take them: the first positional ones.

        :raises TypeError: the call does not fit the signature with room for them.
        """
        from pynenc.compose import bind_receiving

        return bind_receiving(self.task_id.key, self.signature, args, kwargs, receiving)

    def receive(
        self, kwargs: dict[str, Any], values: tuple[Any, ...], into: tuple[str, ...]
    ) -> dict[str, Any]:
        """The arguments a released composed call runs with: ``kwargs`` as called, and
        ``values`` (what it received) in the parameters ``into``. A layer with its own
        calling convention (the Celery layer: prepended positional arguments) overrides it.
        """
        if len(into) != len(values):
            raise TypeError(
                f"{self.task_id.key} received {len(values)} value(s) for parameters {into}"
            )
        return {**dict(zip(into, values, strict=True)), **kwargs}

    def __call__(
        self, *args: Params.args, **kwargs: Params.kwargs
    ) -> BaseInvocation[Params, Result]:
        """Call the task: a wrong call raises ``TypeError`` here, before anything is sent."""
        return self._call(Arguments.from_call(self.signature, args, kwargs))

    def _call(
        self, arguments: Arguments, options: CallOptions | None = None
    ) -> BaseInvocation[Params, Result]:
        """Run inline in dev sync mode, otherwise register and publish through the app."""
        if self.app.conf.dev_mode_force_sync_tasks:
            if options is None:
                return SyncInvocation.run(self, arguments)
            return run_sync(self, arguments, options)
        call = Call(self, arguments)
        if self.conf.call_result_cache:
            return result_cache.route_cached(self, [call], lambda c: submit(c, 1, options))[0]
        return submit([call], 1, options)[0]

    def with_options(
        self,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        expires: float | datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        invocation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> TaskWithOptions[Params, Result]:
        """This task with options for the calls made through the result::

            send_report.with_options(delay=60)(period="Q1")
            send_report.with_options(eta=tomorrow_9am, expires=3600).parallelize(periods)

        :param delay: seconds from the call before it may run.
        :param eta: a timezone-aware datetime from which it may run (not with ``delay``).
        :param expires: seconds from the call, or an aware datetime: not started by then,
            it never runs (status EXPIRED; waiters get ``InvocationExpiredError``).
        :param queue: this call's queue (a runner must consume it).
        :param priority: 0-9, this call's message priority.
        :param invocation_id: a caller-chosen id: a second call with it returns the same
            invocation (registered and run once); another task or other arguments under
            it raise ``InvocationConflictError``.
        :param headers: a dict of JSON values for the running task to read
            (``invocation.headers``), stored with the invocation (nothing when absent).
        :raises ValueError: (or ``TypeError``) an option is wrong, named with the reason.
        """
        options = CallOptions(delay, eta, expires, queue, priority, invocation_id, headers)
        return TaskWithOptions(self, options)

    def parallelize(
        self,
        param_iter: Iterable[tuple[Any, ...] | dict[str, Any] | Arguments],
        common_args: dict[str, Any] | None = None,
        *,
        options: CallOptions | None = None,
    ) -> BaseInvocationGroup[Params, Result]:
        """One invocation per element of ``param_iter`` (tuple: positional, dict: keyword,
        :class:`Arguments`: from :meth:`args`); ``common_args`` are merged into each call
        and, on the batch path, serialized only once. ``options``: see :meth:`with_options`."""
        param_list = list(param_iter)
        if self.app.conf.dev_mode_force_sync_tasks:
            arguments = prepare_arguments(self, param_list, common_args)
            if options is None:
                return SyncInvocationGroup(self, [SyncInvocation.run(self, a) for a in arguments])
            return SyncInvocationGroup(self, [run_sync(self, a, options) for a in arguments])
        if can_batch_process(self, len(param_list)):
            return distribute_batch_calls(self, param_list, common_args, options)
        return distribute_calls(self, param_list, common_args, options)


def _check_importable(func: Callable[..., Any]) -> None:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
    if module == "__main__":
        raise RuntimeError(
            f"Cannot create a task from {name!r} defined in '__main__': runners import tasks "
            "by module name, and a runner's __main__ is not your script. Move the function "
            "into an importable module and import it from the script."
        )
    if not inspect.isfunction(func):
        raise TaskDefinitionError(f"{name!r} is not a function; decorate a plain function")
    if "<locals>" in name or "." in name:
        raise TaskDefinitionError(
            f"Cannot create a task from {module}.{name}: tasks must be defined at module "
            "level (not inside a function or a class) so runners can import them by name."
        )


def _extract_task_from_wrapper(wrapper: object) -> Task[Any, Any] | None:
    """The first :class:`Task` among ``wrapper``'s instance attributes, or ``None``."""
    if isinstance(wrapper, Task):
        return wrapper
    try:
        attributes = vars(wrapper)
    except TypeError:  # no __dict__ (slots or builtins): nothing to scan
        return None
    for value in attributes.values():
        if isinstance(value, Task):
            return value
    return None


def can_batch_process(task: Task[Any, Any], num_calls: int) -> bool:
    """Whether ``parallelize`` may use the batch path for ``num_calls`` calls."""
    return (
        not task.app.conf.dev_mode_force_sync_tasks
        and task.conf.registration_concurrency is ConcurrencyControlType.DISABLED
        and num_calls > 1
        and task.conf.parallel_batch_size > 0
    )


def _to_arguments(
    task: Task[Any, Any], index: int, item: ParamItem, common: Mapping[str, Any]
) -> Arguments:
    if isinstance(item, Arguments):
        return Arguments({**common, **item.kwargs}) if common else item
    if isinstance(item, tuple):
        return Arguments.from_call(task.signature, item, common)
    if isinstance(item, dict):
        return Arguments.from_call(task.signature, (), {**common, **item})
    raise TypeError(
        f"parallelize({task.task_id}): element {index} is a {type(item).__name__}; "
        "expected a tuple (positional), a dict (keyword) or task.args(...)"
    )


def prepare_arguments(
    task: Task[Any, Any],
    param_iter: Iterable[tuple[Any, ...] | dict[str, Any] | Arguments],
    common_args: dict[str, Any] | None = None,
) -> list[Arguments]:
    """Each element as :class:`Arguments`, with ``common_args`` merged in (the element's
    own values win)."""
    common = common_args or {}
    return [_to_arguments(task, i, item, common) for i, item in enumerate(param_iter)]


def distribute_calls(
    task: Task[Params, Result],
    param_list: list[tuple[Any, ...] | dict[str, Any] | Arguments],
    common_args: dict[str, Any] | None = None,
    options: CallOptions | None = None,
) -> BaseInvocationGroup[Params, Result]:
    """Send each call on its own (no batching)."""
    invocations: list[BaseInvocation[Params, Result]] = []
    with _published_before(invocations):
        for arguments in prepare_arguments(task, param_list, common_args):
            invocations.append(task._call(arguments, options))
    return DistributedInvocationGroup(task, invocations)


def distribute_batch_calls(
    task: Task[Params, Result],
    param_list: list[tuple[Any, ...] | dict[str, Any] | Arguments],
    common_args: dict[str, Any] | None = None,
    options: CallOptions | None = None,
) -> DistributedInvocationGroup[Params, Result]:
    """Send the calls in batches of ``parallel_batch_size``: one backend write and one
    broker batch per batch, with ``common_args`` serialized once for all of them."""
    common = common_args or {}
    encoded_common = task.app.client_data_store.externalize(
        serialize_arguments(task.serializer, task.task_id.key, common)
    )
    calls: list[Call[Params, Result]] = []
    for index, item in enumerate(param_list):
        arguments = _to_arguments(task, index, item, common)
        own = item.kwargs if isinstance(item, Arguments) else item if isinstance(item, dict) else {}
        shared = (
            encoded_common
            if not own.keys() & encoded_common.keys()
            else {k: v for k, v in encoded_common.items() if k not in own}
        )
        calls.append(PreSerializedCall(task, arguments, shared))
    size = task.conf.parallel_batch_size
    per_message = invocations_per_message(len(calls), size)
    invocations: list[BaseInvocation[Params, Result]] = []
    with _published_before(invocations):
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            if task.conf.call_result_cache:
                invocations.extend(
                    result_cache.route_cached(
                        task, chunk, lambda c: submit(c, per_message, options)
                    )
                )
            else:
                invocations.extend(submit(chunk, per_message, options))
    return DistributedInvocationGroup(task, invocations)


@contextmanager
def _published_before(invocations: list[BaseInvocation[Any, Any]]) -> Iterator[None]:
    """A ``BrokerError`` mid-way through a ``parallelize`` FAILED the calls it was about
    (see ``Orchestrator.route``), a ``PublishVetoError`` left them unregistered; those
    published before it run: the error says so."""
    try:
        yield
    except (BrokerError, PublishVetoError) as exc:
        if invocations:
            others = "FAILED" if isinstance(exc, BrokerError) else "never registered"
            exc.add_note(
                f"{len(invocations)} invocations of this parallelize were published before "
                f"the failure and will run (first: {invocations[0].invocation_id}); the "
                f"others are {others}."
            )
        raise


#: A fan-out is spread over at least this many messages (when it has as many calls), so
#: that as many runner slots can share it; beyond that, calls share messages.
MIN_FAN_OUT_MESSAGES = 32


def invocations_per_message(num_calls: int, batch_size: int) -> int:
    """How many invocations of a ``parallelize`` travel in one message: enough to cut the
    per-message costs (one publish, one claim, one ack for many), few enough that the
    calls still spread over ``MIN_FAN_OUT_MESSAGES`` messages; never above ``batch_size``."""
    return max(1, min(batch_size, num_calls // MIN_FAN_OUT_MESSAGES))
