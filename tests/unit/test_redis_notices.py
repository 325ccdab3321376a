"""The Redis end messages' format (redis_notices): what a listener takes from them."""

from __future__ import annotations

import json

from pynenc.records import InvocationStatus
from pynenc.state_backend.redis_notices import RecentEnds, announced, final_record

FIELDS = ["task", "m.t", "args", "{}", "status", "success", "retries", "0", "queue", "default"]


def test_ids_come_with_their_records_or_nothing() -> None:
    sent = json.dumps(FIELDS)
    assert list(announced("a b c\n" + sent + "\n\n" + sent)) == [
        ("a", sent),
        ("b", ""),
        ("c", sent),
    ]
    # a message with ids only (a registration's finals, an older writer): no records
    assert list(announced("a b")) == [("a", ""), ("b", "")]


def test_only_a_final_record_is_taken() -> None:
    record = final_record("a", json.dumps([*FIELDS, "result", '"5"']))
    assert record is not None and record.status is InvocationStatus.SUCCESS
    assert record.invocation_id == "a" and record.result == '"5"'
    running = [*FIELDS[:4], "status", "running", *FIELDS[6:]]
    assert final_record("a", json.dumps(running)) is None
    for garbage in ("", "{}", "[1, 2, 3]", "not json", '["task"]', json.dumps(FIELDS[2:])):
        assert final_record("a", garbage) is None


def test_recent_ends_keep_the_newest() -> None:
    recent = RecentEnds(size=10)
    for i in range(100):
        recent.keep(str(i), f"r{i}")
    assert recent.get("99") == "r99" and recent.get("90") == "r90"
    assert recent.get("0") == "", "the oldest are dropped"
    assert len(recent._sent) <= 11
    recent.keep("x", "")  # ended, its record too large to carry
    assert recent.ended("x") and recent.get("x") == ""
    assert not recent.ended("y")
    recent.clear()
    assert recent.get("99") == ""


def test_recent_ends_keep_within_their_bytes() -> None:
    recent = RecentEnds(size=1000, max_bytes=1000)
    for i in range(50):
        recent.keep(str(i), "x" * 100)
    assert recent.get("49") and not recent.get("0")
    assert recent._bytes <= 1100 and len(recent._sent) <= 11
