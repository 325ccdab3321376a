"""How ``pynenc status`` words the ``pynenc_trigger`` header of a triggered invocation
(:func:`pynenc.cli.trigger_view.triggered_by`), for every kind and for odd headers."""

from __future__ import annotations

import datetime as dt

from pynenc.cli.trigger_view import both, triggered_by, wall_clock

NOON = dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC).timestamp()


def test_times_in_the_app_zone_and_utc() -> None:
    assert wall_clock(NOON, "Europe/Madrid") == "2025-07-01 12:00:00 CEST"
    assert wall_clock(NOON + 0.25, "Europe/Madrid") == "2025-07-01 12:00:00.250 CEST"
    assert both(NOON, "Europe/Madrid") == "2025-07-01 12:00:00 CEST = 2025-07-01T10:00:00.000+00:00"
    assert both(NOON, "UTC") == "2025-07-01T10:00:00.000+00:00"  # once


def test_each_kind() -> None:
    zone = "UTC"
    assert triggered_by({"trigger": "t@1", "kind": "interval", "occasion": NOON}, zone) == [
        "by t@1: interval tick 2025-07-01T10:00:00.000+00:00"
    ]
    assert triggered_by(
        {"trigger": "t@1", "kind": "exception", "invocation_id": "i1", "status": "failed"}, zone
    ) == ["by t@1: invocation i1 failed"]
    assert triggered_by(
        {"trigger": "t@1", "kind": "result", "invocation_id": "i1", "status": "success"}, zone
    ) == ["by t@1: invocation i1 succeeded"]
    assert triggered_by(
        {"trigger": "t@1", "kind": "status", "invocation_id": "i1", "status": "cancelled"}, zone
    ) == ["by t@1: invocation i1 ended CANCELLED"]


def test_every_condition_met_of_an_and_trigger() -> None:
    header = {
        "trigger": "t@1",
        "kind": "event",
        "event_id": "e2",
        "event_code": "b",
        "met": [
            {"kind": "cron", "occasion": NOON},
            {"kind": "event", "event_id": "e2", "event_code": "b"},
        ],
    }
    assert triggered_by(header, "Europe/Madrid") == [
        "by t@1 once each condition was met:",
        "- cron occasion 2025-07-01 12:00:00 CEST = 2025-07-01T10:00:00.000+00:00",
        "- event 'b' (id e2)",
    ]


def test_odd_headers_are_shown_as_they_are() -> None:
    assert triggered_by("made by hand", "UTC") == ['by a trigger ("made by hand")']
    assert triggered_by({"kind": "cron", "occasion": "2025-07-01T12:00"}, "UTC") == [
        "by ?: cron occasion 2025-07-01T12:00"
    ]
    assert triggered_by({"trigger": "t@1", "kind": "future", "x": 1}, "UTC") == [
        'by t@1: future ({"trigger": "t@1", "kind": "future", "x": 1})'
    ]
