"""``before_task_publish`` / ``after_task_publish`` for calls that pynenc publishes.

Handlers get what Celery 5.7 gives them for the same call: ``sender`` (the task name),
``body`` ``(args, kwargs, embed)``, ``exchange``, ``routing_key``, protocol-2 ``headers``,
``properties``, ``declare`` and ``retry_policy`` (before), and ``body``, ``exchange``,
``routing_key``, ``headers`` (after). The message is built by the Celery app's own
``amqp.create_task_message`` and routed by its own router, so headers and properties match
Celery's key for key; the destination is the queue pynenc publishes to.

Nothing here runs unless a receiver is connected (:func:`wanted`): a call without
receivers pays one attribute read per signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import signals
from celery._state import get_current_worker_task
from celery.utils.nodenames import anon_nodename
from kombu import Queue
from kombu.common import Broadcast
from kombu.utils.uuid import uuid

#: apply_async options that Celery's ``send_task`` takes by name (never message properties)
_SEND_TASK_NAMED = frozenset(
    {
        "countdown",
        "eta",
        "expires",
        "time_limit",
        "soft_time_limit",
        "ignore_result",
        "group_id",
        "group_index",
        "retries",
        "chord",
        "reply_to",
        "root_id",
        "parent_id",
        "route_name",
        "chain",
        "replaced_task_nesting",
        "connection",
        "router",
        "result_cls",
        "publisher",
        "add_to_parent",
        "task_type",
        "link",
        "link_error",
        "producer",
    }
)
#: parameters of Celery's ``send_task_message`` (the rest become message properties)
_PUBLISH_NAMED = frozenset(
    {
        "exchange",
        "routing_key",
        "queue",
        "event_dispatcher",
        "retry",
        "retry_policy",
        "serializer",
        "delivery_mode",
        "compression",
        "declare",
        "headers",
        "exchange_type",
        "timeout",
        "confirm_timeout",
    }
)


def wanted() -> bool:
    """Whether any publish receiver is connected (else nothing is built or sent)."""
    return bool(signals.before_task_publish.receivers or signals.after_task_publish.receivers)


def new_task_id() -> str:
    """A task id in Celery's format (a uuid4 string), for a call that has none yet."""
    return str(uuid())


@dataclass(slots=True)
class Publication:
    """One message as Celery would publish it: what both publish signals carry."""

    sender: str
    body: tuple[Any, Any, dict[str, Any]]
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    properties: dict[str, Any]
    declare: list[Any] | None
    retry_policy: dict[str, Any]

    def before(self) -> None:
        """Send ``before_task_publish`` (receivers may change ``headers``/``properties``)."""
        signals.before_task_publish.send(
            sender=self.sender,
            body=self.body,
            exchange=self.exchange,
            routing_key=self.routing_key,
            declare=self.declare,
            headers=self.headers,
            properties=self.properties,
            retry_policy=self.retry_policy,
        )

    def after(self) -> None:
        """Send ``after_task_publish``."""
        signals.after_task_publish.send(
            sender=self.sender,
            body=self.body,
            headers=self.headers,
            exchange=self.exchange,
            routing_key=self.routing_key,
        )


def publication(
    task: Any,
    app: Any,
    task_id: str,
    args: Any,
    kwargs: Any,
    options: dict[str, Any],
    queue: str,
    shadow: str | None = None,
) -> Publication:
    """The message Celery would publish for ``task.apply_async(args, kwargs, **options)``
    with id ``task_id``, sent to pynenc's ``queue``."""
    merged = {**task._get_exec_options(), **options}
    merged.setdefault("ignore_result", task.ignore_result)
    return _build(task, app, task_id, args or (), kwargs or {}, merged, queue, shadow)


def retry_publication(
    task: Any,
    request: Any,
    countdown: float | None,
    eta: Any,
    args: Any = None,
    kwargs: Any = None,
) -> Publication:
    """The message Celery's ``retry()`` publishes for the running ``request``: same id,
    ``retries + 1``, the request's root, parent, expiry, limits and origin, and its
    arguments unless the retry's ``args``/``kwargs`` are given."""
    hard, soft = request.timelimit or (None, None)
    options: dict[str, Any] = {
        "root_id": request.root_id,
        "parent_id": request.parent_id,
        "group_id": request.group,
        "group_index": request.group_index,
        "chord": request.chord,
        "chain": request.chain,
        "expires": request.expires,
        "soft_time_limit": soft,
        "time_limit": hard,
        "headers": _own_headers(request.headers),
        "retries": request.retries + 1,
        "reply_to": request.reply_to,
        "replaced_task_nesting": request.replaced_task_nesting or 0,
        "origin": request.origin or anon_nodename(),
        "ignore_result": bool(request.ignore_result or task.ignore_result),
        "countdown": countdown,
        "eta": eta,
    }
    delivery = request.delivery_info or {}
    if delivery.get("priority") is not None:
        options["priority"] = delivery["priority"]
    target = delivery.get("routing_key") or app_queue(task)
    options["queue"] = target  # where the retry goes: the queue it came from
    merged = {**task._get_exec_options(), **options}
    return _build(
        task,
        task._get_app(),
        request.id,
        tuple(request.args or () if args is None else args),  # a signature's: a tuple
        (request.kwargs or {}) if kwargs is None else kwargs,
        merged,
        target,
        request.shadow,
    )


def app_queue(task: Any) -> str:
    """The queue a compat task's calls go to by default."""
    return str(task.pynenc_task.conf.queue)


def _own_headers(headers: Any) -> dict[str, Any] | None:
    """The request's custom headers a retry carries (Celery drops RabbitMQ's ``x-death``;
    this layer's own request fields are not message headers)."""
    if not headers:
        return None
    own = {k: v for k, v in headers.items() if k != "x-death" and not k.startswith("pynenc_")}
    return own or None


def _build(
    task: Any,
    app: Any,
    task_id: str,
    args: Any,
    kwargs: Any,
    options: dict[str, Any],
    queue: str,
    shadow: str | None,
) -> Publication:
    named = {k: options.pop(k) for k in list(options) if k in _SEND_TASK_NAMED}
    expires = named.get("expires")
    routed = app.amqp.router.route(options, task.name, args, kwargs, task)
    routed = _to_queue(app, routed, queue)
    if expires is not None:
        routed["expiration"] = _seconds_left(app, expires)
    root_id, parent_id = named.get("root_id"), named.get("parent_id")
    if not root_id or not parent_id:
        parent = get_current_worker_task()
        if parent is not None:
            root_id = root_id or parent.request.root_id or parent.request.id
            parent_id = parent_id or parent.request.id
    headers, properties, body, _ = app.amqp.create_task_message(
        task_id,
        task.name,
        args,
        kwargs,
        named.get("countdown"),
        named.get("eta"),
        named.get("group_id"),
        named.get("group_index"),
        expires,
        named.get("retries", 0),
        named.get("chord"),
        None,
        None,
        named.get("reply_to") or app.thread_oid,
        named.get("time_limit"),
        named.get("soft_time_limit"),
        False,
        root_id,
        parent_id,
        shadow,
        named.get("chain"),
        ignore_result=named.get("ignore_result"),
        replaced_task_nesting=named.get("replaced_task_nesting", 0),
        **routed,
    )
    for stamp in routed.pop("stamped_headers", None) or ():
        routed.pop(stamp, None)
    return _destination(app, task.name, body, headers, properties, routed)


def _to_queue(app: Any, routed: dict[str, Any], queue: str) -> dict[str, Any]:
    """Celery's routing, pointed at pynenc's queue when the two disagree."""
    chosen = routed.get("queue")
    name = chosen.name if isinstance(chosen, Queue) else chosen
    if name != queue:
        routed = {**routed, "queue": app.amqp.queues[queue]}
    return routed


def _seconds_left(app: Any, expires: Any) -> Any:
    """The message ``expiration`` (seconds) for ``expires``, never negative (Celery's)."""
    if isinstance(expires, int | float):
        return expires if expires >= 0 else 0
    when = datetime.fromisoformat(expires) if isinstance(expires, str) else expires
    now = app.now()
    if when.tzinfo is None:
        now = now.replace(tzinfo=None)
    return max(0.0, (when - now).total_seconds())


def _destination(
    app: Any,
    name: str,
    body: Any,
    headers: dict[str, Any],
    properties: dict[str, Any],
    routed: dict[str, Any],
) -> Publication:
    """Exchange, routing key, declarations and retry policy as Celery's publisher derives
    them from the routing options; the other options become message properties."""
    extra = {k: v for k, v in routed.items() if k not in _PUBLISH_NAMED}
    if routed.get("headers"):
        headers.update(routed["headers"])
    properties.update(extra)
    queue: Any = routed.get("queue")
    exchange = routed.get("exchange")
    routing_key = routed.get("routing_key")
    if queue is None and exchange is None:
        queue = app.amqp.default_queue
    queue_name = queue
    if isinstance(queue, str):
        queue = app.amqp.queues[queue]
    elif queue is not None:
        queue_name = queue.name
    exchange_type = routed.get("exchange_type") or getattr(
        getattr(queue, "exchange", None), "type", "direct"
    )
    if (not exchange or not routing_key) and exchange_type == "direct":
        exchange, routing_key = "", queue_name
    elif exchange is None:
        exchange = queue.exchange.name or app.amqp.default_exchange
        routing_key = routing_key or queue.routing_key or app.conf.task_default_routing_key
    declare = routed.get("declare")
    if declare is None and queue is not None and not isinstance(queue, Broadcast):
        declare = [queue]
    policy = dict(app.conf.task_publish_retry_policy, **(routed.get("retry_policy") or {}))
    return Publication(name, body, exchange, str(routing_key), headers, properties, declare, policy)


def announce_retry(
    task: Any,
    request: Any,
    eta: Any,
    countdown: float | None,
    args: Any = None,
    kwargs: Any = None,
) -> None:
    """Send both publish signals for a retry of the running ``request`` with ``args`` and
    ``kwargs`` (its own when ``None``): pynenc retries the invocation itself; Celery would
    publish this message."""
    if not eta and countdown is None:
        countdown = task.default_retry_delay
    message = retry_publication(task, request, countdown, eta, args, kwargs)
    message.before()
    message.after()


__all__ = [
    "Publication",
    "announce_retry",
    "app_queue",
    "new_task_id",
    "publication",
    "retry_publication",
    "wanted",
]
