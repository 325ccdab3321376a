"""Running one claimed invocation: resolve, decode, call, record — the same in every runner."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from pynenc.arguments import Arguments
from pynenc.broker.envelope import Envelope
from pynenc.context import current_invocation
from pynenc.exceptions import PynencError, SerializationError, TaskNotFoundError
from pynenc.identifiers import TaskId
from pynenc.invocation import log
from pynenc.invocation.attempt import outcome_discarded
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
    """The app's task for ``task_key``, importing its module when it isn't registered and
    the app declares it (:func:`declared_modules`); any other module is never imported.

    :raises TaskNotFoundError: naming the module and how to declare it.
    """
    task = app.tasks.get(task_key)
    if task is not None:
        return task
    from pynenc.task import Task

    try:
        task_id = TaskId.from_key(task_key)
    except ValueError as exc:
        raise TaskNotFoundError(str(exc)) from exc
    if task_id.module not in declared_modules(app):
        raise TaskNotFoundError(
            f"Task {task_id}: module {task_id.module!r} is not declared by app "
            f"{app.app_id!r}, so this runner does not import it. A runner imports only the "
            "app's module, the modules of its registered tasks and the option task_modules. "
            f"If the task is genuine, import {task_id.module!r} from the app's module or add "
            f"it to task_modules (e.g. PYNENC__TASK_MODULES={task_id.module})."
        )
    return Task.from_id(app, task_id)


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
        if outcome_discarded(envelope):  # its runner gave up on it (time limit, cancel)
            return
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
        if not outcome_discarded(envelope):
            log.failed(envelope, time.perf_counter() - start, exc)
            payload = exception_to_payload(exc)
            orchestrator.finish(
                envelope.invocation_id, InvocationStatus.FAILED, runner_id, error=payload
            )
        raise
    finally:
        current_invocation.reset(token)
    if outcome_discarded(envelope):
        return
    log.succeeded(envelope, time.perf_counter() - start)
    finish(InvocationStatus.SUCCESS, result=encoded)
