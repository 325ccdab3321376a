"""Celery 5.7's own beat ``Scheduler`` driven by a fake clock, for the beat QA tests.

:func:`drive` ticks one or more real Celery schedulers (Celery's ``setup_schedule``,
``tick`` and ``apply_async``, unchanged but for what they send) through a timeline of
"now" values and returns what they would send, or sent. It works on a Celery app and on
a compat app alike (both are ``celery.Celery``).

Run as a script (``python -m tests.celery_compat.qa_beat.beat_driver``) with the original
Celery project on ``PYTHONPATH``, it reads ``{"timeline": [...], "schedulers": n, "send":
bool, "conf": {setting: value}}`` from stdin and prints the sends as JSON: the test
process imports the migrated project under the same package name, so Celery's side runs
in a process of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any
from zoneinfo import ZoneInfo

from celery.beat import Scheduler, _evaluate_entry_args, _evaluate_entry_kwargs


class RecordingScheduler(Scheduler):  # type: ignore[misc]
    """Celery's in-memory beat scheduler, noting each send (and sending it if ``send``)."""

    def __init__(
        self, app: Any, sent: list[dict[str, Any]], send: bool, number: int, **kw: Any
    ) -> None:
        self.sent, self.send, self.number = sent, send, number
        super().__init__(app, lazy=True, **kw)
        if not send:  # no broker connection (Celery's producer connects when first used)
            self.__dict__["producer"] = None
        self.setup_schedule()

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kw: Any) -> Any:
        entry = self.reserve(entry) if advance else entry
        options = dict(entry.options)
        self.sent.append(
            {
                "beat": self.number,
                "entry": entry.name,
                "at": self.app.now().timestamp(),
                "task": entry.task,
                "args": list(_evaluate_entry_args(entry.args)),
                "kwargs": dict(_evaluate_entry_kwargs(entry.kwargs)),
                "options": {k: _plain(v) for k, v in options.items()},
            }
        )
        if self.send:  # on the real clock: Celery counts expires= from app.now()
            fake = self.app.__dict__.pop("now")
            try:
                result = super().apply_async(entry, producer=producer, advance=False, **kw)
            finally:
                self.app.now = fake
            self.sent[-1]["result"] = f"{type(result).__module__}.{type(result).__name__}"
            return result
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, str | int | float | bool | type(None) | dict | list):
        return value
    return repr(value)


def drive(
    app: Any, timeline: list[float], schedulers: int = 1, send: bool = False
) -> list[dict[str, Any]]:
    """Tick ``schedulers`` Celery beat schedulers of ``app`` at each "now" of ``timeline``
    (seconds since the epoch), each until nothing more is due; what they sent, in order.
    The first moment is when the schedulers start (the entries are first seen)."""
    zone = ZoneInfo(str(app.timezone))
    now = [dt.datetime.fromtimestamp(timeline[0], zone)]
    app.now = lambda: now[0]
    app.loader.import_default_modules()
    sent: list[dict[str, Any]] = []
    beats = [RecordingScheduler(app, sent, send, number) for number in range(schedulers)]
    for moment in timeline:
        now[0] = dt.datetime.fromtimestamp(moment, zone)
        for beat in beats:
            for _ in range(1000):
                if beat.tick() != 0:
                    break
    return sent


def main() -> None:
    request = json.load(sys.stdin)
    from shop.celery import app  # the original project (on PYTHONPATH)

    app.conf.update(request.get("conf") or {})
    sent = drive(app, request["timeline"], request.get("schedulers", 1), request.get("send", False))
    json.dump(sent, sys.stdout)


if __name__ == "__main__":
    main()
