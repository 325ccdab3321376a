"""What a compat task receives as a step of a canvas, in Celery's calling convention.

pynenc's composition (:mod:`pynenc.compose`) gives a released step what it waited for: the
previous step's result, a group's ordered results, or, for an error callback, the failed
invocation and its exception. Celery passes them as **positional arguments put before the
step's own** (``add.s(4)`` after a step that returned 2 runs ``add(2, 4)``), whatever the
function's parameters are called, ``*args`` included. An error callback gets
``(request, exc, traceback)`` when its function takes more than one positional argument
and is not ``bind=True`` (Celery's "new-style" errback), else the failed task's id alone.

So a compat step that receives something is stored as the caller wrote it (its ``args`` and
``kwargs`` under :data:`RECEIVING`) and bound to the function only when it runs, with the
received values first (:func:`receive`). Steps that receive nothing are stored as any call.
"""

from __future__ import annotations

from typing import Any

from celery.app.task import Context
from celery.exceptions import ChordError
from celery.utils.functional import arity_greater

from pynenc.arguments import Arguments
from pynenc.exceptions import DependencyError, InvocationNotFoundError
from pynenc.records import InvocationRecord, InvocationStatus

#: the stored argument of a step that receives values: ``[args, kwargs]``, plus the errback
#: style (``"new"``/``"old"``) for an error callback
RECEIVING = "__celery_receiving__"
#: what a released error callback runs with when Celery would not call it (see
#: :func:`calls_errbacks`): the adapter returns ``None`` without running the task
SKIPPED = "__celery_errback_skipped__"
#: the per-call header under which the canvas keeps what Celery's errors need (hidden from
#: ``self.request.headers``): ``{"chord": [ids]}`` on a chord body's first steps (the ids
#: the chord's header waited for), ``{"after_chord": 1}`` on the steps after one; and the
#: step's place in the canvas (:mod:`pynenc_celery_compat.canvas_lineage`)
MARK = "pynenc_celery"


def new_style_errback(task: Any) -> bool:
    """Whether Celery calls the error callback ``task`` with ``(request, exc, traceback)``
    (its function takes more than one positional argument and it is not ``bind=True``)
    rather than with the failed task's id."""
    header = getattr(task, "__header__", None)
    if header is None or type(header).__name__ == "partial":  # bind=True: old style
        return False
    return bool(arity_greater(header, 1))


def bind_receiving(
    adapter: Any, args: tuple[Any, ...], kwargs: dict[str, Any], receiving: int
) -> tuple[Arguments, tuple[str, ...]]:
    """The stored arguments of a compat step that receives ``receiving`` values (2: an
    error callback); see the module docs.

    :raises TypeError: the call cannot take what it will receive (Celery's ``typing``).
    """
    if not receiving:
        return adapter.call_arguments(args, kwargs), ()
    stored: list[Any] = [list(args), dict(kwargs)]
    count = receiving
    if receiving == 2:  # an error callback
        new = new_style_errback(adapter.compat)
        stored.append("new" if new else "old")
        count = 3 if new else 1
    if adapter.compat.typing is not False:
        try:
            adapter.signature.bind(*([None] * count), *args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"{adapter.compat.name} cannot take the {count} value(s) it receives in the "
                f"canvas (put before its own arguments, as Celery does): {exc}. Make it "
                "immutable (.si()) if it should receive nothing"
            ) from None
    return Arguments({RECEIVING: stored}), ()


def receive(
    adapter: Any, kwargs: dict[str, Any], values: tuple[Any, ...], into: tuple[str, ...]
) -> dict[str, Any]:
    """The arguments a released compat step runs with: ``values`` before its own ``args``
    (an error callback's turned into Celery's); bound to the function by name."""
    stored = kwargs.get(RECEIVING)
    if stored is None or len(kwargs) != 1:
        return {**dict(zip(into, values, strict=True)), **kwargs}
    args, call_kwargs = list(stored[0]), dict(stored[1])
    if len(stored) > 2:
        failed, exc = values
        if not calls_errbacks(failed):
            return {SKIPPED: True}
        values = errback_values(failed, exc, stored[2] == "new")
    return dict(adapter.call_arguments((*values, *args), call_kwargs).kwargs)


def calls_errbacks(failed: Any) -> bool:
    """Whether Celery calls the error callbacks of the failed invocation ``failed``: not
    for a chord's body that failed because a step before the chord did (that step called
    its own; Celery fails the body without calling the body's)."""
    record: InvocationRecord = failed._record()
    error = record.error or {}
    mark = (record.headers or {}).get(MARK) or {}
    if "chord" not in mark or "upstream" not in error:
        return True
    return _inside_header(failed.app, str(error["upstream"]), set(mark["chord"]))


def errback_values(failed: Any, exc: BaseException, new_style: bool) -> tuple[Any, ...]:
    """What Celery gives an error callback for the invocation ``failed`` that raised
    ``exc``: ``(request, exc, traceback)``, or ``(task_id,)`` for an old-style one."""
    if not new_style:
        return (failed.invocation_id,)
    from pynenc_celery_compat.result import celery_exception

    record: InvocationRecord = failed._record()
    app = failed.app
    exc = celery_error(app, record, celery_exception(exc))
    error = record.error or {}
    upstream = "upstream" in error
    traceback = None if upstream else (error.get("traceback") or None)
    return (failed_request(app, record, received=not upstream), exc, traceback)


def failed_request(app: Any, record: InvocationRecord, received: bool) -> Context:
    """A Celery request (``Context``) describing the failed invocation ``record``, as a
    Celery worker hands it to a new-style error callback."""
    from pynenc_celery_compat.result_meta import call_of

    try:
        name, args, kwargs = call_of(app, record, received)
    except Exception:  # the request is a description: an unreadable call leaves it empty
        name, args, kwargs = record.task_id, [], {}
    from pynenc_celery_compat.canvas_lineage import request_lineage

    fields = {
        "id": record.invocation_id,
        "task": name,
        "args": args,
        "kwargs": kwargs,
        "retries": record.num_retries,
        "parent_id": record.parent_id,
        "root_id": record.root_id or record.parent_id or record.invocation_id,
        "delivery_info": {"routing_key": record.queue, "priority": record.priority},
        "is_eager": False,
    }
    mark = (record.headers or {}).get(MARK)
    if mark:  # a canvas step: where Celery's canvas put it
        fields.update(request_lineage(mark, record.parent_id))
    return Context(fields)


def celery_error(app: Any, record: InvocationRecord, exc: BaseException) -> BaseException:
    """The error Celery reports for the failed ``record``: ``exc`` (its stored error),
    or a ``ChordError`` naming the header member that failed when ``record`` is a chord
    body (or a step after one) that failed because a member of its header did."""
    error = record.error
    if not error or "upstream" not in error:
        return exc
    if isinstance(exc, DependencyError):  # what it waited for was revoked or expired
        return _revoked(app, exc)
    mark = (record.headers or {}).get(MARK)
    if not mark:
        return exc
    current = record
    for _ in range(10_000):  # a chain after the chord: walk back to its body
        mark = (current.headers or {}).get(MARK) or {}
        error = current.error or {}
        if "upstream" not in error:
            return exc
        upstream = str(error["upstream"])
        if "chord" in mark:
            before = set(mark["chord"])
            if _inside_header(app, upstream, before):
                chord_error: BaseException = ChordError(f"Dependency {upstream} raised {exc!r}")
                return chord_error
            return exc
        if not mark.get("after_chord"):
            return exc
        found = _record(app, upstream)
        if found is None:
            return exc
        current = found
    return exc


def _revoked(app: Any, exc: DependencyError) -> BaseException:
    """Celery's ``TaskRevokedError`` for a step whose upstream was revoked or expired
    (``exc`` when that cannot be told)."""
    from pynenc_celery_compat.exceptions import TaskRevokedError

    upstream = _record(app, exc.upstream) if exc.upstream else None
    reasons = {InvocationStatus.CANCELLED: "revoked", InvocationStatus.EXPIRED: "expired"}
    reason = None if upstream is None else reasons.get(upstream.status)
    if reason is None:
        return exc
    revoked: BaseException = TaskRevokedError(reason)
    return revoked


def _inside_header(app: Any, member: str, before: set[str]) -> bool:
    """Whether the failure that reached a chord body through its header member ``member``
    started inside the header (not in a step before the chord, one of ``before``)."""
    current = member
    for _ in range(10_000):
        if current in before:
            return False
        record = _record(app, current)
        error = None if record is None else record.error
        if not error or "upstream" not in error:
            return True
        current = str(error["upstream"])
    return True


def _record(app: Any, invocation_id: str) -> InvocationRecord | None:
    try:
        return app.orchestrator.get_record(invocation_id)  # type: ignore[no-any-return]
    except InvocationNotFoundError:
        return None


def visible_headers(headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """A step's headers as its task sees them (``self.request.headers``): without the
    canvas's own entry."""
    if not headers or MARK not in headers:
        return headers
    rest = {k: v for k, v in headers.items() if k != MARK}
    return rest or None


__all__ = [
    "MARK",
    "RECEIVING",
    "SKIPPED",
    "calls_errbacks",
    "bind_receiving",
    "celery_error",
    "errback_values",
    "new_style_errback",
    "receive",
    "visible_headers",
]
