"""A delay on a step that waits (:attr:`pynenc.records.Links.delay`/``not_before``): when
it is due once released, how it is stored and sent, and who publishes it (memory backend,
no runner)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pynenc import InvocationStatus, Pynenc
from pynenc.broker.envelope import Envelope, MalformedEnvelopeError
from pynenc.orchestrator.scheduling import publish_now
from pynenc.records import Links, decode_meta, encode_links
from tests.apps import core

S = InvocationStatus


@pytest.fixture
def app() -> Iterator[Pynenc]:
    core.app.conf.dev_mode_force_sync_tasks = False
    core.app.purge()
    yield core.app
    core.app.purge()


def test_due_is_the_later_of_release_plus_delay_and_not_before() -> None:
    assert Links().due(100.0) == 100.0
    assert Links(delay=2.5).due(100.0) == 102.5
    assert Links(not_before=150.0).due(100.0) == 150.0
    assert Links(not_before=50.0).due(100.0) == 100.0, "an eta past at release: at once"
    assert Links(delay=10.0, not_before=105.0).due(100.0) == 110.0
    assert Links(delay=1.0, not_before=200.0).due(100.0) == 200.0


def test_the_delay_is_stored_only_when_set() -> None:
    plain = Links(after=("a",))
    assert plain.encode() == {"after": ["a"]}
    delayed = Links(after=("a",), delay=3.0, not_before=1.5e9)
    encoded = delayed.encode()
    assert encoded == {"after": ["a"], "delay": 3.0, "not_before": 1.5e9}
    assert Links.decode(json.loads(json.dumps(encoded))) == delayed
    assert Links.decode({"after": ["a"]}) == plain


def test_a_malformed_delay_in_a_message_is_a_clear_error() -> None:
    body = Envelope("i", "mod.t", {}, "json", links=Links(after=("a",), delay=2.0)).encode()
    assert Envelope.decode(body).links == Links(after=("a",), delay=2.0)
    broken = json.loads(body)
    broken["links"]["delay"] = [1]
    with pytest.raises(MalformedEnvelopeError, match="links are malformed"):
        Envelope.decode(json.dumps(broken))


def test_followers_due_later_are_left_to_the_scheduler(app: Pynenc) -> None:
    """``publish_now(due_only=True)`` (what the runner that ended a step calls) skips a
    released step that is not due yet, with no extra read; a held-back invocation woken
    early (``due_only`` left out) is still published before its due time."""
    later = core.add.with_options(delay=60)(1, 2).invocation_id
    soon = core.add.with_options(delay=0.01)(1, 2).invocation_id
    time.sleep(0.05)
    assert publish_now(app.orchestrator, "me", [later, soon], "test", due_only=True) == [soon]
    assert app.orchestrator.get_record(later).status is S.SCHEDULED
    assert publish_now(app.orchestrator, "me", [later], "woken") == [later]
    assert app.orchestrator.get_record(later).status is S.REGISTERED


def test_meta_keeps_the_delay(app: Pynenc) -> None:
    record = app.state_backend.get(core.add(1, 2).invocation_id)
    assert record is not None
    links = Links(after=("x",), delay=0.25)
    assert decode_meta(None, encode_links(replace(record, links=links)))["links"] == links
