"""Per-call options: one call of a task with its own delay, ETA, expiry, queue, priority,
invocation id or headers, without declaring another task.

``task.with_options(delay=5, queue="slow")`` returns a :class:`TaskWithOptions`, which is
called (and parallelized) like the task itself. :class:`CallOptions` holds the values,
checked when they are given; the orchestrator turns them into the record's due time and
expiry when the call is registered (see ``docs/scheduling.md``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic
from weakref import WeakKeyDictionary

from pynenc.exceptions import LONGEST_DELAY, PynencWarning
from pynenc.orchestrator.chosen_ids import conflict_message
from pynenc.types import Params, Result

if TYPE_CHECKING:
    from pynenc.app import Pynenc
    from pynenc.arguments import Arguments
    from pynenc.invocation.base import BaseInvocation, BaseInvocationGroup
    from pynenc.invocation.sync import SyncInvocation
    from pynenc.task import Task

#: Highest message priority (as the task option ``priority``).
MAX_PRIORITY = 9
#: Longest caller-chosen invocation id.
MAX_ID_LENGTH = 200
#: A caller-chosen id: printable, without whitespace (ids travel space-separated in
#: Redis wake-ups, and appear in logs and commands).
_ID = re.compile(r"[^\s]+")


@dataclass(frozen=True, slots=True)
class CallOptions:
    """The options of one call, checked on creation (:meth:`check`).

    :param delay: seconds from the call before it may run (``>= 0``).
    :param eta: the aware ``datetime`` from which it may run (not with ``delay``).
    :param expires: seconds from the call, or an aware ``datetime``: not started by then,
        it never runs and ends EXPIRED.
    :param queue: the queue of this call instead of the task's.
    :param priority: 0-9, this call's message priority instead of the task's.
    :param invocation_id: a caller-chosen id; calling again with the same id returns the
        same invocation (registered and run once).
    :param headers: a JSON object carried with the call to the running task
        (``invocation.headers``) and stored with the record; kept as a JSON copy, and an
        empty one as ``None`` (nothing is stored or sent for it).
    :param retries: the retry count the call starts at (``>= 0``): a call that carries on
        the retries of another one, as the Celery layer's ``apply_async(retries=)`` and
        ``self.retry(throw=False)`` make; the task's ``max_retries`` counts from there.
        Not an option of ``Task.with_options`` (0: a new call).
    :param invocation_ids: a caller-chosen id for each of the calls routed with these
        options, in call order (as ``invocation_id`` for one call): many calls registered
        in one backend write, as ``wf.execute_tasks`` makes them. Not an option of
        ``Task.with_options``; not with ``invocation_id``.
    """

    delay: float | None = None
    eta: dt.datetime | None = None
    expires: float | dt.datetime | None = None
    queue: str | None = None
    priority: int | None = None
    invocation_id: str | None = None
    headers: dict[str, Any] | None = None
    retries: int = 0
    invocation_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the option that is wrong and why."""
        if self.delay is not None:
            _seconds("delay", self.delay)
            if self.eta is not None:
                raise ValueError(
                    "with_options(delay=..., eta=...): give one of them, not both "
                    "(delay: seconds from now; eta: an aware datetime)"
                )
        if self.eta is not None:
            _aware("eta", self.eta)
        if self.expires is not None:
            if isinstance(self.expires, dt.datetime):
                _aware("expires", self.expires)
            elif _seconds("expires", self.expires) == 0:
                raise ValueError(
                    "with_options(expires=0): expires must be > 0 seconds (or an aware "
                    "datetime); with 0 the call could never start"
                )
        if self.queue is not None and (not isinstance(self.queue, str) or not self.queue.strip()):
            raise ValueError(f"with_options(queue={self.queue!r}): queue must be a non-empty name")
        if self.priority is not None and (
            isinstance(self.priority, bool)
            or not isinstance(self.priority, int)
            or not 0 <= self.priority <= MAX_PRIORITY
        ):
            raise ValueError(
                f"with_options(priority={self.priority!r}): priority must be an integer "
                f"0-{MAX_PRIORITY} (higher first)"
            )
        if self.invocation_id is not None:
            _check_id(self.invocation_id, f"with_options(invocation_id={self.invocation_id!r})")
        if self.invocation_ids is not None:
            _check_ids(self.invocation_ids, self.invocation_id)

        if self.retries and (
            isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0
        ):
            raise ValueError(
                f"CallOptions(retries={self.retries!r}): retries must be an integer >= 0 (the "
                "retry count the call starts at)"
            )
        if self.headers is not None:
            # frozen: the checked copy replaces what was given (a caller's later changes
            # to its dict do not reach calls made with these options)
            object.__setattr__(self, "headers", _json_object(self.headers))

    @property
    def delays(self) -> bool:
        """Whether the call is held back (a delay or an ETA)."""
        return self.delay is not None or self.eta is not None

    def times(self, now: float) -> tuple[float | None, float | None]:
        """``(due, expires)`` in seconds since the epoch for a call made at ``now``
        (``None``: not delayed / never expires).

        :raises ValueError: the expiry is already past, or not after the due time (the
            call could never start).
        """
        due = (
            now + self.delay
            if self.delay is not None
            else self.eta.timestamp()
            if self.eta is not None
            else None
        )
        if self.expires is None:
            return due, None
        expires = (
            self.expires.timestamp()
            if isinstance(self.expires, dt.datetime)
            else now + self.expires
        )
        if expires <= now:
            raise ValueError(
                f"with_options(expires={self.expires!r}): that time is already past "
                f"({_iso(expires)}); the call could never start"
            )
        if due is not None and expires <= due:
            raise ValueError(
                f"with_options(expires=...): the call expires at {_iso(expires)}, not after "
                f"it is due at {_iso(due)}: it could never start. Expire it later, or delay "
                "it less."
            )
        return due, expires


def _check_id(chosen: Any, where: str) -> None:
    if (
        not isinstance(chosen, str)
        or not _ID.fullmatch(chosen)
        or not chosen.isprintable()
        or len(chosen) > MAX_ID_LENGTH
    ):
        raise ValueError(
            f"{where}: an invocation id must be a non-empty string of at most "
            f"{MAX_ID_LENGTH} printable characters without spaces (no control or invisible "
            "characters: the id is typed in commands and read in logs)"
        )


def _check_ids(ids: Any, single: str | None) -> None:
    where = "CallOptions(invocation_ids=...)"
    if single is not None:
        raise ValueError(f"{where}: give invocation_id (one call) or invocation_ids, not both")
    if not isinstance(ids, tuple):
        raise TypeError(f"{where}: a tuple of ids (one per call), not {type(ids).__name__}")
    for chosen in ids:
        _check_id(chosen, f"{where}: {chosen!r}")
    if len(set(ids)) != len(ids):
        twice = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise ValueError(f"{where}: each call needs its own id; given more than once: {twice}")


class TaskWithOptions(Generic[Params, Result]):
    """A task bound to :class:`CallOptions`: called and parallelized like the task.

    Returned by :meth:`Task.with_options <pynenc.task.Task.with_options>`; cheap to make,
    and reusable for many calls (relative times count from each call).
    """

    __slots__ = ("options", "task")

    def __init__(self, task: Task[Params, Result], options: CallOptions) -> None:
        self.task = task
        self.options = options

    def __call__(
        self, *args: Params.args, **kwargs: Params.kwargs
    ) -> BaseInvocation[Params, Result]:
        """Call the task with these options (arguments checked as by the task)."""
        return self.task._call(self.task.args(*args, **kwargs), self.options)

    def parallelize(
        self,
        param_iter: Iterable[tuple[Any, ...] | dict[str, Any] | Arguments],
        common_args: dict[str, Any] | None = None,
    ) -> BaseInvocationGroup[Params, Result]:
        """As :meth:`Task.parallelize <pynenc.task.Task.parallelize>`, every call with
        these options. A caller-chosen ``invocation_id`` names one call: refused here."""
        if self.options.invocation_id is not None:
            raise ValueError(
                f"{self.task.task_id}.with_options(invocation_id="
                f"{self.options.invocation_id!r}).parallelize(...): an invocation id names "
                "one call; give each call its own with with_options(invocation_id=...)(...)"
            )
        return self.task.parallelize(param_iter, common_args, options=self.options)

    def __repr__(self) -> str:
        return f"TaskWithOptions({self.task.task_id.key}, {self.options!r})"


# -- dev sync mode -----------------------------------------------------------------------------

#: Dev sync mode remembers this many caller-chosen ids per app (the oldest are forgotten).
SYNC_IDS_KEPT = 10_000
_sync_ids: WeakKeyDictionary[Pynenc, OrderedDict[str, SyncInvocation[Any, Any]]] = (
    WeakKeyDictionary()
)


def run_sync(
    task: Task[Params, Result], arguments: Arguments, options: CallOptions
) -> SyncInvocation[Params, Result]:
    """A call with options in dev sync mode: it runs at once, inline.

    A delay or an ETA is not waited for (one :class:`PynencWarning` per call site); an
    expiry cannot pass before an inline call starts; queue and priority mean nothing
    without a broker. A caller-chosen id is kept (the last :data:`SYNC_IDS_KEPT` per app),
    so a second call with it returns the first invocation without running again.
    """
    from pynenc.invocation.sync import SyncInvocation

    if options.delays:
        warnings.warn(
            f"{task.task_id}: delay/eta is not waited for in dev sync mode; the call runs at once",
            PynencWarning,
            stacklevel=4,
        )
    options.times(time.time())  # the same errors as a distributed call
    chosen = options.invocation_id
    if chosen is None:
        return SyncInvocation.run(task, arguments, headers=options.headers)
    kept = _sync_ids.setdefault(task.app, OrderedDict())
    found = kept.get(chosen)
    if found is not None:
        _check_same_call(found, task, arguments)
        return found
    invocation = SyncInvocation.run(task, arguments, chosen, options.headers)
    kept[chosen] = invocation
    if len(kept) > SYNC_IDS_KEPT:
        kept.popitem(last=False)
    return invocation


def _check_same_call(
    found: BaseInvocation[Any, Any], task: Task[Any, Any], arguments: Arguments
) -> None:
    from pynenc.exceptions import InvocationConflictError

    if found.task.task_id != task.task_id or found.arguments.kwargs != arguments.kwargs:
        raise InvocationConflictError(
            conflict_message(found.invocation_id, found.task.task_id.key, task.task_id.key)
        )


def _json_object(headers: Any) -> dict[str, Any] | None:
    """``headers`` as a JSON copy (``None`` when empty); ``TypeError``/``ValueError`` when
    it is not a mapping of names to JSON values."""
    if not isinstance(headers, dict):
        raise TypeError(
            f"with_options(headers={headers!r}): headers must be a dict of names to JSON "
            "values (str, int, float, bool, None, lists and dicts of them)"
        )
    if not headers:
        return None
    bad = [key for key in headers if not isinstance(key, str)]
    if bad:
        raise TypeError(f"with_options(headers=...): header names must be strings, got {bad[0]!r}")
    try:
        copy: dict[str, Any] = json.loads(json.dumps(headers, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"with_options(headers=...): headers must hold JSON values only (str, int, "
            f"float, bool, None, lists and dicts of them): {exc}"
        ) from None
    return copy


def _seconds(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or math.isinf(value)
        or value < 0
    ):
        form = "> 0, or a timezone-aware datetime" if name == "expires" else ">= 0"
        raise ValueError(
            f"with_options({name}={value!r}): {name} must be a finite number of seconds {form}"
        )
    if value > LONGEST_DELAY:
        raise ValueError(
            f"with_options({name}={value!r}): at most {LONGEST_DELAY:.0f} seconds (100 "
            "years); for a later time give an aware datetime"
        )
    return float(value)


def _aware(name: str, value: Any) -> None:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"with_options({name}={value!r}): {name} must be a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"with_options({name}={value!r}): a naive datetime is ambiguous (whose local "
            f"time?); give a timezone-aware one, e.g. datetime.now(timezone.utc) + "
            "timedelta(minutes=5)"
        )


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")
