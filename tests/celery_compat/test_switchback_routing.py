"""Unit tests of the switch-back configuration: values, patterns, sources and caching."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import celery
import pytest
from celery.contrib.testing import tasks as celery_testing_tasks
from celery.result import AsyncResult as CeleryAsyncResult

from pynenc.exceptions import ConfigError
from pynenc_celery_compat import Celery, routing
from tests.celery_compat import basic_tasks, switchback_tasks

WHERE = "tests.celery_compat.switchback_tasks.where"
FLAKY = "tests.celery_compat.switchback_tasks.flaky"
ADD = "tests.celery_compat.basic_tasks.add"


@pytest.fixture(autouse=True)
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(routing.ENV_VAR, raising=False)
    routing.reload()
    yield
    routing.reload()


@pytest.fixture
def app() -> celery.Celery:
    return celery.Celery("routing", broker="memory://", set_as_current=False)


def routed(app: Any, *tasks: Any) -> list[bool]:
    return [routing.routed_to_celery(task, app) for task in tasks]


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "include", "exclude"),
    [
        (True, ("*",), ()),
        ("billing.tasks.*", ("billing.tasks.*",), ()),
        (" a.b , c.* ,, ", ("a.b", "c.*"), ()),
        (["a", "!a.keep"], ("a",), ("a.keep",)),
        (("x",), ("x",), ()),
        ({"x"}, ("x",), ()),
    ],
)
def test_values_parse_into_patterns(value: Any, include: tuple[str, ...], exclude: Any) -> None:
    assert routing.parse(value) == routing.Switch(include, exclude)


@pytest.mark.parametrize("value", [None, False, "", " , ", [], ["!only.exclusions"]])
def test_values_that_switch_nothing(value: Any) -> None:
    assert routing.parse(value) is None


@pytest.mark.parametrize("value", [5, {"a": 1}, ["ok", 3]])
def test_a_wrong_value_is_a_clear_error(value: Any) -> None:
    with pytest.raises(ConfigError, match="pynenc_celery_tasks") as error:
        routing.parse(value)
    assert "billing.tasks" in str(error.value) or "pattern" in str(error.value)


def test_a_wrong_value_fails_the_call_naming_the_setting(app: celery.Celery) -> None:
    app.conf.pynenc_celery_tasks = 42
    with pytest.raises(ConfigError, match=r"pynenc_celery_tasks = 42 \(int\)"):
        routing.routed_to_celery(switchback_tasks.where, app)


# -- patterns ------------------------------------------------------------------------------


def test_unset_keeps_every_task_on_pynenc(app: celery.Celery) -> None:
    assert routed(app, switchback_tasks.where, basic_tasks.add) == [False, False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, [True, True, True]),
        ("*", [True, True, True]),
        ("tests.celery_compat.switchback_tasks", [True, True, False]),  # a module
        ("tests.celery_compat.*", [True, True, True]),  # a package
        (WHERE, [True, False, False]),  # one task by name
        ("*.where,*.add", [True, False, True]),  # name globs
        (["tests.*", f"!{FLAKY}"], [True, False, True]),  # all but one
        (["tests.celery_compat.switchback_tasks", "!*.where"], [False, True, False]),
        ("Tests.*", [False, False, False]),  # case-sensitive, as task names are
    ],
)
def test_patterns_match_task_names_and_modules(
    app: celery.Celery, value: Any, expected: list[bool]
) -> None:
    app.conf.pynenc_celery_tasks = value
    tasks = (switchback_tasks.where, switchback_tasks.flaky, basic_tasks.add)
    assert routed(app, *tasks) == expected


def test_switched_back_lists_what_a_value_sends_to_celery(app: celery.Celery) -> None:
    app.conf.pynenc_celery_tasks = "tests.celery_compat.switchback_tasks"
    candidates = [switchback_tasks.where, switchback_tasks.flaky, basic_tasks.add]
    assert routing.switched_back(app, candidates) == [FLAKY, WHERE]


# -- sources -------------------------------------------------------------------------------


class DjangoSettings:
    """What ``config_from_object("django.conf:settings", namespace="CELERY")`` reads."""

    CELERY_BROKER_URL = "memory://"
    CELERY_PYNENC_CELERY_TASKS: ClassVar[list[str]] = [WHERE]


def test_django_namespace_setting_is_read_live(app: celery.Celery) -> None:
    app.config_from_object(DjangoSettings, namespace="CELERY")
    assert routed(app, switchback_tasks.where, switchback_tasks.flaky) == [True, False]
    # override_settings changes the settings object: seen on the next call
    DjangoSettings.CELERY_PYNENC_CELERY_TASKS = [FLAKY]
    try:
        assert routed(app, switchback_tasks.where, switchback_tasks.flaky) == [False, True]
    finally:
        DjangoSettings.CELERY_PYNENC_CELERY_TASKS = [WHERE]


def test_changes_are_seen_on_the_next_call(app: celery.Celery) -> None:
    patterns = [WHERE]
    app.conf.pynenc_celery_tasks = patterns
    assert routed(app, switchback_tasks.where) == [True]
    patterns[0] = FLAKY  # the same list, changed in place
    assert routed(app, switchback_tasks.where, switchback_tasks.flaky) == [False, True]
    app.conf.update(pynenc_celery_tasks=None)
    assert routed(app, switchback_tasks.flaky) == [False]


def test_a_configuration_loaded_after_the_first_call_is_seen() -> None:
    app = celery.Celery("later", set_as_current=False)
    assert routed(app, basic_tasks.add) == [False]
    app.config_from_object({"pynenc_celery_tasks": True}, force=True)
    assert app.conf.get("pynenc_celery_tasks") is True
    assert routed(app, basic_tasks.add) == [True]


def test_the_environment_variable_replaces_the_setting(
    app: celery.Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.conf.pynenc_celery_tasks = [WHERE]
    assert routed(app, switchback_tasks.where) == [True]
    monkeypatch.setenv(routing.ENV_VAR, f"{FLAKY}, {ADD}")
    assert routed(app, switchback_tasks.where) == [True]  # read once per process...
    routing.reload()  # ...until reloaded
    tasks = (switchback_tasks.where, switchback_tasks.flaky, basic_tasks.add)
    assert routed(app, *tasks) == [False, True, True]
    monkeypatch.setenv(routing.ENV_VAR, "!*")  # nothing back, whatever the settings say
    routing.reload()
    assert routed(app, *tasks) == [False, False, False]
    monkeypatch.setenv(routing.ENV_VAR, "   ")  # blank: as unset, the setting applies
    routing.reload()
    assert routed(app, *tasks) == [True, False, False]


def test_a_lone_exclamation_mark_in_the_environment_switches_nothing(
    app: celery.Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(routing.ENV_VAR, "!")
    routing.reload()
    assert routed(app, basic_tasks.add) == [False]  # a lone "!" excludes nothing


# -- cost ----------------------------------------------------------------------------------


def test_a_decision_is_made_once_per_task_and_value(
    app: celery.Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    matches = routing.Switch.matches

    def counting(self: routing.Switch, name: str, module: str) -> bool:
        calls.append(name)
        return matches(self, name, module)

    monkeypatch.setattr(routing.Switch, "matches", counting)
    app.conf.pynenc_celery_tasks = [WHERE]
    for _ in range(5):
        routed(app, switchback_tasks.where, switchback_tasks.flaky)
    assert calls == [WHERE, FLAKY]
    app.conf.pynenc_celery_tasks = [FLAKY]
    routed(app, switchback_tasks.where)
    assert calls == [WHERE, FLAKY, WHERE]


class OldStyleSettings:
    CELERY_ALWAYS_EAGER = True
    BROKER_URL = "memory://"


@pytest.mark.parametrize(
    ("source", "namespace", "names"),
    [
        (OldStyleSettings, None, ["task_always_eager", "broker_url", "result_backend", "nope"]),
        (DjangoSettings, "CELERY", ["broker_url", "pynenc_celery_tasks", "task_default_queue"]),
    ],
)
def test_setting_reads_what_celery_reads(source: Any, namespace: Any, names: list[str]) -> None:
    app = celery.Celery("settings", set_as_current=False)
    app.config_from_object(source, namespace=namespace)
    app.conf.task_default_queue = "changed"
    for name in names:
        assert routing.setting(app.conf, name) == app.conf.get(name), name


# -- tasks this layer did not make ---------------------------------------------------------


def test_tasks_celery_made_on_a_compat_app_keep_celerys_path() -> None:
    compat = Celery("own", broker="memory://", backend="cache+memory://", set_as_current=False)
    ping = compat.tasks[celery_testing_tasks.ping.name]  # Celery's shared_task, compat class
    assert "pynenc_task" not in vars(ping)
    assert routing.routed_to_celery(ping, compat)
    assert compat.pynenc is not None  # declaring the app's compat tasks skips it
    assert type(ping.delay()) is CeleryAsyncResult  # published by Celery, on memory://
