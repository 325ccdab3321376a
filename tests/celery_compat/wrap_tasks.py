"""A project's Celery tasks as written for Celery (not edited): ``wrap_task`` moves them."""

from typing import Any, ClassVar

import celery

project = celery.Celery(
    "wrapproject", broker="memory://", backend="cache+memory://", set_as_current=False
)

#: hook calls, in order: (hook, task name, value)
EVENTS: list[tuple[str, str, Any]] = []


@project.task
def plain(x: int, y: int) -> int:
    return x + y


@project.task(bind=True, max_retries=2, default_retry_delay=0, autoretry_for=(KeyError,))
def bound(self: Any, failures: int) -> list[Any]:
    if self.request.retries < failures:
        raise KeyError(failures)  # autoretry_for retries it
    return [self.request.id, self.request.retries]


class HookedTask(celery.Task):  # type: ignore[misc]
    """A project's base class with hooks."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        EVENTS.append(("on_success", self.name, retval))

    def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        EVENTS.append(("on_retry", self.name, repr(exc)))


class ChargeTask(HookedTask):
    """A class-based task: ``run`` is a method (the task is its ``self``)."""

    name = "billing.charge"
    max_retries = 3
    default_retry_delay = 0
    tags: ClassVar[list[str]] = ["billing"]  # a project's own attribute

    def run(self, amount: int, *, currency: str = "EUR") -> str:
        if self.request.retries < 1:
            raise self.retry(exc=KeyError("first try"), countdown=0)
        return f"{amount} {currency} after {self.request.retries} retry"


def double(x: int) -> int:
    return x * 2


class DoubleTask(celery.Task):  # type: ignore[misc]
    """A class-based task whose ``run`` does not take the task (unbound)."""

    name = "wrap.double"
    run = staticmethod(double)


class RegisteredTask(HookedTask):
    """A class the project registered itself: ``project.register_task(RegisteredTask())``."""

    name = "wrap.registered"

    def run(self) -> str:
        return "registered"


registered = project.register_task(RegisteredTask())


@celery.shared_task
def shared_add(x: int, y: int) -> int:
    """Celery's own ``shared_task``: a proxy to the current app's instance."""
    return x + y
