"""Celery's canvas for compat tasks: importable as ``celery.canvas`` is.

``Signature``, ``chain``, ``group``, ``chord``, ``xmap``, ``xstarmap`` and ``chunks`` are
subclasses of Celery's classes (so ``isinstance`` checks, ``dict`` forms, ``.set()``,
``.clone()``, ``|`` and ``freeze()`` work as in Celery), whose ``apply_async`` runs the
canvas on pynenc's composition (:mod:`pynenc_celery_compat.canvas_plan`): every step
registered at once, each released by the state backend when what it waits for ends, a
chord's body by the count of its header reaching zero. Nothing polls; there is no
``celery.chord_unlock``.

Celery's own code runs them (``super()``) when the app runs eagerly (``task_always_eager``:
Celery's eager canvas, sequential groups and inline callbacks) and when every task of the
canvas is switched back to Celery. A canvas mixing both is refused
(:class:`~pynenc_celery_compat.canvas_run.MixedCanvasError`).

``task.s()``/``task.si()``/``task.signature()`` of a compat task return this module's
``Signature``, so ``a.s() | b.s()`` builds this module's ``chain``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import canvas as _celery
from celery.canvas import (  # noqa: F401  # Celery's other names, as celery.canvas has them
    StampingVisitor,
    maybe_unroll_group,
)
from celery.utils.functional import is_list

#: set while Celery's own canvas code runs (eager, or switched back): ours steps aside
_celery_path: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pynenc_celery_compat_canvas_celery_path", default=False
)


@contextmanager
def _celery_code() -> Iterator[None]:
    token = _celery_path.set(True)
    try:
        yield
    finally:
        _celery_path.reset(token)


def _run(sig: Any, celery_apply: Callable[..., Any], args: Any, kwargs: Any, options: Any) -> Any:
    """``sig.apply_async``: on pynenc, or through ``celery_apply`` (Celery's own)."""
    from pynenc_celery_compat import canvas_run

    if not _celery_path.get():
        result = canvas_run.apply(sig, args, kwargs, options)
        if result is not canvas_run.CELERY:
            return result
    with _celery_code():
        return celery_apply(args, kwargs, **options)


def _freeze(sig: Any, celery_freeze: Callable[..., Any], _id: Any, extra: dict[str, Any]) -> Any:
    """``sig.freeze()``: ids chosen for pynenc (the run uses them), or Celery's own."""
    from pynenc_celery_compat import canvas_run

    if not _celery_path.get() and not any(v is not None for v in extra.values()):
        result = canvas_run.freeze(sig, _id)
        if result is not canvas_run.CELERY:
            return result
    with _celery_code():
        return celery_freeze(_id, **extra)


class Signature(_celery.Signature):  # type: ignore[misc]
    """Celery's ``Signature`` (a dict with ``task``, ``args``, ``kwargs``, ``options``,
    ``subtask_type``, ``immutable``): ``delay``/``apply_async`` go through the task's
    ``apply_async`` (``link``/``link_error`` included, on pynenc's composition)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any], app: Any = None) -> Any:
        """The signature ``d`` describes, as this module's class."""
        kind = d.get("subtask_type")
        if kind:
            target = TYPES.get(kind)
            if target is None:  # a type registered with Celery only
                return _adopt(_celery.Signature.from_dict(d, app=app))
            if target is not cls:
                return target.from_dict(d, app=app)  # type: ignore[attr-defined]
        return Signature(d, app=app)

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Any:
        """A copy (partial ``args`` prepended, ``kwargs`` merged), of this module's class."""
        return _adopt(super().clone(args, kwargs, **opts))

    partial = clone

    def __or__(self, other: Any) -> Any:
        return _adopt(super().__or__(other))


class _chain(_celery._chain, Signature):  # type: ignore[misc]
    """Celery's chain: each step gets the previous step's result first (unless ``.si``);
    ``apply_async()`` returns the last step's result, ``parent`` links back."""

    def __or__(self, other: Any) -> Any:
        return _adopt(super().__or__(other))

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return _run(self, super().apply_async, args, kwargs, options)

    def freeze(self, _id: Any = None, **extra: Any) -> Any:
        return _freeze(self, super().freeze, _id, extra)


class chain(_chain, _celery.chain):  # type: ignore[misc]
    """``chain(a.s(), b.s())``, ``chain(generator)``: ``a.s() | b.s()``."""

    def __new__(cls, *tasks: Any, **kwargs: Any) -> Any:
        if not kwargs and tasks and (len(tasks) != 1 or is_list(tasks[0])):
            steps = tasks[0] if len(tasks) == 1 else tasks
            return _adopt(_celery._fold_chain(steps))  # Celery's rules; this module's class
        return dict.__new__(cls)


class group(_celery.group, Signature):  # type: ignore[misc]
    """Celery's group: members in parallel (a generator is consumed first); a
    ``GroupResult`` whose ``get()`` lists their results in order. ``group | task`` is a
    chord."""

    def __or__(self, other: Any) -> Any:
        return _adopt(super().__or__(other))

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        add_to_parent: bool = True,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        **options: Any,
    ) -> Any:
        if link is not None:  # Celery's errors
            raise TypeError("Cannot add link to group: use a chord")
        if link_error is not None:
            raise TypeError("Cannot add link to group: do that on individual tasks")

        def celery_apply(args: Any, kwargs: Any, **options: Any) -> Any:
            return _celery.group.apply_async(self, args, kwargs, add_to_parent, producer, **options)

        return _run(self, celery_apply, args, kwargs, options)

    def freeze(self, _id: Any = None, **extra: Any) -> Any:
        return _freeze(self, super().freeze, _id, extra)


class _chord(_celery._chord, Signature):  # type: ignore[misc]
    """Celery's chord: the header's members in parallel, then the body with their
    results in order; on pynenc, the body is released by the header's count reaching zero
    (no ``chord_unlock``). A member that fails fails the body with ``ChordError``."""

    def __or__(self, other: Any) -> Any:
        return _adopt(super().__or__(other))

    def apply_async(
        self, args: Any = None, kwargs: Any = None, task_id: Any = None, **options: Any
    ) -> Any:
        celery_options = dict(options)
        if task_id is not None:
            options["task_id"] = task_id

        def celery_apply(args: Any, kwargs: Any, **_: Any) -> Any:
            return _celery._chord.apply_async(self, args, kwargs, task_id, **celery_options)

        return _run(self, celery_apply, args, kwargs, options)

    def freeze(self, _id: Any = None, **extra: Any) -> Any:
        return _freeze(self, super().freeze, _id, extra)


chord = _chord


class xmap(_celery.xmap, Signature):  # type: ignore[misc]
    """``task.map(items)``: one call running the task on each item, in order."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Any:
        from pynenc_celery_compat import maps

        sent = None if _celery_path.get() else maps.send_mapped(self, maps.MAP, opts)
        return super().apply_async(args, kwargs, **opts) if sent is None else sent


class xstarmap(_celery.xstarmap, Signature):  # type: ignore[misc]
    """``task.starmap(items)``: one call running ``task(*item)`` for each item."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Any:
        from pynenc_celery_compat import maps

        sent = None if _celery_path.get() else maps.send_mapped(self, maps.STARMAP, opts)
        return super().apply_async(args, kwargs, **opts) if sent is None else sent


class chunks(_celery.chunks, Signature):  # type: ignore[misc]
    """``task.chunks(items, n)``: a group of one ``xstarmap`` per ``n`` items; its
    ``GroupResult.get()`` is a list of lists."""

    def group(self) -> group:
        task, it, n = self._unpack_args(self.kwargs)
        parts = [xstarmap(task, part, app=self._app) for part in _celery._chunks(iter(it), n)]
        return group(parts, app=self._app)


TYPES: dict[str, type] = {
    "chain": _chain,
    "group": group,
    "chord": _chord,
    "xmap": xmap,
    "xstarmap": xstarmap,
    "chunks": chunks,
}
#: Celery's class -> this module's
_OURS: dict[type, type] = {
    _celery.Signature: Signature,
    _celery._chain: _chain,
    _celery.chain: chain,
    _celery.group: group,
    _celery._chord: _chord,
    _celery.xmap: xmap,
    _celery.xstarmap: xstarmap,
    _celery.chunks: chunks,
}


def _adopt(sig: Any, depth: int = 0) -> Any:
    """``sig`` (made by Celery's code: ``clone``, ``|``, ``chain(...)``) as this module's
    class, with the chains, groups and chords in it (a generator's members are left to
    the run, which takes any signature)."""
    ours = _OURS.get(type(sig))
    if ours is None or depth > 50:
        return sig
    sig.__class__ = ours
    if isinstance(sig, _celery._chord):
        _adopt_all(sig.tasks, depth)
        _adopt(sig.body, depth + 1)
    elif isinstance(sig, _celery._chain | _celery.group):
        _adopt_all(sig.tasks, depth)
    return sig


def _adopt_all(members: Any, depth: int) -> None:
    if isinstance(members, _celery.Signature):
        _adopt(members, depth + 1)
    elif isinstance(members, list | tuple):
        for member in members:
            _adopt(member, depth + 1)


def signature(varies: Any, *args: Any, **kwargs: Any) -> Any:
    """Celery's ``signature()``: a copy of a signature, the signature a ``dict`` describes
    (``signature(dict(sig))`` rebuilds one), or a new one for a task or task name."""
    app = kwargs.get("app")
    if isinstance(varies, dict):
        if isinstance(varies, _celery.Signature):
            return _adopt(varies.clone())
        return Signature.from_dict(varies, app=app)
    return Signature(varies, *args, **kwargs)


subtask = signature


def maybe_signature(d: Any, app: Any = None, clone: bool = False) -> Any:
    """``d`` as a signature (``None`` stays ``None``; a ``dict`` is rebuilt)."""
    if d is None:
        return None
    if isinstance(d, _celery.Signature):
        if clone:
            d = d.clone()
        d = _adopt(d)
    elif isinstance(d, dict):
        d = signature(d)
    if app is not None:
        d._app = app
    return d


maybe_subtask = maybe_signature

__all__ = [
    "Signature",
    "chain",
    "chord",
    "chunks",
    "group",
    "maybe_signature",
    "maybe_subtask",
    "signature",
    "subtask",
    "xmap",
    "xstarmap",
]
