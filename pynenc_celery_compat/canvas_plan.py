"""A Celery canvas run by pynenc's composition, with no polling and no ``chord_unlock``.

The canvas (this package's classes, Celery's own, or their dict forms) is walked into
pynenc steps with :class:`pynenc.compose.Planner`: every task call of the canvas becomes a
step with the id Celery would give it (``freeze()`` ids are kept), waiting for the steps
it follows and receiving their results; error callbacks (``link_error``) are pynenc's
error callbacks, success callbacks (``link``) steps that receive the result. Every step is
registered at once (:func:`pynenc.compose_run.submit_steps`); the first ones are published
now, the others released by the state backend when what they wait for ends.

The walk follows Celery's rules (``_chain.prepare_steps``, ``group._prepared``,
``_chord.run``): partial arguments go to the first step(s); a chain's options to its first
task, its ``link`` to its last, its ``link_error`` to every task; a group's options to
every member; a chord's ``countdown``/``eta`` to its header, its other options to header
and body, its callbacks and ``task_id`` to its body; nested chains are spliced, nested
groups flattened, a one-member group unrolled, a group followed by a step is a chord.
The result objects are Celery's: the last result with ``parent`` links back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import canvas as celery_canvas
from celery.utils.functional import maybe_list
from kombu.utils.uuid import uuid

from pynenc.compose import ChainShape, GroupShape, Planner, Shape, Sig, exits
from pynenc.exceptions import StateBackendUnavailableError
from pynenc.records import RECEIVE_LIST, RECEIVE_VALUE
from pynenc_celery_compat import checks, publish, registry
from pynenc_celery_compat.bridge import bridge_for
from pynenc_celery_compat.canvas_receive import MARK
from pynenc_celery_compat.eager import ensure_runner, runs_eagerly, wants_runner
from pynenc_celery_compat.result import AsyncResult, GroupResult
from pynenc_celery_compat.routing import routed_to_celery
from pynenc_celery_compat.time_limits import check_time_limits

#: options that shape the canvas (or are Celery's bookkeeping), not one call's message
CANVAS_OPTIONS = frozenset(
    {
        "link",
        "link_error",
        "chord",
        "chain",
        "group_id",
        "group_index",
        "root_id",
        "parent_id",
        "reply_to",
        "task_id",
        "route_name",
        "add_to_parent",
        "stamped_headers",
        "producer",
        "publisher",
        "connection",
        "router",
        "result_cls",
        "interval",
        "max_retries",
        "body",
    }
)

#: :func:`apply`/:func:`freeze` answer for a canvas whose tasks all take Celery's path
CELERY = object()


@dataclass(frozen=True)
class At:
    """Where a node starts: the steps it waits for, what its first steps receive from them,
    and, for a chord's body, the steps its header waited for (the chord's ``before``)."""

    after: tuple[str, ...] = ()
    receive: str | None = None
    chord_before: tuple[str, ...] | None = None


class MixedCanvasError(TypeError):
    """A canvas with tasks on pynenc and tasks switched back to Celery."""


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
        steps = self.chain_steps(sig)
        if not steps:
            raise ValueError(f"{sig!r}: an empty chain has nothing to run")
        shapes: list[Shape] = []
        previous: Any = None
        step_at = at
        for index, step in enumerate(steps):
            first, last = index == 0, index == len(steps) - 1
            shape, result = self.node(
                step,
                step_at,
                args if first else (),
                kwargs if first else {},
                first_options if first else {},
                last_id if last else None,
                errbacks,
                (*links, *link) if last else (),
            )
            if previous is not None and result is not None:
                top(result).parent = previous
            shapes.append(shape)
            previous = result
            if ends_in_group(shape):  # the next step is a chord's body
                step_at = At(tuple(exits(shape)), RECEIVE_LIST, step_at.after)
            else:
                step_at = At(tuple(exits(shape)), RECEIVE_VALUE)
        return ChainShape(shapes), previous

    def chain_steps(self, sig: Any) -> list[Any]:
        """A chain's steps as Celery runs them: nested chains spliced (with their own
        callbacks), one-member groups unrolled, empty groups dropped unless alone."""
        pending = [as_signature(step, self.canvas_app) for step in sig.tasks]
        steps: list[Any] = []
        while pending:
            step = pending.pop(0)
            if isinstance(step, celery_canvas._chain):  # a nested chain: its steps
                pending[:0] = [as_signature(s, self.canvas_app) for s in step.unchain_tasks()]
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
            shape, result = self.node(
                member, at, args, kwargs, member_options, None, errbacks, first_links
            )
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
        call_args, call_kwargs = checks.call_values(task.name, call[0], call[1])
        native = Sig(
            self.adapter(task),
            call_args,
            call_kwargs,
            options=self.call_options(task, merged, task_id, call, mark),
            is_immutable=bool(sig.immutable),  # .si(); a map's signature is immutable too
            errbacks=tuple(self.errback(e) for e in self.errbacks_of(merged, errbacks)),
        )
        step_id = self.planner.sig(native, at.after, at.receive)
        if not at.after:  # published now: Celery's publish signals name it
            self.published.append((task, native, plain(merged)))
        self.linking += 1
        try:
            for callback in (*(maybe_list(merged.get("link")) or ()), *links):
                self.node(callback, At((step_id,), RECEIVE_VALUE))
        finally:
            self.linking -= 1
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
        options = {k: v for k, v in sig.options.items() if k != "task_id"}
        return Sig(
            self.adapter(task),
            tuple(sig.args),
            dict(sig.kwargs),
            self.call_options(task, options, None, (tuple(sig.args), dict(sig.kwargs)), None),
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

    def call_options(
        self,
        task: Any,
        merged: dict[str, Any],
        task_id: str | None,
        call: tuple[tuple[Any, ...], dict[str, Any]],
        mark: dict[str, Any] | None,
    ) -> Any:
        """The step's :class:`~pynenc.call_options.CallOptions` from Celery's options (as
        :func:`pynenc_celery_compat.calling.send` maps them), with the canvas mark."""
        from pynenc_celery_compat.calling import _call_options, _celery_names

        check_time_limits(task.soft_time_limit, task.time_limit, "task")
        options = plain(merged)
        if task.expires is not None and "expires" not in options:
            options["expires"] = task.expires
        if options:
            check_time_limits(options.get("soft_time_limit"), options.get("time_limit"), "call")
            options = checks.call_options(task.name, options)
        if self.bridge.router is not None:
            from pynenc_celery_compat.routes import routed

            options = routed(self.bridge.router, task, call[0], call[1], options)
        try:
            found = _call_options(task, options, task_id)
        except (TypeError, ValueError) as error:
            raise type(error)(_celery_names(task.name, str(error))) from None
        if mark is None or found is None:
            return found
        headers = {**(found.headers or {}), MARK: mark}
        return dataclasses.replace(found, headers=headers)

    # -- running -------------------------------------------------------------------------

    def save(self, action: Callable[[], None]) -> None:
        if self.persist and not self.linking:
            self.saves.append(action)

    def submit(self, result: Any) -> None:
        """Register every step (publishing the first ones); the caller's trail."""
        from pynenc.compose_run import submit_steps
        from pynenc_celery_compat.calling import CallUnavailableError

        steps = list(self.planner.steps.values())
        if not steps:
            return
        app = self.celery_app
        if app.conf.task_always_eager and wants_runner(app):
            for task in self.pynenc_tasks.values():
                ensure_runner(app, task)
        announced = self.announce() if publish.wanted() else []
        try:
            submit_steps(self.bridge.pynenc, steps)
        except StateBackendUnavailableError as error:
            raise CallUnavailableError(str(error)) from error
        for publication in announced:
            publication.after()
        parent = app.current_worker_task
        if parent is not None:
            parent.add_trail(result)

    def announce(self) -> list[Any]:
        """``before_task_publish`` for each step published now, as Celery's caller sends
        it for the first tasks of a canvas (those released later publish no signal)."""
        found = []
        for task, native, options in self.published:
            call_options = native.options
            queue = (call_options.queue if call_options else None) or native.task.conf.queue
            step_id = call_options.invocation_id if call_options else None
            publication = publish.publication(
                task, self.celery_app, step_id or "", native.args, native.kwargs, options, queue
            )
            publication.before()
            found.append(publication)
        return found


def apply(sig: Any, args: Any, kwargs: Any, options: dict[str, Any]) -> Any:
    """Run ``sig`` (with partial ``args``/``kwargs`` and call ``options``) on pynenc: its
    Celery result; :data:`CELERY` when it runs eagerly or all its tasks take Celery's path.

    :raises MixedCanvasError: tasks on both paths.
    """
    app = sig.app
    if runs_eagerly(app):
        return CELERY
    walk = Walk(app, persist=False)
    call_args = tuple(args or ())
    try:
        _, result = walk.node(sig, At(), call_args, dict(kwargs or {}), dict(options))
    except CeleryLeaf:
        return celery_path(sig, app)
    if result is None:  # an empty group
        return GroupResult(sig.options.get("task_id") or uuid(), [], app=app)
    walk.submit(result)
    if isinstance(result, GroupResult) and len(result) == 1 and isinstance(result[0], GroupResult):
        return result[0]  # Celery's: group(a | group(b, c)) answers with b, c's result
    return result


def send_linked(
    task: Any,
    app: Any,
    args: Any,
    kwargs: Any,
    task_id: str | None,
    link: Any,
    link_error: Any,
    options: dict[str, Any],
) -> Any:
    """``task.apply_async(..., link=, link_error=)`` on pynenc: the call and its callbacks
    registered together; the call's result. Also the first task of a chain made by
    Celery's own ``chain`` class, which sends the rest of the chain with it (``chain=``,
    reversed): they are registered as this package's chain."""
    from pynenc_celery_compat.canvas import Signature, chain

    if options.get("chord") is not None:
        raise NotImplementedError(
            f"{task.name} was sent as a member of a chord's header by Celery's own chord "
            "class (celery.chord): a chord of compat tasks runs on pynenc only when built "
            "with this package's classes: from pynenc_celery_compat import chord (or "
            "group(...) | task.s())"
        )
    call_args, call_kwargs = checks.call_values(task.name, args, kwargs)
    own = {k: v for k, v in options.items() if k not in ("chain", "chord") and v is not None}
    own.update({"task_id": task_id, "link": link, "link_error": link_error})
    own = {k: v for k, v in own.items() if v is not None}
    sig = Signature(task, call_args, call_kwargs, options=own, app=app)
    rest = list(reversed(options.get("chain") or ()))
    if not rest:
        return apply(sig, (), {}, {})
    return top(apply(chain(sig, *rest), (), {}, {}))


def freeze(sig: Any, last_id: str | None) -> Any:
    """``sig.freeze()`` on pynenc: ids chosen and kept in the signatures (the run uses
    them); the Celery result. :data:`CELERY` as for :func:`apply`."""
    app = sig.app
    if runs_eagerly(app):
        return CELERY
    walk = Walk(app, persist=True)
    try:
        _, result = walk.node(sig, At(), last_id=last_id)
    except CeleryLeaf:
        return celery_path(sig, app)
    for action in walk.saves:
        action()
    return result


def runs_on_pynenc(task: Any) -> bool:
    """Whether calls of ``task`` go to pynenc (made by this layer, not switched back)."""
    return registry.made_here(task) and not routed_to_celery(task, task._get_app())


def celery_path(sig: Any, app: Any) -> Any:
    """:data:`CELERY` for a canvas whose tasks all take Celery's path.

    :raises MixedCanvasError: some of its tasks run on pynenc.
    """
    tasks = list(canvas_tasks(sig, app))
    on_pynenc = sorted({t.name for t in tasks if runs_on_pynenc(t)})
    if not on_pynenc:
        return CELERY
    on_celery = sorted({t.name for t in tasks if not runs_on_pynenc(t)})
    raise MixedCanvasError(
        f"this canvas has tasks on pynenc ({', '.join(on_pynenc)}) and tasks that take "
        f"Celery's path ({', '.join(on_celery)}: switched back to Celery, or made by "
        "Celery's own decorator). A canvas runs on one system: switch all of its tasks "
        "back (setting pynenc_celery_tasks) or none, or send the parts separately"
    )


def canvas_tasks(value: Any, app: Any) -> Any:
    """Every task a canvas calls, its callbacks' included."""
    sig = as_signature(value, app)
    if sig is None:
        return
    for key in ("link", "link_error"):
        for callback in maybe_list(sig.options.get(key)) or ():
            yield from canvas_tasks(callback, app)
    if isinstance(sig, celery_canvas._chord):
        header = sig.tasks
        for member in list(header.tasks if isinstance(header, celery_canvas.group) else header):
            yield from canvas_tasks(member, app)
        yield from canvas_tasks(sig.body, app)
    elif isinstance(sig, celery_canvas.group | celery_canvas._chain):
        for member in list(sig.tasks):
            yield from canvas_tasks(member, app)
    elif isinstance(sig, celery_canvas.chunks | celery_canvas._basemap):
        yield from canvas_tasks(sig.kwargs["task"], app)
    else:
        yield task_of(sig)


def as_signature(value: Any, app: Any) -> Any:
    """``value`` as a signature (a dict is rebuilt as this package's class)."""
    if value is None or isinstance(value, celery_canvas.Signature):
        return value
    if isinstance(value, dict):
        from pynenc_celery_compat.canvas import signature

        return signature(value, app=app)
    raise TypeError(f"a canvas takes signatures (task.s(...), chain, group, chord), got {value!r}")


def task_of(sig: Any) -> Any:
    """The task a signature calls (by name in its app when it holds none).

    :raises TypeError: no such task is registered.
    """
    try:
        return sig.type
    except KeyError:
        found = registry.get(sig["task"])
        if found is not None:
            return found
        raise TypeError(
            f"{sig!r}: task {sig['task']!r} is not registered in this process; import the "
            "module that declares it"
        ) from None


def plain(options: dict[str, Any]) -> dict[str, Any]:
    """A call's own options: those shaping the canvas left out."""
    return {k: v for k, v in options.items() if k not in CANVAS_OPTIONS and v is not None}


def ends_in_group(shape: Shape) -> bool:
    """Whether what follows ``shape`` gets a list (a group; a chain or chord ending in
    one)."""
    if isinstance(shape, GroupShape):
        return True
    return isinstance(shape, ChainShape) and bool(shape.steps) and ends_in_group(shape.steps[-1])


def top(result: Any) -> Any:
    """The first result of ``result``'s ``parent`` links (the one without a parent)."""
    node = result
    while node.parent is not None:
        node = node.parent
    return node


def _immutable(sig: Any, app: Any) -> Any:
    return as_signature(sig, app).clone().set(immutable=True)


__all__ = ["CELERY", "MixedCanvasError", "apply", "freeze"]
