"""Composing calls: chains, groups, chords and error callbacks.

A :class:`Sig` is a call not made yet (``task.sig(*args, **kwargs)``). Composed::

    (fetch.sig(url) | parse.sig() | store.sig(table="pages")).run()   # a chain
    group(resize.sig(img, size) for size in sizes).run()                # in parallel
    chord([count.sig(page) for page in pages], total.sig()).run()       # group, then body
    charge.sig(order).on_error(refund.sig()).run()                      # error callback

In a chain each step receives the previous step's result as its first argument (before its
own ``args``); after a group, the ordered list of its results (a chord). ``.immutable()``
makes a step that receives nothing. An error callback receives the failed invocation and
its exception as its first two arguments.

``run()`` registers every step at once: the first ones to run REGISTERED and published,
the others WAITING in the state backend, each released by the backend step that ends what
it waits for (:class:`pynenc.records.Links`), exactly once, and published by the runner
that ended it. Nothing polls, and a runner that dies between finishing a step and
publishing the next loses nothing (the scheduler publishes released work).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

from pynenc.arguments import Arguments
from pynenc.call_options import CallOptions
from pynenc.identifiers import new_invocation_id
from pynenc.records import (
    CHORD_RECEIVES,
    ON_FAILURE,
    ON_SUCCESS,
    RECEIVE_ERROR,
    RECEIVE_LIST,
    RECEIVE_LIST_IGNORED,
    RECEIVE_VALUE,
)

if TYPE_CHECKING:
    from pynenc.invocation.base import BaseInvocation
    from pynenc.task import Task

R = TypeVar("R")

__all__ = ["Chain", "ChainRun", "Chord", "Group", "GroupRun", "Sig", "chain", "chord", "group"]


class Node:
    """What composes: a :class:`Sig`, :class:`Chain`, :class:`Group` or :class:`Chord`."""

    def __or__(self, other: Node) -> Chain:
        """``a | b``: ``b`` runs with ``a``'s result (after a group: a chord)."""
        if not isinstance(other, Node):
            return NotImplemented
        return chain(self, other)

    def on_error(self, errback: Sig[Any]) -> Node:
        """This with ``errback`` called when it fails (see the subclasses)."""
        raise NotImplementedError

    def run(self) -> Any:
        """Register and publish it all; the handle of what runs (see the subclasses)."""
        from pynenc.compose_run import run_node

        return run_node(self)


@dataclass(frozen=True, eq=False)
class Sig(Node, Generic[R]):
    """A call of ``task`` not made yet: its arguments, options and error callbacks."""

    task: Task[Any, R]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: CallOptions | None = None
    #: receives nothing from what it follows
    is_immutable: bool = False
    errbacks: tuple[Sig[Any], ...] = ()

    def immutable(self) -> Sig[R]:
        """This call, receiving nothing from the step before it."""
        return replace(self, is_immutable=True)

    def on_error(self, errback: Sig[Any]) -> Sig[R]:
        """This call with ``errback`` called if it fails (with the failed invocation and
        its exception first, unless ``errback`` is immutable)."""
        return replace(self, errbacks=(*self.errbacks, _check(errback, Sig, "on_error")))

    def with_options(
        self,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        expires: float | datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        headers: dict[str, Any] | None = None,
        invocation_id: str | None = None,
    ) -> Sig[R]:
        """This call with per-call options (as :meth:`Task.with_options`). A ``delay``
        counts from when the step may start: from the call for a step that starts the
        composition, from its release (what it waits for has ended) for one that waits;
        an ``eta``: not before that time; ``expires`` counts from the call.
        ``invocation_id`` is the step's id: running the composition again with it gives
        that same invocation, registered and run once."""
        options = CallOptions(delay, eta, expires, queue, priority, invocation_id, headers)
        return replace(self, options=options)

    def run(self) -> BaseInvocation[Any, R]:
        """Call it: its invocation (its error callbacks registered with it)."""
        return super().run()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        mark = ".immutable()" if self.is_immutable else ""
        return f"{self.task.task_id.key}.sig{_call_repr(self.args, self.kwargs)}{mark}"


@dataclass(frozen=True, eq=False)
class Chain(Node):
    """Steps run one after the other, each receiving the previous one's result."""

    steps: tuple[Node, ...]

    def on_error(self, errback: Sig[Any]) -> Chain:
        """``errback`` on every step: called once, for the step that fails (later steps
        then fail with its error without calling theirs)."""
        return Chain(tuple(step.on_error(errback) for step in self.steps))

    def run(self) -> ChainRun:
        """Call it: a handle whose ``result`` is the last step's."""
        return super().run()  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class Group(Node):
    """Members run in parallel; followed by a step, that step gets their ordered results."""

    members: tuple[Node, ...]

    def on_error(self, errback: Sig[Any]) -> Group:
        """``errback`` on every member."""
        return Group(tuple(member.on_error(errback) for member in self.members))

    def run(self) -> GroupRun:
        """Call every member: a handle whose ``result`` is their results, in order."""
        return super().run()  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class Chord(Node):
    """A group, then ``body`` with the group's ordered results."""

    header: Group
    body: Node

    def on_error(self, errback: Sig[Any]) -> Chord:
        """``errback`` on the body: called when a member or the body fails."""
        return Chord(self.header, self.body.on_error(errback))

    def run(self) -> ChainRun:
        """Call it: a handle whose ``result`` is the body's (``steps``: the group's
        handle and the body's)."""
        return super().run()  # type: ignore[no-any-return]


def chain(*steps: Node) -> Chain:
    """Steps run one after the other (``a | b | c``); nested chains are flattened."""
    flat: list[Node] = []
    for step in steps:
        _check(step, Node, "chain")
        flat.extend(step.steps if isinstance(step, Chain) else (step,))
    if not flat:
        raise ValueError("chain() needs at least one step")
    return Chain(tuple(flat))


def group(*members: Node | Iterable[Node]) -> Group:
    """Members run in parallel: ``group(a, b)`` or ``group(generator)`` (consumed now)."""
    if len(members) == 1 and not isinstance(members[0], Node):
        members = tuple(members[0])
    return Group(tuple(_check(member, Node, "group") for member in members))


def chord(header: Group | Iterable[Node], body: Node) -> Chord:
    """``header``'s members in parallel, then ``body`` with their ordered results."""
    heads = header if isinstance(header, Group) else group(header)
    return Chord(heads, _check(body, Node, "chord"))


NodeT = TypeVar("NodeT")


def _check(value: Any, kind: type[NodeT], where: str) -> NodeT:
    if not isinstance(value, kind):
        raise TypeError(f"{where}() takes {kind.__name__} objects (task.sig(...)), got {value!r}")
    return value


def _call_repr(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


# -- handles ------------------------------------------------------------------------------

Handle = Union["BaseInvocation[Any, Any]", "ChainRun", "GroupRun"]


@dataclass(eq=False)
class ChainRun:
    """A running chain (or chord): a handle per step, the last one's result."""

    steps: list[Handle]

    @property
    def last(self) -> Handle:
        """The last step's handle."""
        return self.steps[-1]

    @property
    def result(self) -> Any:
        """The last step's result (waits for it; raises the error of the step that
        failed, which every later step carries)."""
        return self.last.result

    @property
    def invocations(self) -> list[BaseInvocation[Any, Any]]:
        """Every invocation of the chain, in order."""
        return [inv for step in self.steps for inv in _invocations(step)]


@dataclass(eq=False)
class GroupRun:
    """A running group: a handle per member, their results in order."""

    members: list[Handle]

    @property
    def result(self) -> list[Any]:
        """Every member's result, in order (the first failure is raised)."""
        return list(self.results)

    @property
    def results(self) -> Iterator[Any]:
        """Each member's result in order, waiting as needed."""
        for member in self.members:
            yield member.result

    @property
    def invocations(self) -> list[BaseInvocation[Any, Any]]:
        """Every invocation of the group, in order."""
        return [inv for member in self.members for inv in _invocations(member)]

    def __len__(self) -> int:
        return len(self.members)


def _invocations(handle: Handle) -> list[BaseInvocation[Any, Any]]:
    if isinstance(handle, ChainRun | GroupRun):
        return handle.invocations
    return [handle]


class _Slot:
    """A placeholder bound to a parameter that will receive a value."""


def bind_receiving(
    key: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    receiving: int,
) -> tuple[Arguments, tuple[str, ...]]:
    """:meth:`Task.bind_receiving` for a task ``key`` with ``signature``: the arguments
    of a composed call that will receive ``receiving`` values first, and the names of the
    first positional parameters that will take them.

    :raises TypeError: the call does not fit the signature with room for them.
    """
    if not receiving:
        return Arguments.from_call(signature, args, kwargs), ()
    slots = [_Slot() for _ in range(receiving)]
    try:
        bound = signature.bind_partial(*slots, *args, **kwargs).arguments
    except TypeError as exc:
        raise TypeError(
            f"{key} cannot receive {receiving} value(s) before its own arguments: {exc}"
        ) from None
    into = tuple(name for name, value in bound.items() if isinstance(value, _Slot))
    if len(into) != receiving:
        raise TypeError(
            f"{key} cannot receive {receiving} value(s) before its own "
            "arguments: its first parameters must be plain positional ones"
        )
    try:  # every parameter given or received: what is missing is refused now, not
        # when the step runs, after the steps before it (and its error callback, never)
        full = signature.bind(*slots, *args, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"{key}: {exc} (it receives {', '.join(into)} before its own arguments)"
        ) from None
    full.apply_defaults()  # stored as a plain call stores them (cache and running keys)
    rest = {name: value for name, value in full.arguments.items() if name not in into}
    try:
        signature.bind_partial(**rest)
    except TypeError as exc:
        raise TypeError(f"{key}: {exc}") from None
    return Arguments(rest), into


# -- planning -----------------------------------------------------------------------------


@dataclass(eq=False)
class Step:
    """One invocation of a composition, planned: what it waits for and receives."""

    sig: Sig[Any]
    invocation_id: str
    arguments: Arguments
    after: tuple[str, ...] = ()
    on: str = ON_SUCCESS
    receive: str | None = None
    into: tuple[str, ...] = ()
    then: list[str] = field(default_factory=list)
    #: a chord body in a chain: what the chord's group waited for (``Links.before``)
    before: tuple[str, ...] = ()


#: What a node planned to: a step id, or a chain's / group's shapes.
Shape = Union[str, "ChainShape", "GroupShape"]


@dataclass
class ChainShape:
    steps: list[Shape]


@dataclass
class GroupShape:
    members: list[Shape]


def exits(shape: Shape) -> list[str]:
    """The ids whose end a follower of ``shape`` waits for."""
    if isinstance(shape, str):
        return [shape]
    if isinstance(shape, ChainShape):
        return exits(shape.steps[-1])
    return [inv for member in shape.members for inv in exits(member)]


def receives(shape: Shape) -> str:
    """What a follower of ``shape`` receives: the ordered results when it ends in a group
    (a chord), else the one value."""
    while isinstance(shape, ChainShape):
        shape = shape.steps[-1]
    return RECEIVE_LIST if isinstance(shape, GroupShape) else RECEIVE_VALUE


#: Planning only (never stored): a step after an empty group receives an empty list, bound
#: when planned; it still waits for what the group followed.
_EMPTY_LIST = "empty"


class Planner:
    """Turns a node into steps (ids chosen now, so followers can name them)."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}
        #: while planning what follows a group: what that group waited for
        self.before: tuple[str, ...] = ()

    def node(self, node: Node, after: tuple[str, ...], receive: str | None) -> Shape:
        if isinstance(node, Sig):
            return self.sig(node, after, receive)
        if isinstance(node, Chord):
            return self.node(Chain((node.header, node.body)), after, receive)
        if isinstance(node, Group):
            return GroupShape([self.node(m, after, receive) for m in node.members])
        if isinstance(node, Chain):
            shapes: list[Shape] = []
            outer = self.before
            follows_group: tuple[str, ...] = ()
            for step in node.steps:
                self.before = follows_group
                shape = self.node(step, after, receive)
                self.before = outer
                shapes.append(shape)
                follows_group = after if isinstance(shape, GroupShape) else ()
                ends = exits(shape)
                if ends:
                    after, receive = tuple(ends), receives(shape)
                else:  # an empty group ends with what it followed: the next waits for that
                    receive = _EMPTY_LIST
            return ChainShape(shapes)
        raise TypeError(f"not a composable node: {node!r}")

    def sig(
        self, sig: Sig[Any], after: tuple[str, ...], receive: str | None, on: str = ON_SUCCESS
    ) -> str:
        takes = None if sig.is_immutable or receive is None else receive
        if sig.is_immutable and receive == RECEIVE_LIST:  # still a chord body for the rules
            takes = RECEIVE_LIST_IGNORED
        count = 0 if takes in (None, RECEIVE_LIST_IGNORED) else (2 if takes == RECEIVE_ERROR else 1)
        arguments, into = sig.task.bind_receiving(sig.args, sig.kwargs, count)
        if takes == _EMPTY_LIST:  # after an empty group: an empty list now
            arguments = type(arguments)(sig.task.receive(arguments.kwargs, ([],), into))
            takes, into = None, ()
        policy = sig.task.concurrency
        refusal = None if policy is None else policy.step_refusal(arguments.kwargs, bool(takes))
        if refusal is not None:
            raise ValueError(f"{sig.task.task_id.key} cannot be a step of a composition: {refusal}")
        chosen = None if sig.options is None else sig.options.invocation_id
        if chosen is not None and chosen in self.steps:
            hint = (
                " (the error callback of a chain, group or chord is called for each of its "
                "steps that fails: one invocation each, so it cannot be named)"
                if on == ON_FAILURE and self.steps[chosen].sig is sig
                else ""
            )
            raise ValueError(
                f"invocation id {chosen!r} is given to two steps of a composition{hint}"
            )
        step = Step(sig, chosen or new_invocation_id(), arguments, after, on, takes, into)
        if takes in CHORD_RECEIVES:
            step.before = self.before
        self.steps[step.invocation_id] = step
        for parent in after:
            self.steps[parent].then.append(step.invocation_id)
        for errback in sig.errbacks:
            self.sig(errback, (step.invocation_id,), RECEIVE_ERROR, ON_FAILURE)
        return step.invocation_id
