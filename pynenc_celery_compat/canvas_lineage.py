"""Where a canvas step sits, as a Celery worker tells it: ``request.parent_id``,
``request.root_id``, ``request.group``, ``request.group_index`` and ``AsyncResult.children``.

pynenc's own ``parent_id`` is the call tree (the task that sent the canvas, if any) and
stays so. Celery's lineage follows the canvas instead, because its worker sends each next
step from the one before:

* a step released by **one** step (a chain's next step, a ``link`` callback, the members
  of a group after a step) has that step as its parent, and the same root;
* the members of a group (a chord's header too) carry the group's id and their index in
  it; in a group of chains, each chain's last step (the one the group counts);
  a chord's body carries its header's id, without an index;
* a step's children are the calls it made, then its ``link`` callbacks (several of them
  as one group), then the chain's next step (a group, or a chord's header, as its
  ``GroupResult``), listed once it succeeded.

The walk (:mod:`pynenc_celery_compat.canvas_plan`) works these out while planning and keeps
them in the step's canvas mark (:data:`~pynenc_celery_compat.canvas_receive.MARK`, a
header the task does not see): ``parent``, ``root``, ``group``, ``group_index``,
``children``. The runner reads them from the message (no extra read); ``children`` from the
record ``AsyncResult`` has already read. What Celery gives a chord's body as its parent,
the header member that happened to finish last, is not known when the canvas is planned:
the body keeps pynenc's (the caller's).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kombu.utils.uuid import uuid

from pynenc.call_options import CallOptions
from pynenc.records import InvocationRecord, InvocationStatus
from pynenc_celery_compat.canvas_receive import MARK

#: the options a group gives its members (Celery's own names; shaping, never sent)
GROUP_OPTIONS = ("group_id", "group_index")


def group_options(options: dict[str, Any]) -> dict[str, Any]:
    """The group placement in ``options`` (``group_id``/``group_index`` that are set)."""
    return {k: options[k] for k in GROUP_OPTIONS if options.get(k) is not None}


def placement(group_id: str, index: int | None) -> dict[str, Any]:
    """The options placing a call in group ``group_id`` at ``index``."""
    return {"group_id": group_id} if index is None else {"group_id": group_id, "group_index": index}


class Lineage:
    """The lineage of one walk's steps (see the module docs)."""

    def __init__(self) -> None:
        #: a released step's Celery root, by step id (a step not in it is its own root)
        self.roots: dict[str, str] = {}
        #: a step's children: the results of its callbacks and of the chain's next step
        self.children: dict[str, list[Any]] = {}

    def mark(self, after: tuple[str, ...], merged: dict[str, Any]) -> dict[str, Any]:
        """The lineage entries of the mark of a step that waits for ``after`` and has the
        Celery options ``merged``."""
        mark: dict[str, Any] = {}
        if len(after) == 1:
            mark["parent"] = after[0]
        roots = {self.roots.get(step, step) for step in after}
        if len(roots) == 1:
            mark["root"] = roots.pop()
        placed = group_options(merged)
        if "group_id" in placed:
            mark["group"] = placed["group_id"]
            if "group_index" in placed:
                mark["group_index"] = placed["group_index"]
        return mark

    def planned(self, step_id: str, mark: dict[str, Any]) -> None:
        """Remember the root of ``step_id``, planned with ``mark``."""
        if "root" in mark:
            self.roots[step_id] = mark["root"]

    def child(self, step_id: str, result: Any) -> None:
        """``result`` (an ``AsyncResult`` or ``GroupResult``) is a child of ``step_id``."""
        if result is not None:
            self.children.setdefault(step_id, []).append(result)

    def callbacks(self, callbacks: list[Any]) -> list[dict[str, Any]]:
        """The options of a step's ``link`` callbacks: when there are several, Celery sends
        each group among them on its own and the others as one group, each placed in it."""
        if len(callbacks) < 2:
            return [{}] * len(callbacks)
        group_id = uuid()
        placed: list[dict[str, Any]] = []
        for callback in callbacks:
            index = sum(1 for options in placed if options)
            placed.append({} if _is_group(callback) else placement(group_id, index))
        return placed

    def linked(self, step_id: str, placed: list[dict[str, Any]], results: list[Any]) -> None:
        """The children of ``step_id`` from its callbacks (``placed``: their options from
        :meth:`callbacks`; ``results``: their results): as Celery sends them, the groups
        first, then the others (one, or several as one group)."""
        from pynenc_celery_compat.result import GroupResult

        grouped = [r for o, r in zip(placed, results, strict=True) if o and r is not None]
        for options, result in zip(placed, results, strict=True):
            if not options:
                self.child(step_id, result)
        if grouped:
            group_id = next(o["group_id"] for o in placed if o)
            self.child(step_id, GroupResult(group_id, grouped, app=grouped[0].app))

    def apply(self, steps: dict[str, Any]) -> None:
        """Write each planned step's children into its mark (``steps``: the planner's)."""
        for step_id, results in self.children.items():
            step = steps[step_id]
            options = step.sig.options or CallOptions()
            headers = dict(options.headers or {})
            mark = {**(headers.get(MARK) or {}), "children": [_encode(r) for r in results]}
            headers[MARK] = mark
            options = dataclasses.replace(options, headers=headers)
            step.sig = dataclasses.replace(step.sig, options=options)


def _is_group(callback: Any) -> bool:
    """Whether a callback (a signature, or its dict form) is a group."""
    return isinstance(callback, dict) and callback.get("subtask_type") == "group"


def _encode(result: Any) -> Any:
    """A child as JSON: an ``AsyncResult``'s id, a ``GroupResult`` as ``[id, [members]]``."""
    members = getattr(result, "results", None)
    if members is None:
        return result.id
    return [result.id, [_encode(member) for member in members]]


def request_lineage(mark: dict[str, Any], caller: str | None) -> dict[str, Any]:
    """A step's ``request`` fields from its canvas ``mark``. ``caller``: pynenc's parent
    (the task that sent the canvas): with one, the root is that call tree's, as Celery
    gives the canvas's first steps the caller's root and passes it on."""
    fields: dict[str, Any] = {}
    if "parent" in mark:
        fields["parent_id"] = mark["parent"]
    if "root" in mark and caller is None:
        fields["root_id"] = mark["root"]
    if "group" in mark:
        fields["group"] = mark["group"]
        fields["group_index"] = mark.get("group_index")
    return fields


def children_results(record: InvocationRecord, app: Any) -> list[Any]:
    """The children a succeeded canvas step lists besides the calls it made (see the
    module docs); none for any other record."""
    if record.status is not InvocationStatus.SUCCESS:
        return []
    mark = (record.headers or {}).get(MARK) or {}
    return [_decode(child, app) for child in mark.get("children") or ()]


def _decode(child: Any, app: Any) -> Any:
    from pynenc_celery_compat.result import AsyncResult, GroupResult

    if isinstance(child, str):
        return AsyncResult(child, app=app)
    group_id, members = child
    return GroupResult(group_id, [_decode(member, app) for member in members], app=app)


__all__ = [
    "GROUP_OPTIONS",
    "Lineage",
    "children_results",
    "group_options",
    "placement",
    "request_lineage",
]
