"""Task bodies of the options tests, decorated twice in ``options_tasks``: once by a real
Celery app, once by a compat app, so one assertion checks both."""

from __future__ import annotations

import threading
from typing import Any

from celery import current_task
from celery.exceptions import SoftTimeLimitExceeded

#: set by tests to let ``gated`` finish (keyed by a test's token)
GATES: dict[str, threading.Event] = {}
#: what the tasks saw, keyed by a test's token
SEEN: dict[str, Any] = {}


def add(x: int, y: int = 10) -> int:
    return x + y


def double(x: int) -> int:
    return x * 2


def request_fields(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The request as Celery's worker shows it, with a few members of ``self``."""
    request = self.request
    names = (
        *("id", "args", "kwargs", "retries", "is_eager", "called_directly", "parent_id"),
        *("root_id", "eta", "expires", "headers", "group", "chord", "callbacks", "errbacks"),
        *("timelimit", "ignore_result", "correlation_id", "task"),
    )
    fields = {name: getattr(request, name, "<missing>") for name in names}
    fields["delivery_info"] = sorted(request.delivery_info or ())
    fields["hostname_set"] = bool(request.hostname)
    fields["current_task_is_self"] = current_task._get_current_object() is self
    fields["max_retries"] = self.max_retries
    fields["conf_default_queue"] = self.app.conf.task_default_queue
    fields["name"] = self.name
    return fields


def flaky_forever(self: Any, failures: int) -> int:
    if self.request.retries < failures:
        raise self.retry(countdown=0)
    return int(self.request.retries)


def always_key_error(token: str) -> None:
    SEEN.setdefault(token, []).append(1)
    raise KeyError(token)


def expected_failure(x: int) -> None:
    raise LookupError(f"expected {x}")


def gated(token: str) -> str:
    GATES.setdefault(token, threading.Event()).wait(60)
    return token


def soft_limited(seconds: float) -> str:
    """Sleeps past its soft limit: Celery's ``except SoftTimeLimitExceeded`` catches it."""
    import time

    try:
        for _ in range(int(seconds * 20)):
            time.sleep(0.05)
    except SoftTimeLimitExceeded:
        return "soft limit caught"
    return "no limit seen"


def hard_limited(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "finished"


def in_context(self: Any) -> tuple[str | None, bool, Any]:
    """Run under a base class whose ``__call__`` wraps every run (Flask's ContextTask)."""
    return (self.request.id, bool(self.request.called_directly), SEEN.get("context"))


def apply_function(function: Any, x: int) -> Any:
    """Takes a callable: only a pickling serializer carries it."""
    return function(x)
