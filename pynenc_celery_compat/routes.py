"""``task_routes`` applied to a compat task's call, as Celery applies them.

The routes are Celery's own (:func:`celery.app.routes.prepare`: task-name globs,
``re.compile`` patterns, router functions ``(name, args, kwargs, options, task)``, lists of
them, routers named by import path), kept on the app's bridge
(:mod:`pynenc_celery_compat.bridge`). As in Celery, a queue given to ``apply_async`` or set
on the task wins over the route, and the route fills what the call leaves unset (its
``queue`` and ``priority``; exchanges and routing keys mean nothing to pynenc).
"""

from __future__ import annotations

from typing import Any

from celery.app.routes import Router


def routed(
    router: Router, task: Any, args: Any, kwargs: Any, options: dict[str, Any]
) -> dict[str, Any]:
    """``options`` with the queue and priority the first matching route gives ``task``."""
    route = router.lookup_route(task.name, args, kwargs or {}, dict(options), task)
    if not route:
        return options
    if isinstance(route, str):
        route = {"queue": route}
    queue = route.get("queue")
    queue = getattr(queue, "name", queue)
    priority = route.get("priority")
    result = dict(options)
    if queue and options.get("queue") is None and getattr(task, "queue", None) is None:
        result["queue"] = str(queue)
    if (
        priority is not None
        and options.get("priority") is None
        and getattr(task, "priority", None) is None
    ):
        result["priority"] = priority
    return result


__all__ = ["routed"]
