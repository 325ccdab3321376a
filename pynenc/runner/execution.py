"""Running one claimed invocation — the same in every runner — in three steps:

:func:`prepare` (resolve the task, check the serializer, decode the arguments, build the
invocation), :func:`run` (call the function: an :class:`~pynenc.outcome.Outcome`, nothing
recorded; :func:`failure` decides between retry and failure) and :func:`record` (apply the
outcome through the orchestrator). :func:`execute` composes them with the hooks.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.attempt import outcome_discarded
from pynenc.broker import Envelope
from pynenc.conf.serializers import not_accepted
from pynenc.context import current_invocation
from pynenc.exceptions import (
    ConfigError,
    PynencError,
    RetryError,
    SerializationError,
    TaskNotFoundError,
)
from pynenc.identifiers import TaskId
from pynenc.invocation import log
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.invocation.sync import run_coroutine
from pynenc.orchestrator import admission, result_cache
from pynenc.orchestrator.scheduling import retry_delay
from pynenc.outcome import Outcome
from pynenc.records import InvocationStatus
from pynenc.runner import followers
from pynenc.runner.outcomes import record_outcome
from pynenc.serializer import (
    deserialize_arguments,
    exception_to_payload,
    get_serializer,
    serialize_result,
)
from pynenc.workflow import moves
from pynenc.workflow.signals import WorkflowSignal

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.runner.outcomes import OutcomeWriter
    from pynenc.task import Task

S = InvocationStatus
# read once: an enum member lookup costs more than a global's, on every attempt
SUCCESS, FAILED, RETRY = S.SUCCESS, S.FAILED, S.RETRY
PAUSED, REGISTERED = S.PAUSED, S.REGISTERED  # the outcomes of a workflow's signals


def resolve_task(app: Pynenc, task_key: str) -> Task[Any, Any]:
    """The app's task for ``task_key`` (``module.function`` or a declared name).

    A key not registered yet makes the runner import the modules the app declares
    (:func:`declared_modules`) and look again: their tasks register on import. A task found
    there on another app object is copied onto ``app``. Any other module is never imported.

    :raises TaskNotFoundError: naming the task and how to declare its module.
    """
    task = app.tasks.get(task_key)
    if task is not None:
        return task
    declared = declared_modules(app)
    failures = _import_modules(declared)
    task = app.tasks.get(task_key) or _task_in_modules(app, task_key, declared)
    if task is not None:
        return task
    raise TaskNotFoundError(_not_found(app, task_key, declared, failures))


def _import_modules(names: set[str]) -> dict[str, Exception]:
    """Import each module of ``names`` (already imported ones cost a lookup); what failed."""
    failures: dict[str, Exception] = {}
    for name in sorted(names):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken module is reported with the missing task
            failures[name] = exc
    return failures


def _task_in_modules(app: Pynenc, task_key: str, modules: set[str]) -> Task[Any, Any] | None:
    """A task with key ``task_key`` that one of ``modules`` holds (directly or in a wrapper)
    for another app object: copied onto ``app`` and registered."""
    from pynenc.task import _extract_task_from_wrapper

    for name in sorted(modules):
        module = sys.modules.get(name)
        for value in list(vars(module).values()) if module is not None else ():
            task = _extract_task_from_wrapper(value)
            if task is not None and task.task_id.key == task_key:
                copy = task if task.app is app else task.copy_for(app)
                app.register_task(copy)
                return copy
    return None


def _not_found(
    app: Pynenc, task_key: str, declared: set[str], failures: dict[str, Exception]
) -> str:
    """Why ``task_key`` is not a task this runner can run, and how to make it one."""
    try:
        guess: str | None = TaskId.from_key(task_key).module  # the module.function form
    except ValueError:
        guess = None
    message = (
        f"Task {task_key!r} is not registered by app {app.app_id!r} nor by any module it "
        f"declares ({', '.join(sorted(declared)) or 'none'}), so this runner cannot run it."
    )
    if guess is not None and guess not in declared:
        message += (
            f" If it is a function of module {guess!r}: module {guess!r} is not declared by "
            f"app {app.app_id!r}, so this runner does not import it."
        )
    for name, exc in failures.items():
        message += f" Importing declared module {name!r} failed: {type(exc).__name__}: {exc}."
    example = guess if guess is not None and guess not in declared else "mypkg.tasks"
    return message + (
        " A runner imports only the app's module, the modules of its registered tasks and "
        "the option task_modules. If the task is genuine, import the module defining it from "
        f"the app's module or add it to task_modules (e.g. PYNENC__TASK_MODULES={example})."
    )


def import_task_modules(app: Pynenc) -> None:
    """Import the modules of option ``task_modules`` and register their tasks on ``app``,
    so a runner knows their queues and options before the first message (and the CLI
    shows them). Called at runner start and by the CLI.

    :raises ConfigError: a module cannot be imported, naming it and the option.
    """
    modules = set(app.conf.task_modules)
    failures = _import_modules(modules)
    if failures:
        name, exc = next(iter(sorted(failures.items())))
        raise ConfigError(
            f"task_modules names module {name!r}, which cannot be imported: "
            f"{type(exc).__name__}: {exc}. Fix the module or remove it from task_modules "
            f"(source: {app.conf.source_of('task_modules')})."
        ) from exc
    _register_tasks_of(app, modules)


def _register_tasks_of(app: Pynenc, modules: set[str]) -> None:
    """Register on ``app`` the tasks that ``modules`` hold (those of another app object
    as copies, as :func:`resolve_task` would when their message comes)."""
    from pynenc.task import _extract_task_from_wrapper

    for name in sorted(modules):
        for value in list(vars(sys.modules[name]).values()):
            task = _extract_task_from_wrapper(value)
            if task is not None and task.task_id.key not in app.tasks:
                app.register_task(task if task.app is app else task.copy_for(app))


def declared_modules(app: Pynenc) -> set[str]:
    """The modules a runner of ``app`` may import to find a task: the app's own module,
    the modules of its registered tasks, and ``task_modules``."""
    from pynenc.runner.reference import app_reference

    declared = {task.task_id.module for task in app.tasks.values()}
    declared.update(app.conf.task_modules)
    # an app defined in __main__ or not at module level has no module of its own
    with contextlib.suppress(PynencError):
        declared.add(app_reference(app).partition(":")[0])
    return declared


def execute(
    app: Pynenc, envelope: Envelope, runner_id: str, outcomes: OutcomeWriter | None = None
) -> None:
    """Run a claimed invocation and record its outcome (success, retry or failure):
    :func:`prepare`, then :func:`run` between the ``run_start`` and ``run_end`` hooks
    (``task.invocation`` set), then :func:`record`.

    The ``run_end`` hooks run before the outcome is recorded: once a waiter can see the
    result, or the next attempt can start, they are done. A final outcome goes through
    ``outcomes`` when given (batched with other threads'), else straight to the backend.
    A retry is always recorded at once: it publishes again. A ``SystemExit`` or
    ``KeyboardInterrupt`` from the task is recorded, then raised again.
    """
    prepared = prepare(app, envelope)
    if isinstance(prepared, Outcome):
        record(app, envelope, runner_id, prepared, outcomes)
        return
    hooks = app.hooks
    token = current_invocation.set(prepared)
    try:
        if hooks.run_start:
            try:
                hooks.emit("run_start", prepared)
            except BaseException as exc:  # a handler's SystemExit: the attempt fails, recorded
                failed = Outcome(FAILED, error=exception_to_payload(exc), exception=exc)
                record(app, envelope, runner_id, failed, outcomes)
                raise
        outcome = run(prepared, envelope)
        if outcome_discarded(envelope):  # its runner gave up on it (time limit, cancel)
            return
        if hooks.run_end:
            try:
                hooks.emit("run_end", prepared, outcome)
            except BaseException:  # a handler's SystemExit: the outcome is still recorded
                record(app, envelope, runner_id, outcome, outcomes)
                raise
    finally:
        current_invocation.reset(token)
    record(app, envelope, runner_id, outcome, outcomes)
    if outcome.exception is not None and outcome.interrupted:
        raise outcome.exception


def prepare(app: Pynenc, envelope: Envelope) -> DistributedInvocation[Any, Any] | Outcome:
    """The invocation to run: its task resolved, its serializer checked, its arguments
    decoded. What prevents that is logged ("cannot run") and is a FAILED outcome."""
    try:
        task = resolve_task(app, envelope.task_id)
        name = envelope.serializer
        if name != app.conf.serializer and name not in app.conf.accept_serializers:
            # refused before anything is decoded: pickle runs code chosen by its writer
            what = f"Invocation {envelope.invocation_id} of task {envelope.task_id!r}"
            raise SerializationError(
                not_accepted(name, what, app.conf.serializer, app.conf.accept_serializers)
            )
        arguments = app.client_data_store.resolve(envelope.arguments)  # large ones: stored
        kwargs = deserialize_arguments(get_serializer(name), arguments)
        links = envelope.links
        if links is not None and links.receive is not None:  # a chain's step, a chord body
            values = followers.received(app, envelope.invocation_id, links)
            kwargs = task.receive(kwargs, values, links.into)
    except (PynencError, TypeError) as exc:  # TypeError: what it received does not fit
        log.cannot_run(envelope, exc)
        return Outcome(FAILED, error=exception_to_payload(exc), exception=exc)
    return DistributedInvocation(
        task,
        Arguments(kwargs),
        envelope.invocation_id,
        envelope.parent_id,
        envelope=envelope,
    )


def run(invocation: DistributedInvocation[Any, Any], envelope: Envelope) -> Outcome:
    """Call the function (to its end for ``async def``) and encode its result; records
    nothing. The caller has set ``invocation`` as the current one."""
    task = invocation.task
    log.started(envelope)
    start = time.perf_counter()
    try:
        value = task.run_function(invocation.arguments)
        if task.is_async:
            value = run_coroutine(value)
        # the serializer of the arguments (the task's own, or the app's): the record says
        # which, so its readers decode the result with it too
        encoded = serialize_result(get_serializer(envelope.serializer), envelope.task_id, value)
        encoded = task.app.client_data_store.externalize_value(encoded)
    except BaseException as exc:  # SystemExit/KeyboardInterrupt too: recorded, re-raised
        return failure(task, envelope, exc, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    log.succeeded(envelope, seconds)
    if task.conf.call_result_cache:  # before the success is recorded: who sees it finds it
        result_cache.remember(task, envelope)
    return Outcome(SUCCESS, encoded, None, None, value, seconds)


def failure(
    task: Task[Any, Any], envelope: Envelope, exc: BaseException, seconds: float
) -> Outcome:
    """The outcome of an attempt that raised ``exc``: RETRY when the task's options earn
    it another try, else FAILED (a ``BaseException`` that is not an ``Exception`` never
    retries)."""
    if isinstance(exc, WorkflowSignal):  # wf.pause() / wf.continue_as_new(): not a failure
        return moves.outcome(exc, seconds)
    payload = exception_to_payload(exc)
    if isinstance(exc, Exception) and task.should_retry(exc, envelope.num_retries):
        # logged before it is published again: the next attempt's lines come after it
        log.retried(envelope, seconds, exc, task.conf.max_retries)
        delay = retry_delay(task.conf, exc, envelope.num_retries + 1)
        return Outcome(RETRY, None, payload, exc, None, seconds, delay)
    log.failed(envelope, seconds, exc, task.expected_error(exc))
    return Outcome(FAILED, None, payload, exc, None, seconds)


def record(
    app: Pynenc,
    envelope: Envelope,
    runner_id: str,
    outcome: Outcome,
    outcomes: OutcomeWriter | None = None,
) -> None:
    """Apply ``outcome`` as ``runner_id``: a retry is recorded and published again at once,
    or after its delay (``Orchestrator.retry``); an interrupted attempt is recorded at once
    (the process is going); a final outcome goes through ``outcomes`` when given, else to
    the backend. A task's running slot is given back first (the attempt is over)."""
    orchestrator = app.orchestrator
    task = app.tasks.get(envelope.task_id)
    if task is not None and task.start_policy is not None:
        admission.release(
            orchestrator, task.start_policy, envelope.invocation_id, envelope.arguments, runner_id
        )
    if outcome.status is RETRY:
        assert outcome.error is not None
        orchestrator.retry(
            envelope,
            runner_id,
            outcome.error,
            outcome.retry_delay,
            _new_arguments(outcome, envelope),
        )
        return
    status = outcome.status
    if status is PAUSED or status is REGISTERED:  # a workflow paused, or continued as new
        moves.record(app, envelope, runner_id, outcome)
        return
    if envelope.task_id in app.trigger.watched:  # a trigger waits for its outcome
        orchestrator.note_endings([(envelope.invocation_id, envelope.task_id)])
    links = envelope.links
    if outcome.exception is not None and outcome.interrupted:
        orchestrator.finish(envelope.invocation_id, FAILED, runner_id, error=outcome.error)
    else:
        update = orchestrator.status_update(
            envelope.invocation_id,
            outcome.status,
            runner_id,
            result=outcome.result,
            error=outcome.error,
        )
        if outcomes is None or (links is not None and links.then):
            record_outcome(orchestrator, update)  # written now: its followers go next
        else:
            outcomes.record(update)
    if links is not None and links.then:
        followers.publish_followers(app, envelope.invocation_id, links, runner_id)


def _new_arguments(outcome: Outcome, envelope: Envelope) -> dict[str, str] | None:
    """The serialized arguments a retry runs with when its ``RetryError`` changed them
    (``RetryError.retry_arguments``); ``None``: the same ones (nothing more is stored)."""
    exc = outcome.exception
    arguments = exc.retry_arguments if isinstance(exc, RetryError) else None
    return None if arguments == envelope.arguments else arguments
