"""What pynenc stores about an invocation: its statuses, records and history entries.

A leaf module (it imports nothing of pynenc's but exceptions): invocations, the
orchestrator and every state backend share these value objects. Which moves between
statuses are allowed is the orchestrator's rule (:mod:`pynenc.orchestrator.transitions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, NamedTuple


class InvocationStatus(StrEnum):
    """Where an invocation is in its life."""

    REGISTERED = "registered"  #: stored and published, waiting for a runner
    #: stored, waiting for other invocations (a chain's next step, a chord's body, an
    #: error callback): released to SCHEDULED, due at once (or after its delay), by the
    #: backend step that ends the last of them (see :class:`Links`); never published before
    WAITING = "waiting"
    SCHEDULED = "scheduled"  #: stored with a due time, published when due (not before)
    RUNNING = "running"  #: claimed by a runner, function executing
    RETRY = "retry"  #: failed with a retriable error, republished
    #: a workflow run stopped at ``wf.pause()``: holds no runner, waits for
    #: ``app.workflows.resume`` (back to REGISTERED) or a cancel; waiters keep waiting
    PAUSED = "paused"
    REROUTED = "rerouted"  #: its runner died or stopped; republished for another runner
    SUCCESS = "success"  #: finished, result stored
    FAILED = "failed"  #: finished, exception stored
    EXPIRED = "expired"  #: not started before its expiry: never runs
    CANCELLED = "cancelled"  #: cancelled before it finished (``invocation.cancel()``)

    @property
    def is_final(self) -> bool:
        """Nothing follows it: the outcome is stored and waiters are woken."""
        return self in FINAL


#: The statuses an invocation ends in (the transition table checks it agrees).
FINAL: frozenset[InvocationStatus] = frozenset(
    {
        InvocationStatus.SUCCESS,
        InvocationStatus.FAILED,
        InvocationStatus.EXPIRED,
        InvocationStatus.CANCELLED,
    }
)


class StatusEntry(NamedTuple):
    """One line of an invocation's status history (a tuple: cheap on the call path)."""

    status: InvocationStatus
    timestamp: float  #: seconds since the epoch
    runner_id: str | None = None
    reason: str | None = None


class InvocationSummary(NamedTuple):
    """What listings show of an invocation (``pynenc invocations``)."""

    invocation_id: str
    task_id: str
    status: InvocationStatus
    queue: str
    registered: float  #: seconds since the epoch
    due: float | None = None  #: when it is (or was last) due to be published, if scheduled


#: :attr:`Links.on` of an invocation that runs when all it waits for succeed
ON_SUCCESS = "success"
#: :attr:`Links.on` of an error callback: runs when the one invocation it waits for fails
ON_FAILURE = "failure"
#: :attr:`Links.receive`: the result of the one invocation waited for
RECEIVE_VALUE = "value"
#: :attr:`Links.receive`: the results of the invocations waited for, in their order
RECEIVE_LIST = "list"
#: :attr:`Links.receive`: the failed invocation and its exception (an error callback)
RECEIVE_ERROR = "error"
#: :attr:`Links.receive`: nothing, though it waits for a group's results: a chord body that
#: is immutable (``.immutable()``; Celery's ``.si()``). A chord body for the rules (its
#: error callbacks are called when a member fails), given none of the results
RECEIVE_LIST_IGNORED = "list-ignored"
#: the :attr:`Links.receive` of a chord body (waits for a group, with or without its results)
CHORD_RECEIVES = (RECEIVE_LIST, RECEIVE_LIST_IGNORED)


@dataclass(frozen=True, slots=True)
class Links:
    """How an invocation is composed with others (chains, chords, callbacks).

    An invocation with ``after`` is registered WAITING. The state backend keeps, for each
    invocation in ``after``, the list of those waiting for it, and for each waiting one
    how many it still waits for. In the same atomic step that ends an invocation (any final
    status, whoever ends it), the backend settles what waits for it:

    - ``on="success"``: when it SUCCEEDED, one fewer to wait for; at zero, the waiting
      invocation moves WAITING → SCHEDULED, due at once or after its delay (below; the
      scheduler publishes it if nobody does sooner). When it ended otherwise, the waiting
      invocation ends FAILED with that error (marked with ``"upstream"``: the id it came
      from), and so on down what waits for *it* — a failed chain fails every later step,
      a failed chord member its body.
    - ``on="failure"`` (an error callback): released when it ended FAILED by itself (not
      as a failed upstream's follower, unless ``upstream`` errors are asked for with
      ``receive="error"`` on a chord body's callback); ended CANCELLED ("not needed")
      otherwise.

    A released invocation is due at once; with ``delay``, that many seconds after its
    release; with ``not_before`` (seconds since the epoch), not before then; with both, at
    the later of the two (:meth:`due`). A step due later waits SCHEDULED until then and
    is published by the scheduler.

    ``then`` lists the invocations waiting for this one, so that whoever ends it can
    publish those released at once (those due later are left to the scheduler).
    ``receive`` says what a released invocation gets before its own arguments, when it
    runs: nothing, the one result (``"value"``), the ordered results (``"list"``), or the
    failed invocation and its exception (``"error"``); ``into`` names the parameters that
    take them (the task's rule when empty).
    """

    after: tuple[str, ...] = ()
    on: str = ON_SUCCESS
    receive: str | None = None
    into: tuple[str, ...] = ()
    then: tuple[str, ...] = ()
    #: seconds after its release before it is due (Celery's ``countdown`` on a later step)
    delay: float = 0.0
    #: seconds since the epoch before which it is not due (an ``eta`` on a later step)
    not_before: float | None = None
    #: for a chord's body inside a chain: what the chord's group waited for. A failure that
    #: came from there (a step before the chord) fails the body without calling its error
    #: callbacks: the step that failed called its own
    before: tuple[str, ...] = ()

    def due(self, released: float) -> float:
        """When an invocation with these links, released at ``released``, is due."""
        due = released + self.delay if self.delay else released
        if self.not_before is not None and self.not_before > due:
            return self.not_before
        return due

    def encode(self) -> dict[str, Any]:
        """The JSON object stored and sent for these links (empty fields left out)."""
        out: dict[str, Any] = {}
        if self.after:
            out["after"] = list(self.after)
        if self.on != ON_SUCCESS:
            out["on"] = self.on
        if self.receive is not None:
            out["recv"] = self.receive
        if self.into:
            out["into"] = list(self.into)
        if self.then:
            out["then"] = list(self.then)
        if self.delay:
            out["delay"] = self.delay
        if self.not_before is not None:
            out["not_before"] = self.not_before
        if self.before:
            out["before"] = list(self.before)
        return out

    @classmethod
    def decode(cls, data: dict[str, Any] | None) -> Links | None:
        """The links stored as ``data`` by :meth:`encode` (``None`` for none)."""
        if not data:
            return None
        return cls(
            tuple(data.get("after", ())),
            str(data.get("on", ON_SUCCESS)),
            data.get("recv"),
            tuple(data.get("into", ())),
            tuple(data.get("then", ())),
            float(data.get("delay", 0.0)),
            None if data.get("not_before") is None else float(data["not_before"]),
            tuple(data.get("before", ())),
        )


@dataclass(slots=True)
class InvocationRecord:
    """Everything stored about one invocation: the call, where it is, and how it ended."""

    invocation_id: str
    task_id: str
    arguments: dict[str, str]  #: serialized, one string per argument
    status: InvocationStatus = InvocationStatus.REGISTERED
    owner: str | None = None  #: runner holding an owned status
    num_retries: int = 0
    parent_id: str | None = None
    result: str | None = None  #: serialized return value (SUCCESS)
    error: dict[str, Any] | None = None  #: exception payload (FAILED)
    queue: str = "default"
    #: the call's message priority (0-9, ``None``: unset), used again when republished
    priority: int | None = None
    #: seconds since the epoch when it is (or was last) due: a SCHEDULED invocation sits in
    #: the backend's scheduled index under this time until it is published
    due: float | None = None
    #: seconds since the epoch after which it must not start (it ends EXPIRED instead)
    expires: float | None = None
    #: the serializer of its arguments and result when not the app's (a task's own
    #: ``serializer`` option); ``None``: the app's
    serializer: str | None = None
    #: the caller's headers (``with_options(headers=...)``): a JSON object, or ``None``
    headers: dict[str, Any] | None = None
    #: the root of its call tree, stored only when it is neither the parent nor itself
    #: (see :func:`root_of`)
    root_id: str | None = None
    #: how it is composed with other invocations (chains, chords, callbacks), if at all
    links: Links | None = None


def copy_record(record: InvocationRecord) -> InvocationRecord:
    """A copy of ``record`` (the memory backend keeps its own): every field, named here
    rather than through ``dataclasses.replace``, which costs three times as much on the
    call path. A test checks that no field is left out."""
    return InvocationRecord(
        record.invocation_id,
        record.task_id,
        record.arguments,
        record.status,
        record.owner,
        record.num_retries,
        record.parent_id,
        record.result,
        record.error,
        record.queue,
        record.priority,
        record.due,
        record.expires,
        record.serializer,
        record.headers,
        record.root_id,
        record.links,
    )


def root_of(invocation_id: str, parent_id: str | None, root_id: str | None) -> str:
    """The root of a call tree: the stored root, else the parent (a child of a top-level
    call, the common case, stores none), else the invocation itself (a top-level call)."""
    return root_id or parent_id or invocation_id


def stored_root(root: str, parent_id: str | None) -> str | None:
    """What a child of a call tree whose root is ``root`` stores as ``root_id``: nothing
    when its parent is the root (:func:`root_of` finds it from the parent)."""
    return None if root == parent_id else root


def encode_meta(record: InvocationRecord) -> str | None:
    """The optional per-call fields of ``record`` (serializer, headers, root) as one JSON
    text for a backend to store, or ``None`` for a plain call (nothing to store). Its
    links are stored apart (:func:`encode_links`): a step followed by a group names every
    member in ``links.then``, and whoever reads the step's result must not read them."""
    if record.serializer is None and record.headers is None and record.root_id is None:
        return None
    meta: dict[str, Any] = {}
    if record.serializer is not None:
        meta["ser"] = record.serializer
    if record.headers is not None:
        meta["headers"] = record.headers
    if record.root_id is not None:
        meta["root"] = record.root_id
    return json.dumps(meta, separators=(",", ":"))


def encode_links(record: InvocationRecord) -> str | None:
    """``record.links`` as the JSON text a backend stores beside the meta (``None``: none)."""
    if record.links is None:
        return None
    return json.dumps(record.links.encode(), separators=(",", ":"))


def decode_meta(text: str | bytes | None, links: str | bytes | None = None) -> dict[str, Any]:
    """The :class:`InvocationRecord` fields stored by :func:`encode_meta` and
    :func:`encode_links` (keyword arguments; empty for neither). A record stored by a
    pynenc that did not keep them apart holds its links in the meta: read from there."""
    meta = {} if text is None else json.loads(text)
    out: dict[str, Any] = {}
    if meta:
        out = {
            "serializer": meta.get("ser"),
            "headers": meta.get("headers"),
            "root_id": meta.get("root"),
        }
    if links is not None:
        out["links"] = Links.decode(json.loads(links))
    elif "links" in meta:
        out["links"] = Links.decode(meta["links"])
    return out


def without_links(records: Iterable[InvocationRecord | None]) -> list[InvocationRecord | None]:
    """``records`` with ``links`` left out (``None`` stays ``None``): what
    ``StateBackend.get_many_without_links`` returns, whatever a backend read."""
    return [r if r is None or r.links is None else replace(r, links=None) for r in records]


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """An atomic compare-and-set of an invocation's status.

    Applied only when the current status is in ``expected`` and, if ``expected_owner`` is
    given, the record's owner equals it. ``result``/``error``/``num_retries`` are written in
    the same step, so a waiter never sees a final status without its outcome.

    The scheduled index follows the status in the same step: an update to SCHEDULED puts
    the invocation there under ``due`` (stored as the record's ``due``); leaving SCHEDULED
    takes it out. With ``on_expiry``, a record whose ``expires`` is at or before
    ``entry.timestamp`` gets ``on_expiry`` instead (owner cleared), and the update counts
    as not applied: a claim of an expired invocation ends it, atomically.

    A retry that runs with new arguments is a :class:`StatusUpdateWithArguments` (see
    :func:`with_arguments`): it also replaces the stored arguments in the same step.
    """

    invocation_id: str
    expected: frozenset[InvocationStatus]
    entry: StatusEntry
    owner: str | None = None
    expected_owner: str | None = None
    result: str | None = None
    error: dict[str, Any] | None = None
    num_retries: int | None = None
    #: a claim's checks against the stored call (``None``: not checked): the task id and
    #: the :func:`fingerprint` of the arguments the message names
    expected_task: str | None = None
    expected_fingerprint: str | None = None
    #: for an update to SCHEDULED: when it is due (``None``: due at ``entry.timestamp``)
    due: float | None = None
    #: the entry applied instead when the record expired by ``entry.timestamp``
    on_expiry: StatusEntry | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdateWithArguments(StatusUpdate):
    """A :class:`StatusUpdate` that also replaces the stored arguments and their
    fingerprint, in the same atomic step: a retry that runs with new arguments. Whoever
    publishes the invocation again (the retry, the scheduler, recovery) sends the new
    ones, and a claim is checked against them.

    A class of its own so that every other update (claims, outcomes: the call path) is
    built and sent exactly as before; backends tell it apart with ``isinstance``.
    """

    #: the new arguments, serialized (as :attr:`InvocationRecord.arguments`)
    arguments: dict[str, str] = field(default_factory=dict)
    #: their :func:`fingerprint`
    arguments_fingerprint: str = ""
    #: when set, the invocation's history is trimmed in the same step to its first entry
    #: (the registration) and its newest ``keep_history`` entries, counting the one this
    #: update writes: a continue-as-new, which would otherwise grow it by two entries a run.
    #: A refused update trims nothing; ``None`` (every other retry) keeps it whole
    keep_history: int | None = None

    def __post_init__(self) -> None:
        keep = self.keep_history
        if keep is not None and (type(keep) is not int or keep < 1):
            raise ValueError(
                f"keep_history must be a whole number of history entries of at least 1 "
                f"(the entry this update writes), or None to keep them all; got {keep!r}"
            )


def fingerprint(arguments: dict[str, str]) -> str:
    """A short digest of serialized ``arguments`` (key order ignored), stored at
    registration so a claim can check a message's arguments without sending them.

    SHA-256 (hardware-accelerated on most CPUs: ~30 ms for 50 MB, ~2 µs for a few small
    arguments), cut to 128 bits: finding other arguments with the same digest is out of reach.
    """
    digest = hashlib.sha256()
    for key in sorted(arguments):
        # surrogatepass: a lone surrogate (valid in JSON text) hashes instead of raising
        name = key.encode("utf-8", "surrogatepass")
        value = arguments[key].encode("utf-8", "surrogatepass")
        # lengths first: no two different argument sets hash the same bytes
        digest.update(b"%d:%s%d:" % (len(name), name, len(value)))
        digest.update(value)
    return digest.hexdigest()[:32]


def with_arguments(
    update: StatusUpdate, arguments: dict[str, str], *, keep_history: int | None = None
) -> StatusUpdateWithArguments:
    """``update`` that also stores ``arguments`` (serialized) in its atomic step: a retry
    that runs with new arguments. ``keep_history``: trim the history in the same step to
    its first entry and its newest ``keep_history`` ones (see
    :attr:`StatusUpdateWithArguments.keep_history`)."""
    values = {name.name: getattr(update, name.name) for name in fields(StatusUpdate)}
    return StatusUpdateWithArguments(
        **values,
        arguments=dict(arguments),
        arguments_fingerprint=fingerprint(arguments),
        keep_history=keep_history,
    )
