"""Celery settings onto pynenc: the table, the mapping, the warnings, the names, late changes."""

import re
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
from celery.app.defaults import DEFAULTS
from celery.utils import time as celery_time
from kombu import Queue

from pynenc import Pynenc
from pynenc.exceptions import ConfigError
from pynenc_celery_compat import Celery, bridge
from pynenc_celery_compat.config import (
    CelerySettingWarning,
    ignored_settings,
    pynenc_config_values,
    state_backend_url,
)
from pynenc_celery_compat.eager import eager_runner
from pynenc_celery_compat.settings import EFFECTS, SETTINGS, find, markdown_table
from tests.celery_compat import config_tasks as tasks
from tests.celery_compat.config_fixtures import fresh_warnings, keep_current_celery_app

__all__ = ["fresh_warnings", "keep_current_celery_app"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "celery.md"


def make_app(**settings: Any) -> Celery:
    app = Celery("cfg", broker="memory://", backend="cache+memory://")
    app.conf.update(settings)
    return app


def conf_value(app: Pynenc, path: str) -> Any:
    target: Any = app.conf
    for part in path.split("."):
        target = getattr(target, part)
    return target


# -- the table ---------------------------------------------------------------------------


def test_the_docs_show_the_table_of_the_code() -> None:
    text = DOCS.read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("<!-- settings-table:", 1)[1].split("<!-- /settings-table -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows == markdown_table().splitlines()


def test_every_celery_setting_has_a_row() -> None:
    missing = [name for name in DEFAULTS if find(name) is None]
    assert missing == []
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert {setting.effect for setting in SETTINGS} <= set(EFFECTS)
    # the most used settings (CELERY.md §0 and §1.5) are rows of their own
    for name in (
        "broker_url",
        "result_backend",
        "task_always_eager",
        "task_eager_propagates",
        "task_time_limit",
        "task_soft_time_limit",
        "task_serializer",
        "result_serializer",
        "broker_transport_options",
        "accept_content",
        "timezone",
        "task_ignore_result",
        "task_default_queue",
        "task_track_started",
        "result_extended",
        "worker_prefetch_multiplier",
        "task_routes",
        "result_expires",
    ):
        setting = find(name)
        assert setting is not None and setting.name == name


#: a non-default value of every setting mapped onto pynenc, and where it shows in pynenc
MAPPED: dict[str, tuple[Any, str, Any]] = {
    "broker_url": ("redis://127.0.0.1:1/3", "broker_url", "redis://127.0.0.1:1/3"),
    "broker_host": ("redis://127.0.0.1:1/4", "broker_url", "redis://127.0.0.1:1/4"),
    "broker_transport_options": (
        {"visibility_timeout": 10},
        "broker.transport_options",
        {"visibility_timeout": 10},
    ),
    "result_backend": ("db+sqlite:///results.db", "state_backend_url", "sqlite:///results.db"),
    "task_serializer": ("pickle", "serializer", "pickle"),
    "accept_content": (["json", "pickle"], "accept_serializers", ("pickle",)),
    "task_default_queue": ("jobs", "task.queue", "jobs"),
    "task_queues": ([Queue("a"), Queue("b")], "runner.queues", ("a", "b")),
    "task_default_priority": (5, "task.priority", 5),
    "task_default_rate_limit": ("10/s", "task.rate_limit", "10/s"),
    "task_time_limit": (30, "task.timeout", 30.0),
    "task_soft_time_limit": (20, "task.soft_timeout", 20.0),
    "task_publish_retry": (False, "broker.publish_retries", 0),
    "task_publish_retry_policy": ({"max_retries": 7}, "broker.publish_retries", 7),
    "worker_concurrency": (3, "runner.threads", 3),
    "worker_pool": ("prefork", "runner_cls", "PersistentProcessRunner"),
    "worker_soft_shutdown_timeout": (12, "runner.stop_grace", 12.0),
    "imports": (["tests.celery_compat.config_tasks"], "task_modules", None),
    "include": (["tests.celery_compat.config_pkgs.alpha.tasks"], "task_modules", None),
    "timezone": ("Europe/Madrid", "timezone", "Europe/Madrid"),
    # without timezone, enable_utc=False is the machine's zone, as Celery's app.timezone
    "enable_utc": (False, "timezone", getattr(celery_time.timezone.local, "key", "UTC")),
    "beat_cron_starting_deadline": (120, "trigger.missed_after", 120.0),
}


def test_every_mapped_setting_is_in_the_sample() -> None:
    mapped = {s.name for s in SETTINGS if s.effect == "pynenc" and not s.is_family}
    assert mapped == set(MAPPED)


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_a_mapped_setting_reaches_pynenc(name: str) -> None:
    value, path, expected = MAPPED[name]
    settings = {name: value}
    app = Celery("cfg", backend="cache+memory://") if name == "broker_host" else make_app()
    if name == "broker_url":
        settings["result_backend"] = None  # rpc-like: the broker's Redis
    app.conf.update(settings)
    pynenc = Pynenc(pynenc_config_values(app))
    if path.startswith("task."):  # a default of every task: the task section
        task = pynenc.conf.task_config("some.task", {})
        shown = getattr(task, path.removeprefix("task."))
        assert str(shown) == str(expected)
    elif expected is None:
        assert value[0] in conf_value(pynenc, path)
    else:
        assert conf_value(pynenc, path) == expected


# -- result backends and brokers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("result_backend", "broker", "expected"),
    [
        ("redis://h:6379/2", "memory://", "redis://h:6379/2"),
        ("rediss://:pw@h:6380/0", "amqp://h//", "rediss://:pw@h:6380/0"),
        ("cache+memory://", "amqp://h//", "memory://"),
        ("db+sqlite:///results.db", "amqp://h//", "sqlite:///results.db"),
        ("db+sqlite:////var/lib/results.db", "memory://", "sqlite:////var/lib/results.db"),
        (None, "memory://", "memory://"),
        ("rpc://", "memory://", "memory://"),
        (None, "redis://h:6379/5", "redis://h:6379/5"),
        ("rpc://", "rediss://h:6380/1", "rediss://h:6380/1"),
    ],
)
def test_result_backends_become_state_backends(
    result_backend: str | None, broker: str, expected: str
) -> None:
    assert state_backend_url(result_backend, broker) == expected


@pytest.mark.parametrize(
    "result_backend",
    ["django-db", "db+postgresql://u:secret@h/db", "cache+memcached://h:11211/", "mongodb://h"],
)
def test_an_unsupported_result_backend_is_a_clear_error(result_backend: str) -> None:
    with pytest.raises(ConfigError) as raised:
        make_app(result_backend=result_backend).pynenc
    message = str(raised.value)
    assert "result_backend" in message
    assert "redis://" in message and "db+sqlite:///" in message and "cache+memory://" in message
    assert "secret" not in message  # credentials are not shown
    assert "state_backend_url" in message  # the way out: name pynenc's own


@pytest.mark.parametrize("result_backend", [None, "rpc://"])
def test_no_result_backend_with_a_broker_that_cannot_hold_state(
    result_backend: str | None,
) -> None:
    app = Celery("cfg", broker="amqp://guest@h//", backend=result_backend)
    with pytest.raises(ConfigError, match=r"result_backend is .*amqp://"):
        app.pynenc


def test_the_pynenc_setting_names_a_state_backend_for_a_celery_only_backend(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    app = make_app(result_backend="django-db", pynenc={"state_backend_url": url})
    assert app.pynenc.conf.state_backend_url == url


def test_an_unset_broker_is_memory() -> None:
    app = Celery("cfg")
    assert app.pynenc.conf.broker_url == "memory://"
    assert app.pynenc.conf.state_backend_url == "memory://"
    assert app.pynenc.conf.app_id == "cfg"


def test_the_pynenc_setting_wins_over_mapped_ones() -> None:
    app = make_app(worker_concurrency=2, pynenc={"runner": {"threads": 5}, "app_id": "mine"})
    assert app.pynenc.conf.runner.threads == 5
    assert app.pynenc.conf.runner.processes == 2
    assert app.pynenc.conf.app_id == "mine"


def test_the_pynenc_setting_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="pynenc setting must be a mapping"):
        make_app(pynenc="runner.threads=4").pynenc


def test_a_bad_mapped_value_names_the_celery_app() -> None:
    with pytest.raises(ConfigError, match=r"Celery settings of app 'cfg'.*timeout"):
        make_app(task_time_limit="soon").pynenc


# -- warnings ----------------------------------------------------------------------------


def _other_than(default: Any) -> Any:
    if default == float("inf"):
        return 3
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        return default + 7
    if isinstance(default, str):
        return default + "-other"
    if isinstance(default, dict):
        return {"changed": 1}
    if isinstance(default, list | tuple):
        return ["changed"]
    return "changed"


IGNORED = sorted(
    name for name in DEFAULTS if (setting := find(name)) and setting.effect == "ignored"
)


@pytest.mark.usefixtures("fresh_warnings")
def test_defaults_warn_about_nothing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_app().pynenc
    assert [w for w in caught if issubclass(w.category, CelerySettingWarning)] == []


@pytest.mark.usefixtures("fresh_warnings")
@pytest.mark.parametrize("name", IGNORED)
def test_a_setting_that_does_not_apply_is_warned_about(name: str) -> None:
    value = _other_than(DEFAULTS[name])
    with pytest.warns(CelerySettingWarning, match=rf"Celery setting {name}=") as caught:
        make_app(**{name: value}).pynenc
    message = str(caught[0].message)
    assert "no effect on the tasks that run on pynenc" in message
    assert find(name).note in message  # type: ignore[union-attr]


@pytest.mark.usefixtures("fresh_warnings")
def test_each_setting_is_warned_about_once_per_process() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_app(result_expires=60, worker_max_tasks_per_child=10).pynenc
        make_app(result_expires=120).pynenc
        app = make_app()
        app.pynenc
        app.conf.result_expires = 5  # a late change is checked too, still once
        app.pynenc
    names = sorted(
        re.match(r"Celery setting (\w+)=", str(w.message))[1]  # type: ignore[index]
        for w in caught
        if issubclass(w.category, CelerySettingWarning)
    )
    assert names == ["result_expires", "worker_max_tasks_per_child"]


def test_settings_that_agree_with_the_mapped_ones_are_not_warned_about() -> None:
    app = make_app(
        task_serializer="pickle",
        result_serializer="pickle",
        accept_content=["pickle", "json"],
        result_accept_content=["pickle", "json"],
    )
    assert ignored_settings(app.conf) == []
    app.conf.result_serializer = "json"  # Celery's default, but not what pynenc does
    assert [name for name, _, _ in ignored_settings(app.conf)] == ["result_serializer"]


# -- setting names: lower-case, old upper-case, Django's namespace -------------------------


def _settings_module(name: str, values: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in values.items():
        setattr(module, key, value)
    return module


OLD_STYLE = {
    "BROKER_URL": "redis://127.0.0.1:1/7",
    "CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/6",
    "CELERY_ALWAYS_EAGER": True,
    "CELERYD_CONCURRENCY": 3,
    "CELERY_DEFAULT_QUEUE": "legacy",
    "CELERY_TASK_RESULT_EXPIRES": 30,
}


@pytest.mark.usefixtures("fresh_warnings")
def test_old_upper_case_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cfg_old_settings", _settings_module("x", OLD_STYLE))
    app = Celery("cfg")
    app.config_from_object("cfg_old_settings")
    with pytest.warns(CelerySettingWarning, match="result_expires=30"):
        pynenc = app.pynenc
    assert pynenc.conf.broker_url == "redis://127.0.0.1:1/7"
    assert pynenc.conf.state_backend_url == "redis://127.0.0.1:1/6"
    assert pynenc.conf.runner.threads == 3
    assert pynenc.conf.task_config("t", {}).queue == "legacy"
    assert app.conf.task_always_eager is True
    assert tasks.multiply.apply_async((2, 3)).get() == 6  # the compat task runs eagerly


DJANGO_STYLE = {
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/8",
    "CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/9",
    "CELERY_TASK_ALWAYS_EAGER": True,
    "CELERY_TASK_TIME_LIMIT": 40,
    "CELERY_PYNENC": {"runner": {"threads": 2}},
    "CELERY_RESULT_EXPIRES": 99,
    "BROKER_URL": "amqp://not-ours//",  # outside the namespace: not read
    "TIME_ZONE": "Europe/Madrid",
}


def _check_django_style(app: Celery) -> None:
    pynenc = app.pynenc
    assert pynenc.conf.broker_url == "redis://127.0.0.1:1/8"
    assert pynenc.conf.state_backend_url == "redis://127.0.0.1:1/9"
    assert pynenc.conf.task_config("t", {}).timeout == 40.0
    assert pynenc.conf.runner.threads == 2
    assert app.conf.task_always_eager is True
    assert app.conf.timezone == "Europe/Madrid"  # Django's TIME_ZONE, read by Celery


@pytest.mark.usefixtures("fresh_warnings")
def test_the_django_namespace_from_an_object() -> None:
    settings = types.SimpleNamespace(**DJANGO_STYLE)
    app = Celery("proj")
    app.config_from_object(settings, namespace="CELERY")
    with pytest.warns(CelerySettingWarning, match="result_expires=99"):
        _check_django_style(app)


@pytest.mark.usefixtures("fresh_warnings")
def test_the_django_namespace_from_django_conf_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Django is not a test dependency: django.conf:settings is a module holding an object
    django = types.ModuleType("django")
    django_conf = types.ModuleType("django.conf")
    django_conf.settings = types.SimpleNamespace(**DJANGO_STYLE)  # type: ignore[attr-defined]
    django.conf = django_conf  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "django", django)
    monkeypatch.setitem(sys.modules, "django.conf", django_conf)
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    with pytest.warns(CelerySettingWarning, match="result_expires=99"):
        _check_django_style(app)


def test_celerys_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/11")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "db+sqlite:///env.db")
    app = Celery("cfg", broker="memory://")
    assert app.pynenc.conf.broker_url == "redis://127.0.0.1:1/11"
    assert app.pynenc.conf.state_backend_url == "sqlite:///env.db"


# -- settings changed after first use ------------------------------------------------------


def test_an_unrelated_change_keeps_the_pynenc_app() -> None:
    app = make_app()
    pynenc = app.pynenc
    app.conf.task_always_eager = True
    app.conf.task_always_eager = False
    assert app.pynenc is pynenc


def test_a_late_change_rebuilds_the_pynenc_app(tmp_path: Path) -> None:
    app = make_app()
    app.set_current()
    first = app.pynenc
    tasks.multiply.delay(1, 1)
    app.conf.result_backend = f"db+sqlite:///{tmp_path}/late.db"
    second = app.pynenc
    assert second is not first
    assert second.conf.state_backend_url == f"sqlite:///{tmp_path}/late.db"
    result = tasks.multiply.delay(2, 2)
    assert second.orchestrator.get_record(result.id).task_id == tasks.multiply.name
    assert tasks.multiply.name in second.tasks  # declared on the new app


def test_config_from_object_after_first_use_is_seen() -> None:
    app = make_app()
    first = app.pynenc
    app.config_from_object(types.SimpleNamespace(task_default_queue="later"))
    assert app.pynenc is not first
    assert app.pynenc.conf.task_config("t", {}).queue == "later"


def test_a_late_change_while_a_runner_runs_is_an_error(tmp_path: Path) -> None:
    app = make_app()
    app.set_current()
    pynenc = app.pynenc
    with pynenc.running_in_background():
        assert tasks.multiply.delay(3, 4).get(timeout=30) == 12
        app.conf.result_backend = f"db+sqlite:///{tmp_path}/late.db"
        with pytest.raises(ConfigError, match="state_backend_url while a runner"):
            tasks.multiply.delay(1, 2)
    assert app.pynenc is not pynenc  # stopped: the change applies now
    assert app.pynenc.conf.state_backend_url.endswith("late.db")


class Router:
    """A router object with no equality of its own."""

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return None


def test_unchanged_settings_are_not_mapped_again(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(task_routes=[Router()], broker_transport_options={"a": {"b": 1}})
    app.set_current()
    tasks.multiply.delay(1, 1)
    mapped = []
    monkeypatch.setattr(bridge, "pynenc_config_values", lambda a: mapped.append(a) or {})
    for _ in range(3):
        tasks.multiply.delay(1, 1)
    assert mapped == []


def test_a_late_change_with_the_in_process_eager_runner() -> None:
    app = make_app(task_always_eager=True)
    app.set_current()
    with eager_runner(app):
        assert tasks.multiply.delay(2, 3).get(timeout=30) == 6
        app.conf.task_default_queue = "elsewhere"
        with pytest.raises(ConfigError, match="stop_eager_runner"):
            tasks.multiply.delay(1, 1)
    with eager_runner(app) as pynenc:  # stopped: the next runner serves the rebuilt app
        assert pynenc is app.pynenc
        result = tasks.multiply.delay(2, 4)
        assert result.get(timeout=30) == 8
        assert pynenc.orchestrator.get_record(result.id).queue == "elsewhere"
