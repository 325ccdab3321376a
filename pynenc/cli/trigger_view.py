"""How the CLI shows trigger times and what triggered an invocation (``pynenc triggers``,
``pynenc status``): a time in the app's timezone and in UTC, and the ``pynenc_trigger``
header of a triggered invocation as a readable line."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from pynenc.orchestrator.scheduling import iso


def wall_clock(timestamp: float, zone: str) -> str:
    """``2025-03-30 03:00:00 CEST``: a time on the wall clock of ``zone``."""
    when = dt.datetime.fromtimestamp(timestamp, ZoneInfo(zone))
    fraction = f".{when.microsecond // 1000:03d}" if when.microsecond >= 1000 else ""
    return f"{when:%Y-%m-%d %H:%M:%S}{fraction} {when.tzname()}"


def both(timestamp: float, zone: str) -> str:
    """A time in the app's timezone and in UTC (once when the app's timezone is UTC)."""
    if zone == "UTC":
        return iso(timestamp)
    return f"{wall_clock(timestamp, zone)} = {iso(timestamp)}"


def triggered_by(header: Any, zone: str) -> list[str]:
    """Lines saying what triggered an invocation, from its ``pynenc_trigger`` header: the
    trigger, and the occasion, event or ended invocation (each one met, for ``"and"``)."""
    if not isinstance(header, dict):
        return [f"by a trigger ({json.dumps(header, default=str)[:200]})"]
    trigger = header.get("trigger", "?")
    if header.get("name") is not None:
        trigger = f"{trigger} ({header['name']!r})"
    met = header.get("met")
    if isinstance(met, list) and met:
        return [f"by {trigger} once each condition was met:"] + [
            f"- {_occurrence(m, zone)}" for m in met
        ]
    return [f"by {trigger}: {_occurrence(header, zone)}"]


def _occurrence(found: Any, zone: str) -> str:
    if not isinstance(found, dict):
        return str(found)
    kind = found.get("kind", "?")
    if "occasion" in found:
        what = "cron occasion" if kind == "cron" else f"{kind} tick"
        return f"{what} {_occasion(found['occasion'], zone)}"
    if "event_id" in found or "event_code" in found:
        return f"event {found.get('event_code')!r} (id {found.get('event_id')})"
    if "invocation_id" in found:
        status = str(found.get("status", "?")).upper()
        verb = {"result": "succeeded", "exception": "failed"}.get(kind, f"ended {status}")
        task = f" of {found['task']}" if found.get("task") else ""
        return f"invocation {found['invocation_id']}{task} {verb}"
    return f"{kind} ({json.dumps(found, default=str)[:200]})"


def _occasion(value: Any, zone: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return both(float(value), zone)
    return str(value)  # an ISO text
