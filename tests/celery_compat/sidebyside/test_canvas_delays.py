"""Canvas on a worker: ``countdown``/``eta`` on a step that waits. Celery's worker sends a
later chain step, a ``link`` callback or a chord body when what it follows ends, so their
own countdown counts from that end; pynenc releases them due then.

Written once against Celery's public API. Each step writes down when it started
(``tasks.stamped``); the gaps are at least the countdown, with generous upper bounds.
"""

from __future__ import annotations

import datetime as dt
from types import ModuleType

from tests.celery_compat.sidebyside.conftest import WAIT, Written

#: the longest a due step may take to start on a loaded machine
SLACK = 30.0
#: a timer may fire a little early (Celery's ETA timer)
EARLY = 0.1


def test_a_countdown_on_a_later_chain_step(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    key = written.key
    steps = canvas.chain(tasks.stamped.s(1, key=key), tasks.stamped.s(key=key).set(countdown=1.5))
    assert steps.apply_async().get(timeout=WAIT) == [[1]]
    first, second = written.take(2)
    assert second["args"] == [[1]]
    assert 1.5 - EARLY <= second["at"] - first["at"] < 1.5 + SLACK


def test_an_eta_on_a_later_chain_step(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    key = written.key
    eta = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    steps = canvas.chain(tasks.stamped.s(1, key=key), tasks.stamped.s(key=key).set(eta=eta))
    steps.apply_async().get(timeout=WAIT)
    _, second = written.take(2)
    assert eta.timestamp() - EARLY <= second["at"] < eta.timestamp() + SLACK


def test_a_countdown_on_a_link_callback(tasks: ModuleType, written: Written) -> None:
    key = written.key
    callback = tasks.stamped.s(key=key).set(countdown=1.0)
    tasks.stamped.apply_async((5,), {"key": key}, link=callback).get(timeout=WAIT)
    parent, linked = written.take(2)
    assert linked["args"] == [[5]]
    assert 1.0 - EARLY <= linked["at"] - parent["at"] < 1.0 + SLACK


def test_a_countdown_on_a_chord_body(
    tasks: ModuleType, canvas: ModuleType, written: Written
) -> None:
    key = written.key
    header = [tasks.stamped.s(i, key=key) for i in range(2)]
    body = tasks.stamped.s(key=key).set(countdown=1.0)
    assert canvas.chord(header, body).apply_async().get(timeout=WAIT) == [[[0], [1]]]
    *members, last = written.take(3)
    assert last["args"] == [[[0], [1]]]
    assert 1.0 - EARLY <= last["at"] - max(m["at"] for m in members) < 1.0 + SLACK
