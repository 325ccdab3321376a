"""Tasks for the settings tests: shared tasks (whichever app is current) and class-based ones."""

from typing import Any

import celery

from pynenc_celery_compat import Task, shared_task


@shared_task
def multiply(x: int, y: int) -> int:
    return x * y


@shared_task(queue="own")
def with_own_queue() -> str:
    return "own"


@shared_task(name="config.echo")
def echo(value: Any) -> Any:
    return value


class Doubler(Task):
    """A class-based compat task."""

    name = "config.doubler"

    def run(self, x: int) -> int:
        return 2 * x


class LegacyAdder(celery.Task):
    """A class-based task written for Celery (wrapped by register_task)."""

    name = "config.legacy_adder"
    offset = 0

    def run(self, x: int, y: int) -> int:
        return x + y + self.offset


def route_big_calls(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **more: Any
) -> Any:
    """A router function named by its import path in task_routes."""
    if args and isinstance(args[0], int) and args[0] > 100:
        return {"queue": "big"}
    return None


@shared_task(bind=True)
def app_seen(self: Any) -> list[str]:
    """The name and time zone of the app the running task sees."""
    return [self.app.main, str(self.app.timezone)]
