"""A trigger's name and the call options of its invocations, checked when it is declared.

``TriggerBuilder().named("eu").with_options(queue="reports", expires=600)``: the options are
``task.with_options``'s (checked by :class:`~pynenc.call_options.CallOptions`, with the same
errors) that make sense for a call repeated at each firing: ``queue``, ``priority``,
``expires`` and ``delay`` in seconds from each firing, ``headers``. Not ``eta`` (a fixed
time cannot repeat) nor ``invocation_id`` (each firing derives its own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pynenc.call_options import CallOptions
from pynenc.exceptions import TaskDefinitionError

#: The header a firing sets (what fired it): not one a trigger's options may give.
HEADER = "pynenc_trigger"


def checked_name(name: Any) -> str:
    """``name`` as a trigger's name.

    :raises TaskDefinitionError: it is not a non-empty string.
    """
    if not isinstance(name, str) or not name.strip():
        raise TaskDefinitionError(
            f"TriggerBuilder().named({name!r}): a trigger's name is a non-empty string "
            "(e.g. 'weekday-report')"
        )
    return name


def checked_options(
    queue: Any, priority: Any, expires: Any, delay: Any, headers: Any
) -> dict[str, Any]:
    """The call options given (only those set), as stored in the trigger's definition:
    seconds as floats, headers as a JSON copy.

    :raises TaskDefinitionError: an option ``task.with_options`` refuses (with its reason),
        a fixed ``expires`` datetime, an ``expires`` not after the ``delay``, or the header
        ``pynenc_trigger``.
    """
    if isinstance(expires, dt.datetime):
        raise TaskDefinitionError(
            f"TriggerBuilder().with_options(expires={expires!r}): a fixed time would expire "
            "every firing after it; give seconds from each firing (expires=600)"
        )
    if isinstance(headers, Mapping) and not isinstance(headers, dict):
        headers = dict(headers)
    try:
        checked = CallOptions(
            delay=delay, expires=expires, queue=queue, priority=priority, headers=headers
        )
    except (TypeError, ValueError) as exc:
        raise TaskDefinitionError(f"TriggerBuilder().{exc}") from exc
    if checked.headers and HEADER in checked.headers:
        raise TaskDefinitionError(
            f"TriggerBuilder().with_options(headers=...): the header {HEADER!r} is set by "
            "the trigger itself (what fired it); give yours another name"
        )
    if delay is not None and expires is not None and float(expires) <= float(delay):
        raise TaskDefinitionError(
            f"TriggerBuilder().with_options(delay={delay!r}, expires={expires!r}): each "
            f"firing would expire {expires!r} s after it, before it is due {delay!r} s after "
            "it, so it could never start. Expire it later, or delay it less"
        )
    found: dict[str, Any] = {}
    if queue is not None:
        found["queue"] = queue
    if priority is not None:
        found["priority"] = priority
    if expires is not None:
        found["expires"] = float(expires)
    if delay is not None:
        found["delay"] = float(delay)
    if checked.headers:
        found["headers"] = checked.headers
    return found
