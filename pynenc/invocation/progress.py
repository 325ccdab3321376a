"""Progress and custom state: a label and a JSON metadata value that a running task publishes
for the readers of its invocation, apart from its lifecycle status.

Inside a task, ``my_task.invocation.set_progress("PROGRESS", {"done": 3, "total": 10})``;
readers see ``invocation.progress`` (a :class:`Progress`, or ``None`` before the first one).
The status stays RUNNING (then SUCCESS, FAILED, …): progress never moves it. The last
progress stays readable after the invocation ends, until a purge. It is stored with the
state backend's value primitives (namespace ``progress``, one value per invocation, replaced
by each update: one write per call), so a reader anywhere sees it; in dev sync mode it lives
on the invocation object.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynenc.state_backend.base import StateBackend

#: The value namespace of progress entries (key: the invocation id).
NAMESPACE = "progress"
#: Longest state label: it names a state, it does not carry data (``meta`` does).
MAX_STATE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Progress:
    """What a task last said about itself while running."""

    state: str  #: a label of the task's choosing, e.g. ``"PROGRESS"``
    meta: Any  #: a JSON value, usually a dict (``None`` when none was given)
    updated: float  #: when it was set, seconds since the epoch (the writer's clock)


def make_progress(state: str, meta: Any = None, now: float | None = None) -> tuple[Progress, str]:
    """Check ``state`` and ``meta`` and return the progress with its stored JSON text.

    ``meta`` travels as JSON: tuples come back as lists and dict keys as strings.

    :raises TypeError: ``state`` is not a string, or ``meta`` holds a value JSON cannot
        carry (named with its type).
    :raises ValueError: ``state`` is empty or too long, or ``meta`` holds NaN or infinity.
    """
    if not isinstance(state, str):
        raise TypeError(
            f"set_progress(state={state!r}): the state must be a string label such as "
            f"'PROGRESS', not a {type(state).__name__}"
        )
    if not state.strip() or len(state) > MAX_STATE_LENGTH:
        raise ValueError(
            f"set_progress(state={state[:50]!r}): the state must be a non-empty label of at "
            f"most {MAX_STATE_LENGTH} characters; put data in meta"
        )
    progress = Progress(state, meta, time.time() if now is None else now)
    try:
        text = json.dumps(
            {"state": state, "meta": meta, "updated": progress.updated},
            allow_nan=False,
            default=_refuse,
            separators=(",", ":"),
        )
    except ValueError as exc:  # NaN or infinity
        raise ValueError(
            f"set_progress({state!r}, meta=...): meta must be JSON; it holds a float JSON "
            f"cannot carry (NaN or infinity): {exc}"
        ) from None
    return progress, text


def _refuse(value: Any) -> Any:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise TypeError(
        f"set_progress(meta=...): meta must be JSON-able (dicts with string keys, lists, "
        f"strings, numbers, booleans, None); it holds a {type(value).__qualname__}: {shown}. "
        "Convert it first (e.g. str() or a list)."
    )


def decode_progress(text: str) -> Progress:
    """The :class:`Progress` stored as ``text`` by :func:`publish`."""
    data = json.loads(text)
    return Progress(str(data["state"]), data.get("meta"), float(data["updated"]))


def publish(backend: StateBackend, invocation_id: str, state: str, meta: Any = None) -> Progress:
    """Store the progress of ``invocation_id`` (replacing the previous one); one write.

    :raises TypeError, ValueError: see :func:`make_progress`.
    """
    progress, text = make_progress(state, meta)
    backend.put_value(NAMESPACE, invocation_id, text)
    return progress


def read(backend: StateBackend, invocation_id: str) -> Progress | None:
    """The last progress of ``invocation_id``, or ``None`` when it published none."""
    text = backend.get_value(NAMESPACE, invocation_id)
    return None if text is None else decode_progress(text)
