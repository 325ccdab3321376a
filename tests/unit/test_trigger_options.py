"""A trigger's call options and name (``TriggerBuilder.with_options``, ``named``): checked
when declared, part of the trigger id, applied to each triggered invocation (merged with
the ``pynenc_trigger`` header, under the derived invocation id), shown by the CLI."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from pynenc import Pynenc, TriggerBuilder
from pynenc.cli.main import cli
from pynenc.cli.trigger_view import triggered_by
from pynenc.exceptions import TaskDefinitionError
from pynenc.records import InvocationRecord
from pynenc.testing import in_memory
from pynenc.trigger.definition import define
from pynenc.trigger.occurrences import invocation_id_for
from tests.apps import trigger_checks, trigger_options

NOW = 1_900_000_000.0


def _ids(*builders: TriggerBuilder) -> list[str]:
    return [d.trigger_id for d in define(trigger_checks.tick, list(builders))]


# -- declaring ----------------------------------------------------------------------------------


def test_options_are_stored_as_given_with_seconds_as_floats() -> None:
    builder = TriggerBuilder().on_interval(60).with_options(queue="q", delay=2, expires=10)
    assert builder.options == {"queue": "q", "expires": 10.0, "delay": 2.0}
    assert TriggerBuilder().with_options().options == {}
    assert TriggerBuilder().with_options(headers={}).options == {}  # empty: nothing
    again = builder.with_options(priority=0)  # a second call replaces the first
    assert again is builder and builder.options == {"priority": 0}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"priority": 12}, "with_options(priority=12): priority must be an integer 0-9"),
        ({"priority": True}, "priority must be an integer 0-9"),
        ({"queue": ""}, "with_options(queue=''): queue must be a non-empty name"),
        ({"queue": 3}, "queue must be a non-empty name"),
        ({"delay": -1}, "with_options(delay=-1): delay must be a finite number of seconds"),
        ({"delay": float("nan")}, "delay must be a finite number"),
        ({"expires": 0}, "expires must be > 0 seconds"),
        (
            {"expires": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
            "a fixed time would expire every firing after it; give seconds",
        ),
        ({"delay": 10, "expires": 5}, "could never start. Expire it later, or delay it less"),
        ({"delay": 5, "expires": 5}, "could never start"),
        ({"headers": "team=ops"}, "headers must be a dict of names to JSON values"),
        ({"headers": {1: "x"}}, "header names must be strings"),
        ({"headers": {"when": dt.datetime.now()}}, "headers must hold JSON values only"),
        ({"headers": {"pynenc_trigger": {}}}, "the header 'pynenc_trigger' is set by the trigger"),
    ],
)
def test_bad_options_are_refused_when_declared(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(TaskDefinitionError) as raised:
        TriggerBuilder().with_options(**options)
    assert str(raised.value).startswith("TriggerBuilder().with_options(")
    assert expected in str(raised.value)


def test_options_task_with_options_takes_that_cannot_repeat_are_not_parameters() -> None:
    with pytest.raises(TypeError, match="eta"):
        TriggerBuilder().with_options(eta=dt.datetime.now(dt.UTC))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="invocation_id"):
        TriggerBuilder().with_options(invocation_id="x")  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["", "   ", 3, None])
def test_a_name_is_a_non_empty_string(name: Any) -> None:
    with pytest.raises(TaskDefinitionError, match="a trigger's name is a non-empty string"):
        TriggerBuilder().named(name)


def test_the_ids_of_triggers_without_name_or_options_did_not_change() -> None:
    """Declared before names and options existed: the same id, so their stored state
    (cursors, interval grid, counts) is still theirs."""
    assert _ids(TriggerBuilder().on_interval(0.05)) == [
        "tests.apps.trigger_checks.tick@844b3a9af8df"
    ]
    assert _ids(TriggerBuilder().on_interval(0.05).with_options(headers={})) == _ids(
        TriggerBuilder().on_interval(0.05)
    )


def test_name_and_options_are_part_of_the_id() -> None:
    def every() -> TriggerBuilder:
        return TriggerBuilder().on_interval(60)

    ids = _ids(
        every(),
        every().named("a"),
        every().named("b"),
        every().with_options(queue="q"),
        every().with_options(queue="q", priority=3),
    )
    assert len(set(ids)) == 5
    assert all(i.startswith("tests.apps.trigger_checks.tick@") for i in ids)
    # the same declaration, the same id (header order does not matter)
    one = every().named("a").with_options(headers={"x": 1, "y": 2})
    two = every().named("a").with_options(headers={"y": 2, "x": 1})
    assert _ids(one) == _ids(two)


def test_two_same_triggers_of_a_task_are_refused_unless_named() -> None:
    def every() -> TriggerBuilder:
        return TriggerBuilder().on_interval(60).with_arguments({})

    with pytest.raises(TaskDefinitionError, match=r"two of its triggers are the same.*named"):
        define(trigger_checks.tick, [every(), every()])
    found = define(trigger_checks.tick, [every().named("a"), every().named("b")])
    assert [d.name for d in found] == ["a", "b"]
    with pytest.raises(TaskDefinitionError, match="two of its triggers are named 'a'"):
        define(
            trigger_checks.tick,
            [every().named("a"), TriggerBuilder().on_cron("0 * * * *").named("a")],
        )


# -- firing -------------------------------------------------------------------------------------


@pytest.fixture
def app() -> Iterator[Pynenc]:
    app = trigger_options.app
    app.trigger.clock = lambda: NOW
    with in_memory(app):
        app.trigger.lease_lost()  # what an earlier test's pass loaded is not ours
        yield app
    app.trigger.clock = time.time


def _fired(app: Pynenc) -> dict[str, InvocationRecord]:
    backend = app.state_backend
    records = [r for r in backend.get_many(backend.find()) if r is not None]
    return {r.headers["pynenc_trigger"]["name"]: r for r in records if r.headers}


def test_each_named_trigger_fires_with_its_options(app: Pynenc) -> None:
    event_id = app.trigger.emit_event("go")
    before = time.time()
    app.trigger.run_pass()
    fired = _fired(app)
    assert sorted(fired) == ["plain", "tuned"]  # two otherwise identical triggers: both
    tuned, plain = fired["tuned"], fired["plain"]
    definitions = {d.name: d for d in app.trigger.definitions()}
    # the derived id stays: the trigger and what fired it
    for name, record in fired.items():
        occurrence = {"key": f"event:{event_id}"}
        assert record.invocation_id == invocation_id_for(definitions[name].trigger_id, [occurrence])
    assert tuned.queue == trigger_options.QUEUE and tuned.priority == 7
    assert tuned.headers is not None and tuned.headers["team"] == "ops"
    assert tuned.headers["pynenc_trigger"] == {
        "trigger": definitions["tuned"].trigger_id,
        "name": "tuned",
        "kind": "event",
        "event_id": event_id,
        "event_code": "go",
    }
    assert tuned.due is not None and tuned.expires is not None
    assert before + 0.3 <= tuned.due <= time.time() + 0.3  # from the firing
    assert tuned.expires - tuned.due == pytest.approx(299.7)
    assert plain.queue == "default" and plain.priority is None
    assert plain.due is None and plain.expires is None
    assert plain.headers is not None and set(plain.headers) == {"pynenc_trigger"}
    # a pass repeated for the same event (a lease handover) registers nothing new
    app.trigger.lease_lost()
    app.state_backend.put_value("trigger-cursor", "trigger-events", "-1")
    app.trigger.run_pass()
    assert _fired(app) == fired


def test_the_cli_shows_name_and_options(app: Pynenc) -> None:
    stored = {d.name: dict(d.options) for d in app.trigger.definitions()}["tuned"]
    assert stored == {**trigger_options.OPTIONS, "expires": 300.0}
    runner = CliRunner()
    ref = "tests.apps.trigger_options:app"
    done = runner.invoke(cli, ["--app", ref, "triggers"])
    assert done.exit_code == 0, done.output
    assert "  name        tuned\n" in done.output and "  name        plain\n" in done.output
    assert f"  options     {json.dumps(stored)}\n" in done.output
    shown = json.loads(runner.invoke(cli, ["--app", ref, "triggers", "--json"]).stdout)
    by_name = {t["name"]: t for t in shown["triggers"]}
    assert by_name["plain"]["options"] == {}
    assert by_name["tuned"]["options"] == stored
    header = {
        "trigger": "t@1",
        "name": "tuned",
        "kind": "event",
        "event_id": "e",
        "event_code": "go",
    }
    assert triggered_by(header, "UTC") == ["by t@1 ('tuned'): event 'go' (id e)"]
