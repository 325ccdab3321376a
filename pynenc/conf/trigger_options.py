"""The options of triggers: the app's ``timezone`` and the ``trigger`` section."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynenc.conf.option import InvalidValue, Option, OptionTable, choice, integer, number

MISSED_POLICIES = ("once", "skip")


def timezone_name(raw: Any) -> str:
    """An IANA timezone name that this machine's zone database knows."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidValue()
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValue(
            f"{name!r} is not a timezone this machine knows (install tzdata, or use an IANA "
            "name such as 'UTC', 'Europe/Madrid', 'America/New_York')"
        ) from exc
    return name


TIMEZONE = Option(
    "timezone",
    "UTC",
    timezone_name,
    "an IANA timezone name ('UTC', 'Europe/Madrid')",
    "Timezone of cron triggers (and of the Celery layer's crontabs).",
)

TRIGGER_OPTIONS = OptionTable(
    "trigger",
    [
        Option(
            "missed",
            "once",
            choice(*MISSED_POLICIES),
            "'once' or 'skip'",
            "Cron occasions and interval ticks missed while no runner was up (later than "
            "missed_after): 'once' runs the latest of them once, 'skip' drops them.",
        ),
        Option(
            "missed_after",
            60.0,
            number(0),
            "a number of seconds >= 0",
            "How late an occasion may be found and still count as on time.",
        ),
        Option(
            "event_retention",
            10_000,
            integer(1),
            "an integer >= 1",
            "Events emitted with app.trigger.emit_event that are kept (the newest).",
        ),
    ],
)
