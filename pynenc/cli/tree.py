"""What ``pynenc status`` shows of an invocation's place among others: its call tree
(children: the calls made from inside it) and its composition (:class:`~pynenc.records.Links`:
what it waits for and receives, and its followers — a chain's next step, a chord's body,
error callbacks — with who published them).

:func:`read` gathers it in a few backend reads (the children, one read of every related
record, one of the followers' histories); :func:`show` prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import click

from pynenc.orchestrator.scheduling import iso
from pynenc.records import (
    CHORD_RECEIVES,
    ON_FAILURE,
    RECEIVE_ERROR,
    RECEIVE_LIST,
    RECEIVE_VALUE,
    InvocationRecord,
    InvocationStatus,
    Links,
    StatusEntry,
)
from pynenc.runner.followers import PUBLISHED_BY
from pynenc.state_backend import StateBackend

S = InvocationStatus
#: The roles of a follower, as listed.
NEXT_STEP, CHORD_BODY, ERROR_CALLBACK = "next step", "chord body", "error callback"


@dataclass
class Related:
    """Another invocation, as listed: its id, task and status (``None``: record gone)."""

    invocation_id: str
    task_id: str | None
    status: InvocationStatus | None
    #: for a follower: its role, and how it was published or settled (from its history)
    role: str = ""
    how: str = ""

    @property
    def pending(self) -> bool:
        """A follower still waiting for what it follows to end."""
        return self.status is S.WAITING


@dataclass
class Tree:
    """What :func:`show` prints."""

    links: Links | None
    children: list[Related] = field(default_factory=list)
    more_children: bool = False
    after: list[Related] = field(default_factory=list)
    then: list[Related] = field(default_factory=list)


def read(backend: StateBackend, record: InvocationRecord, limit: int) -> Tree:
    """The tree around ``record``: up to ``limit`` children (``more_children`` says there are
    more), every invocation it waits for and every follower."""
    links = record.links
    kids = backend.children(record.invocation_id, limit + 1)
    after = list(links.after) if links else []
    then = list(links.then) if links else []
    ids = list(dict.fromkeys([*after, *then, *kids[:limit]]))
    records = dict(zip(ids, backend.get_many(ids), strict=True))
    histories = dict(zip(then, backend.history_many(then), strict=True))
    tree = Tree(links, more_children=len(kids) > limit)
    tree.children = [_related(inv, records[inv]) for inv in kids[:limit]]
    tree.after = [_related(inv, records[inv]) for inv in after]
    for inv in then:
        follower = _related(inv, records[inv])
        follower.role = _role(records[inv])
        follower.how = _how(follower.status, histories[inv])
        tree.then.append(follower)
    return tree


def _related(invocation_id: str, record: InvocationRecord | None) -> Related:
    if record is None:
        return Related(invocation_id, None, None)
    return Related(invocation_id, record.task_id, record.status)


def _role(record: InvocationRecord | None) -> str:
    links = None if record is None else record.links
    if links is None:
        return NEXT_STEP
    if links.on == ON_FAILURE:
        return ERROR_CALLBACK
    return CHORD_BODY if links.receive in CHORD_RECEIVES else NEXT_STEP


def _how(status: InvocationStatus | None, history: list[StatusEntry]) -> str:
    """How a follower left WAITING, from its history: who published it, or why it ended."""
    if status is None:
        return "record gone (purged?)"
    if status is S.WAITING:
        return "pending"
    published = next(
        (e for e in history if e.status in (S.REGISTERED, S.RETRY) and e.runner_id), None
    )
    if published is not None:
        by = "" if (published.reason or "").startswith(PUBLISHED_BY) else " (scheduler)"
        return f"published by {published.runner_id}{by}"
    if status is S.SCHEDULED:
        return "released, not published yet"
    settled = next((e for e in history if e.status is status), None)
    return f"not run: {settled.reason}" if settled and settled.reason else ""


def show(tree: Tree, limit: int) -> None:
    """Print ``tree`` as ``status`` shows it (nothing for a plain call without children)."""
    if tree.children:
        more = f" (the first {limit}; --limit shows more)" if tree.more_children else ""
        click.echo(f"children    {len(tree.children)}{more}")
        _rows([(r.invocation_id, _task(r), _status(r)) for r in tree.children])
    links = tree.links
    if links is not None and links.after:
        click.echo(f"waits for   {_waits(links, tree.after)}")
        _rows([(r.invocation_id, _task(r), _status(r)) for r in _first(tree.after, limit)])
        if len(tree.after) > limit:
            click.echo(f"  … and {len(tree.after) - limit} more")
        click.echo(f"receives    {_receives(links)}")
        if links.delay or links.not_before is not None:
            click.echo(f"delayed     {_delayed(links)}")
    if tree.then:
        pending = sum(r.pending for r in tree.then)
        click.echo(f"followers   {len(tree.then)}, {pending} pending")
        rows = [(r.role, r.invocation_id, _task(r), _status(r), r.how) for r in tree.then]
        _rows(rows[:limit])
        if len(rows) > limit:
            click.echo(f"  … and {len(rows) - limit} more")


def _waits(links: Links, after: list[Related]) -> str:
    counts = Counter(_status(r) for r in after)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if links.on == ON_FAILURE:
        return f"{after[0].invocation_id} to fail (an error callback): {summary}"
    return f"{len(after)} to succeed: {summary}"


def _first(after: list[Related], limit: int) -> list[Related]:
    """Those to list: all of them, or when there are more than ``limit``, the ones not
    succeeded first (what it still waits for), in their order."""
    if len(after) <= limit:
        return after
    unsettled = [r for r in after if r.status is not S.SUCCESS]
    return (unsettled + [r for r in after if r.status is S.SUCCESS])[:limit]


def _receives(links: Links) -> str:
    into = f" (as {', '.join(links.into)})" if links.into else ""
    if links.receive == RECEIVE_VALUE:
        return f"the result of {links.after[0]}{into}"
    if links.receive == RECEIVE_LIST:
        return f"the results of the {len(links.after)} it waits for, in their order{into}"
    if links.receive == RECEIVE_ERROR:
        return f"the failed invocation {links.after[0]} and its exception{into}"
    return "nothing (immutable)"


def _delayed(links: Links) -> str:
    """A step's own delay, counted from its release (``with_options(delay=/eta=)``)."""
    parts = [f"{links.delay:g} s after its release"] if links.delay else []
    if links.not_before is not None:
        parts.append(f"not before {iso(links.not_before)}")
    return ", ".join(parts)


def _task(related: Related) -> str:
    return related.task_id or "?"


def _status(related: Related) -> str:
    return "GONE" if related.status is None else related.status.name


def _rows(rows: Sequence[tuple[str, ...]]) -> None:
    """Print ``rows`` indented, in left-aligned columns."""
    if not rows:
        return
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    for row in rows:
        cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        click.echo(("  " + "  ".join(cells)).rstrip())
