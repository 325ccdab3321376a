"""The pynenc task behind a compat task: options from Celery's attributes, Celery's run."""

from __future__ import annotations

import threading
from typing import Any

from pynenc import Pynenc
from pynenc.arguments import Arguments
from pynenc.exceptions import RetryError
from pynenc.task import Task as PynencTask
from pynenc_celery_compat import registry

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


def pynenc_options(task: Any, celery_app: Any = None) -> dict[str, Any]:
    """pynenc task options from a compat task's (Celery) attributes."""
    options: dict[str, Any] = {}
    if task.time_limit is not None:
        options["timeout"] = float(task.time_limit)
    if task.soft_time_limit is not None:
        options["soft_timeout"] = float(task.soft_time_limit)
    if task.rate_limit:
        options["rate_limit"] = task.rate_limit
    queue = task.__dict__.get("queue") or getattr(type(task), "queue", None)
    if not queue and celery_app is not None:
        queue = celery_app.conf.task_default_queue
    options["queue"] = queue or "celery"
    if task.priority is not None:
        options["priority"] = task.priority
    return options


class CeleryTaskAdapter(PynencTask[Any, Any]):
    """A pynenc task running a compat task with Celery's semantics (request, hooks,
    signals, ``retry``); see :mod:`pynenc_celery_compat.trace`."""

    @classmethod
    def declare(cls, pynenc_app: Pynenc, compat: Any, celery_app: Any = None) -> CeleryTaskAdapter:
        """Create and register the pynenc task of ``compat`` on ``pynenc_app``."""
        # "<locals>": defined in a function; "Class.run": a class-based task's method
        kind = LocalCeleryTaskAdapter if "." in compat.__inner_function__.__qualname__ else cls
        adapter = kind(
            pynenc_app,
            compat.__inner_function__,
            pynenc_options(compat, celery_app),
            name=compat.name,
        )
        pynenc_app.register_task(adapter)
        return adapter

    def __init__(
        self, app: Pynenc, func: Any, options: dict[str, Any], name: str | None = None
    ) -> None:
        super().__init__(app, func, options, name=name)
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

    def run_function(self, arguments: Arguments) -> Any:
        from pynenc_celery_compat.trace import run_on_runner

        args, kwargs = arguments.to_call(self.signature)
        return run_on_runner(self.compat, self.invocation, args, kwargs)

    def should_retry(self, exc: Exception, num_retries: int) -> bool:
        # the compat task decided already (``retry()`` / autoretry raise RetryError)
        return isinstance(exc, RetryError)


class LocalCeleryTaskAdapter(CeleryTaskAdapter):
    """The pynenc task of a compat task whose function a runner cannot import by name: one
    defined inside a function (a test's local task: runners in other processes cannot run
    it), or the ``run`` method of a class-based task (:func:`~pynenc_celery_compat.wrap_task`:
    runners find it by name among the Celery app's tasks)."""

    requires_importable = False
