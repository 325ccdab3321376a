"""Running one claimed invocation: resolve, decode, call, record — the same in every runner."""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.broker import Envelope
from pynenc.context import current_invocation
from pynenc.exceptions import PynencError, SerializationError, TaskNotFoundError
from pynenc.identifiers import TaskId
from pynenc.invocation import log
from pynenc.invocation.distributed import DistributedInvocation
from pynenc.invocation.sync import run_coroutine
from pynenc.records import InvocationStatus
from pynenc.runner.outcomes import record_outcome
from pynenc.serializer import (
    deserialize_arguments,
    exception_to_payload,
    get_serializer,
    serialize_result,
)

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.runner.outcomes import OutcomeWriter
    from pynenc.task import Task

S = InvocationStatus


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
    """Run a claimed invocation and record its outcome (success, retry or failure).

    A final outcome goes through ``outcomes`` when given (batched with other threads'),
    else straight to the backend. A retry is always recorded at once: it publishes again.
    """
    orchestrator = app.orchestrator

    def finish(target: InvocationStatus, **outcome: Any) -> None:
        update = orchestrator.status_update(envelope.invocation_id, target, runner_id, **outcome)
        if outcomes is None:
            record_outcome(orchestrator, update)
        else:
            outcomes.record(update)

    try:
        task = resolve_task(app, envelope.task_id)
        if envelope.serializer != app.conf.serializer:
            raise SerializationError(
                f"Invocation {envelope.invocation_id} was encoded with the "
                f"{envelope.serializer!r} serializer but this runner accepts only "
                f"{app.conf.serializer!r}; configure the same serializer on both sides."
            )
        kwargs = deserialize_arguments(get_serializer(envelope.serializer), envelope.arguments)
    except PynencError as exc:
        log.cannot_run(envelope, exc)
        finish(InvocationStatus.FAILED, error=exception_to_payload(exc))
        return
    arguments = Arguments(kwargs)
    invocation: DistributedInvocation[Any, Any] = DistributedInvocation(
        task, arguments, envelope.invocation_id, envelope.parent_id
    )
    token = current_invocation.set(invocation)
    log.started(envelope)
    start = time.perf_counter()
    try:
        value = task.run_function(arguments)
        if task.is_async:
            value = run_coroutine(value)
        encoded = serialize_result(app.serializer, envelope.task_id, value)
    except Exception as exc:
        payload = exception_to_payload(exc)
        if task.should_retry(exc, envelope.num_retries):
            # logged before it is published again: the next attempt's lines come after it
            log.retried(envelope, time.perf_counter() - start, exc, task.conf.max_retries)
            orchestrator.retry(envelope, runner_id, payload)
        else:
            log.failed(envelope, time.perf_counter() - start, exc)
            finish(InvocationStatus.FAILED, error=payload)
        return
    except BaseException as exc:  # SystemExit/KeyboardInterrupt: record, then let it go
        log.failed(envelope, time.perf_counter() - start, exc)
        payload = exception_to_payload(exc)
        orchestrator.finish(
            envelope.invocation_id, InvocationStatus.FAILED, runner_id, error=payload
        )
        raise
    finally:
        current_invocation.reset(token)
    log.succeeded(envelope, time.perf_counter() - start)
    finish(InvocationStatus.SUCCESS, result=encoded)
