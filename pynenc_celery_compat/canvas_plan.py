"""A Celery canvas run by pynenc's composition, with no polling and no ``chord_unlock``.

The canvas (this package's classes, Celery's own, or their dict forms) is walked into
pynenc steps with :class:`pynenc.compose.Planner`: every task call of the canvas becomes a
step with the id Celery would give it (``freeze()`` ids are kept), waiting for the steps
it follows and receiving their results; error callbacks (``link_error``) are pynenc's
error callbacks, success callbacks (``link``) steps that receive the result. Every step is
registered at once (:mod:`pynenc_celery_compat.canvas_run`); the first ones are published
now, the others released by the state backend when what they wait for ends.

The walk follows Celery's rules (``_chain.prepare_steps``, ``group._prepared``,
``_chord.run``): partial arguments go to the first step(s); a chain's options to its first
task, its ``link`` to its last, its ``link_error`` to every task; a group's options to
every member; a chord's ``countdown``/``eta`` to its header, its other options to header
and body, its callbacks and ``task_id`` to its body; nested chains are spliced, nested
groups flattened, a one-member group unrolled, a group followed by a step is a chord.
The result objects are Celery's: the last result with ``parent`` links back.

A ``countdown``/``eta`` of a step that waits (a later chain step, a ``link`` callback, a
chord body, an old-style ``link_error``) counts from its release, as Celery's worker
sends such a step when what it follows ends (``pynenc.records.Links.delay``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import canvas as celery_canvas
from celery.utils.functional import maybe_list
from kombu.utils.uuid import uuid

from pynenc.compose import ChainShape, GroupShape, Planner, Shape, Sig, exits
from pynenc.records import RECEIVE_LIST, RECEIVE_VALUE
from pynenc_celery_compat import checks
from pynenc_celery_compat.bridge import bridge_for
from pynenc_celery_compat.canvas_lineage import Lineage, group_options, placement
from pynenc_celery_compat.canvas_parts import (
    as_signature,
    plain,
    runs_on_pynenc,
    step_options,
    task_of,
    top,
)
from pynenc_celery_compat.canvas_receive import new_style_errback
from pynenc_celery_compat.result import AsyncResult, GroupResult


@dataclass(frozen=True)
class At:
    """Where a node starts: the steps it waits for, what its first steps receive from them,
    and, for a chord's body, the steps its header waited for (the chord's ``before``)."""

    after: tuple[str, ...] = ()
    receive: str | None = None
    chord_before: tuple[str, ...] | None = None


class CeleryLeaf(Exception):
    """A task of the canvas takes Celery's path (the walk stops)."""


class Walk:
    """One walk of a canvas into steps (see the module docs)."""

    def __init__(self, canvas_app: Any, persist: bool) -> None:
        self.canvas_app = canvas_app
        #: freeze(): remember the ids in the signatures (done by :meth:`save`)
        self.persist = persist
        self.planner = Planner()
        self.celery_app: Any = None
        self.bridge: Any = None
        self.pynenc_tasks: dict[str, Any] = {}
        self.saves: list[Callable[[], None]] = []
        #: chord body steps and those after them (their errors may be a ChordError)
        self.chordish: set[str] = set()
        self.linking = 0
        #: the steps published at once: (compat task, its native call, Celery options)
        self.published: list[tuple[Any, Sig[Any], dict[str, Any]]] = []
        #: Celery's lineage of the steps (parent, root, group, children)
        self.lineage = Lineage()

    # -- nodes ---------------------------------------------------------------------------

    def node(
        self,
        sig: Any,
        at: At,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        last_id: str | None = None,
        errbacks: tuple[Any, ...] = (),
        links: tuple[Any, ...] = (),
    ) -> tuple[Shape, Any]:
        """Plan ``sig``: its shape (step ids) and its Celery result."""
        sig = as_signature(sig, self.canvas_app)
        kwargs = kwargs or {}
        options = options or {}
        if isinstance(sig, celery_canvas._chord):
            return self.chord(sig, at, args, kwargs, options, last_id, errbacks, links)
        if isinstance(sig, celery_canvas.group):
            return self.group(sig, at, args, kwargs, options, errbacks, links)
        if isinstance(sig, celery_canvas.chunks):
            return self.group(sig.group(), at, args, kwargs, options, errbacks, links)
        if isinstance(sig, celery_canvas._chain):
            return self.chain(sig, at, args, kwargs, options, last_id, errbacks, links)
        if isinstance(sig, celery_canvas._basemap):
            return self.mapped(sig, at, options, last_id, errbacks, links)
        merged = {**sig.options, **options}
        if sig.immutable:
            call = (tuple(sig.args), dict(sig.kwargs))
        else:
            call = ((*args, *sig.args), {**sig.kwargs, **kwargs})
        return self.leaf(sig, task_of(sig), call, merged, at, last_id, errbacks, links)

    def chain(
        self,
        sig: Any,
        at: At,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        last_id: str | None,
        errbacks: tuple[Any, ...],
        links: tuple[Any, ...],
    ) -> tuple[Shape, Any]:
        merged = {**sig.options, **options}
        if not sig.immutable:
            args = (*args, *sig.args)
        link = tuple(maybe_list(merged.pop("link", None)) or ())
        errbacks = (*errbacks, *(maybe_list(merged.pop("link_error", None)) or ()))
        last_id = merged.pop("task_id", None) or last_id
        first_options = plain(merged)
        placed = group_options(merged)  # in a group, its last step is the member
        steps = self.chain_steps(sig)
        if not steps:
            raise ValueError(f"{sig!r}: an empty chain has nothing to run")
        shapes: list[Shape] = []
        previous: Any = None
        step_at = at
        for index, step in enumerate(steps):
            first, last = index == 0, index == len(steps) - 1
            options = {**self.after_group(previous, step_at), **(first_options if first else {})}
            shape, result = self.node(
                step,
                step_at,
                args if first else (),
                kwargs if first else {},
                {**options, **placed} if last else options,
                last_id if last else None,
                errbacks,
                (*links, *link) if last else (),
            )
            if previous is not None and result is not None:
                if len(step_at.after) == 1 and step_at.receive == RECEIVE_VALUE:
                    self.lineage.child(step_at.after[0], top(result))  # Celery's children
                top(result).parent = previous
            shapes.append(shape)
            previous = result
            if ends_in_group(shape):  # the next step is a chord's body
                step_at = At(tuple(exits(shape)), RECEIVE_LIST, step_at.after)
            else:
                step_at = At(tuple(exits(shape)), RECEIVE_VALUE)
        return ChainShape(shapes), previous

    def after_group(self, previous: Any, at: At) -> dict[str, Any]:
        """The options of a chain's step that is a chord's body (after a group): its
        header's id as its group (Celery's ``request.group``)."""
        if at.receive == RECEIVE_LIST and isinstance(previous, GroupResult) and previous.id:
            return placement(previous.id, None)
        return {}

    def chain_steps(self, sig: Any) -> list[Any]:
        """A chain's steps as Celery runs them: nested chains spliced (with their own
        callbacks), one-member groups unrolled, empty groups dropped unless alone."""
        pending = deque(as_signature(step, self.canvas_app) for step in sig.tasks)
        steps: list[Any] = []
        while pending:
            step = pending.popleft()
            if isinstance(step, celery_canvas._chain):  # a nested chain: its steps
                inner = [as_signature(s, self.canvas_app) for s in step.unchain_tasks()]
                pending.extendleft(reversed(inner))
                continue
            if isinstance(step, celery_canvas.group):
                step = celery_canvas.maybe_unroll_group(step)
                step = as_signature(step, self.canvas_app)
                if celery_canvas._is_empty_group(step) and (pending or steps):
                    continue
            steps.append(step)
        return steps

    def group(
        self,
        sig: Any,
        at: At,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        errbacks: tuple[Any, ...],
        links: tuple[Any, ...],
    ) -> tuple[Shape, Any]:
        merged = {**sig.options, **options}
        group_id = merged.pop("task_id", None) or uuid()
        self.save(lambda: sig.options.setdefault("task_id", group_id))
        # a group's link goes to its first task, immutable (Celery's group.link)
        link = [*links, *(maybe_list(merged.pop("link", None)) or ())]
        errbacks = (*errbacks, *(maybe_list(merged.pop("link_error", None)) or ()))
        member_options = plain(merged)
        shapes: list[Shape] = []
        results: list[Any] = []
        for index, member in enumerate(self.members(sig)):
            first_links = tuple(_immutable(s, self.canvas_app) for s in link) if not index else ()
            placed = {**member_options, **placement(group_id, index)}
            shape, result = self.node(member, at, args, kwargs, placed, None, errbacks, first_links)
            shapes.append(shape)
            if result is not None:
                results.append(result)
        app = self.celery_app if self.celery_app is not None else self.canvas_app
        return GroupShape(shapes), GroupResult(group_id, results, app=app)

    def members(self, sig: Any) -> list[Any]:
        """A group's members as Celery sends them: generators consumed, nested groups
        flattened, empty chains dropped."""
        found: list[Any] = []
        for member in list(sig.tasks):
            member = as_signature(member, self.canvas_app)
            if isinstance(member, celery_canvas.group):
                found.extend(self.members(member))
            elif isinstance(member, celery_canvas._chain) and not member.tasks:
                continue
            else:
                found.append(member)
        return found

    def chord(
        self,
        sig: Any,
        at: At,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        last_id: str | None,
        errbacks: tuple[Any, ...],
        links: tuple[Any, ...],
    ) -> tuple[Shape, Any]:
        merged = {**sig.options, **options}
        kwargs = dict(kwargs)
        body = as_signature(kwargs.pop("body", None) or sig.body, self.canvas_app)
        if body is None:
            raise TypeError(f"{sig!r}: a chord needs a body (chord(header)(body))")
        if not sig.immutable:
            args = (*args, *sig.args)
        kwargs = {**(sig.kwargs.get("kwargs") or {}), **kwargs}
        header = sig.tasks
        if not isinstance(header, celery_canvas.group):
            from pynenc_celery_compat.canvas import group

            header = group(header, app=self.canvas_app)
            frozen = header
            self.save(lambda: sig.kwargs.__setitem__("header", frozen))
        last_id = merged.pop("task_id", None) or last_id
        link = tuple(maybe_list(merged.pop("link", None)) or ())
        body_errbacks = (*errbacks, *(maybe_list(merged.pop("link_error", None)) or ()))
        on_header = bool(self.canvas_app.conf.task_allow_error_cb_on_chord_header)
        common = plain(merged)
        body_options = {k: v for k, v in common.items() if k not in ("countdown", "eta")}
        head, header_result = self.group(
            header, at, args, kwargs, common, errbacks if on_header else (), ()
        )
        body_at = At(tuple(exits(head)), RECEIVE_LIST, at.after)
        body_args: tuple[Any, ...] = ()
        if not exits(head):  # an empty header: the body gets [] once the chord starts
            body_at, body_args = At(at.after), ([],)
        body_options.update(placement(header_result.id, None))
        tail, result = self.node(
            body, body_at, body_args, {}, body_options, last_id, body_errbacks, (*links, *link)
        )
        if result is not None:
            top(result).parent = header_result
        return ChainShape([head, tail]), result

    def mapped(
        self,
        sig: Any,
        at: At,
        options: dict[str, Any],
        last_id: str | None,
        errbacks: tuple[Any, ...],
        links: tuple[Any, ...],
    ) -> tuple[Shape, Any]:
        """``xmap``/``xstarmap``: one call of Celery's ``celery.map``/``celery.starmap``
        built-in over the items (immutable: it receives nothing in a chain)."""
        from pynenc_celery_compat.maps import MAP, STARMAP

        mapped = as_signature(sig.kwargs["task"], self.canvas_app)
        star = isinstance(sig, celery_canvas.xstarmap)
        items = [list(i) for i in sig.kwargs["it"]] if star else list(sig.kwargs["it"])
        builtin = STARMAP if star else MAP
        call = ((), {"task": dict(mapped), "it": items})
        merged = {**sig.options, **options}
        return self.leaf(sig, builtin, call, merged, at, last_id, errbacks, links, task_of(mapped))

    # -- one call ------------------------------------------------------------------------

    def leaf(
        self,
        sig: Any,
        task: Any,
        call: tuple[tuple[Any, ...], dict[str, Any]],
        merged: dict[str, Any],
        at: At,
        last_id: str | None,
        errbacks: tuple[Any, ...],
        links: tuple[Any, ...],
        decides: Any = None,
    ) -> tuple[Shape, Any]:
        """One task call of the canvas (``decides``: the task whose path counts, for a
        map's built-in task the mapped one)."""
        self.on_pynenc(decides if decides is not None else task)
        task_id = merged.get("task_id") or last_id or uuid()
        if task_id in self.planner.steps:  # one signature object linked twice
            task_id = uuid()
        if not self.linking:
            self.save(lambda: sig.options.setdefault("task_id", task_id))
        mark: dict[str, Any] | None = None
        if at.receive == RECEIVE_LIST and at.chord_before is not None:
            mark = {"chord": list(at.chord_before)}
        elif self.chordish.intersection(at.after):
            mark = {"after_chord": 1}
        if mark is not None:
            self.chordish.add(task_id)
        lineage = self.lineage.mark(at.after, merged)
        if lineage:
            mark = {**(mark or {}), **lineage}
        call_args, call_kwargs = checks.call_values(task.name, call[0], call[1])
        native = Sig(
            self.adapter(task),
            call_args,
            call_kwargs,
            options=step_options(self.bridge, task, merged, task_id, call, mark),
            is_immutable=bool(sig.immutable),  # .si(); a map's signature is immutable too
            errbacks=tuple(self.errback(e) for e in self.errbacks_of(merged, errbacks)),
        )
        step_id = self.planner.sig(native, at.after, at.receive)
        self.lineage.planned(step_id, lineage)
        if not at.after:  # published now: Celery's publish signals name it
            self.published.append((task, native, {**plain(merged), **group_options(merged)}))
        callbacks = [*(maybe_list(merged.get("link")) or ()), *links]
        placed = self.lineage.callbacks(callbacks)
        self.linking += 1
        try:
            linked = [
                self.node(callback, At((step_id,), RECEIVE_VALUE), options=options)[1]
                for callback, options in zip(callbacks, placed, strict=True)
            ]
        finally:
            self.linking -= 1
        self.lineage.linked(step_id, placed, linked)
        ignored = bool(merged.get("ignore_result", task.ignore_result))
        return step_id, AsyncResult(
            step_id, app=self.celery_app, task_name=task.name, ignored=ignored
        )

    def errbacks_of(self, merged: dict[str, Any], inherited: tuple[Any, ...]) -> list[Any]:
        found: list[Any] = []
        for errback in (*(maybe_list(merged.get("link_error")) or ()), *inherited):
            if not any(errback is known for known in found):
                found.append(errback)
        return found

    def errback(self, errback: Any) -> Sig[Any]:
        """A ``link_error`` signature as pynenc's error callback (a task call only)."""
        sig = as_signature(errback, self.canvas_app)
        if not isinstance(sig, celery_canvas.Signature) or sig.subtask_type:
            raise TypeError(
                f"link_error={sig!r}: an error callback must be one task's signature "
                "(task.s(...)); call a chain or group from that task instead"
            )
        task = task_of(sig)
        self.on_pynenc(task)
        # a new-style errback is a function call in Celery's worker, made at once: its
        # countdown/eta mean nothing there; an old-style one is sent, delayed by them
        dropped = ("task_id", "countdown", "eta") if new_style_errback(task) else ("task_id",)
        options = {k: v for k, v in sig.options.items() if k not in dropped}
        return Sig(
            self.adapter(task),
            tuple(sig.args),
            dict(sig.kwargs),
            step_options(
                self.bridge, task, options, None, (tuple(sig.args), dict(sig.kwargs)), None
            ),
            is_immutable=bool(sig.immutable),
        )

    def on_pynenc(self, task: Any) -> None:
        """Check that ``task`` runs on pynenc, on the app of the canvas's other tasks.

        :raises CeleryLeaf: it takes Celery's path.
        """
        if not runs_on_pynenc(task):
            raise CeleryLeaf(task.name)
        app = task._get_app()
        bridge = bridge_for(app)
        if self.bridge is None:
            self.bridge, self.celery_app = bridge, bridge.celery_app
        elif bridge.pynenc is not self.bridge.pynenc:
            raise TypeError(
                f"a canvas runs on one app: {task.name} belongs to Celery app "
                f"{bridge.celery_app.main!r}, other tasks to {self.celery_app.main!r}"
            )
        self.pynenc_tasks[task.name] = task

    def adapter(self, task: Any) -> Any:
        return task.pynenc_task_for(self.bridge.pynenc)

    # -- running -------------------------------------------------------------------------

    def save(self, action: Callable[[], None]) -> None:
        if self.persist and not self.linking:
            self.saves.append(action)


def ends_in_group(shape: Shape) -> bool:
    """Whether what follows ``shape`` gets a list (a group; a chain or chord ending in
    one)."""
    if isinstance(shape, GroupShape):
        return True
    return isinstance(shape, ChainShape) and bool(shape.steps) and ends_in_group(shape.steps[-1])


def _immutable(sig: Any, app: Any) -> Any:
    return as_signature(sig, app).clone().set(immutable=True)


__all__ = ["At", "CeleryLeaf", "Walk"]
