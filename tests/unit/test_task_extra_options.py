"""Task options a ``Task`` subclass declares (``extra_options``): resolved with pynenc's from
every source, validated, listed, and kept apart between two layers in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pynenc import ConfigError, InvalidTaskOptionsError, Pynenc, Task, TaskDefinitionError
from pynenc.conf import (
    TASK_OPTION_NAMES,
    AppConfig,
    Option,
    OptionTable,
    OptionValue,
    boolean,
    integer,
    task_option_table,
    text,
)
from tests.apps.extensible import TaggedTask

KEY = f"{__name__}.job"


def job(x: int) -> int:
    return x


def other_job(x: int) -> int:
    return x


class LimitedTask(Task[Any, Any]):
    """A second layer: its own ``tag`` (an integer here) and ``time_limit``."""

    extra_options = OptionTable(
        "task",
        [
            Option("tag", 0, integer(0), "an integer >= 0", "Another layer's tag."),
            Option("time_limit", 60, integer(1), "an integer >= 1", "Seconds a run may take."),
        ],
    )


class StrictTaggedTask(TaggedTask):
    """Inherits the options of its parent."""


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: Any) -> Pynenc:
    monkeypatch.chdir(tmp_path)  # no pyproject.toml of the repository
    return Pynenc(config_values={"app_id": "extra-options", **values})


def test_decorator_values_are_parsed_and_read_with_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch)
    task = app.task(task_cls=TaggedTask, acks_late="yes", max_retries=2)(job)
    assert task.conf.get("acks_late") is True and task.conf.get("tag") == "plain"
    assert task.conf.max_retries == 2 == task.conf.get("max_retries")  # core: attributes too
    assert task.conf.source_of("acks_late") == f"options of task {KEY}"
    assert task.conf.source_of("tag") == "default"


def test_every_source_in_its_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pynenc.task]\ntag = "py-section"\n[tool.pynenc.tasks."{KEY}"]\nacks_late = true\n'
    )
    monkeypatch.setenv("PYNENC__TASK__TAG", "env-all")
    app = _app(tmp_path, monkeypatch, task={"acks_late": False})
    task = app.task(task_cls=TaggedTask)(job)
    # the per-task entry of pyproject beats the task section of config_values
    assert task.conf.get("acks_late") is True
    assert task.conf.source_of("acks_late").startswith("pyproject.toml ")
    assert task.conf.get("tag") == "env-all"
    monkeypatch.setenv("PYNENC__TASK__TESTS_UNIT_TEST_TASK_EXTRA_OPTIONS_JOB__TAG", "env-one")
    app = _app(tmp_path, monkeypatch)
    assert app.task(task_cls=TaggedTask)(job).conf.get("tag") == "env-one"
    app = _app(tmp_path, monkeypatch)
    assert app.task(task_cls=TaggedTask, tag="decorator")(job).conf.get("tag") == "decorator"


def test_a_bad_value_names_option_expected_form_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYNENC__TASK__ACKS_LATE", "maybe")
    app = _app(tmp_path, monkeypatch)
    with pytest.raises(ConfigError) as info:
        app.task(task_cls=TaggedTask)(job)
    assert str(info.value) == (
        "task.acks_late must be a boolean, got 'maybe' "
        "(from environment variable PYNENC__TASK__ACKS_LATE)"
    )


def test_unknown_decorator_options_list_every_valid_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch)
    with pytest.raises(InvalidTaskOptionsError) as info:
        app.task(task_cls=TaggedTask, acks_lat=True)(job)
    assert info.value.invalid == ["acks_lat"]
    assert info.value.valid == sorted({*TASK_OPTION_NAMES, "acks_late", "tag"})
    with pytest.raises(InvalidTaskOptionsError):  # a plain task has no such option
        app.task(acks_late=True)(other_job)


def test_an_unknown_name_in_a_source_is_refused_for_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch, tasks={KEY: {"acks_lat": True}})
    with pytest.raises(ConfigError) as info:
        app.task(task_cls=TaggedTask)(job)
    message = str(info.value)
    assert f"Unknown option 'tasks.{KEY}.acks_lat' (from config_values)" in message
    assert f"Did you mean 'tasks.{KEY}.acks_late'?" in message
    valid = message.rpartition(": ")[2]  # every valid one, the declared ones included
    assert all(f"{name}," in valid for name in ("acks_late", "max_retries", "queue", "tag"))


def test_the_task_section_of_a_plain_app_refuses_a_layer_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch, task={"acks_late": True})
    with pytest.raises(ConfigError) as info:
        app.task(job)
    message = str(info.value)
    assert message.startswith(f"Task {KEY}: Unknown option 'task.acks_late' (from config_values)")
    assert "app's task_cls declares it" in message


def test_an_option_of_the_apps_task_class_is_left_out_for_other_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch, task_cls=TaggedTask, task={"acks_late": True})
    assert app.task(job).conf.get("acks_late") is True
    plain = app.task(task_cls=Task)(other_job)  # no acks_late: left out, not refused
    assert "acks_late" not in plain.conf.extra and plain.conf.table is task_option_table()


def test_two_layers_in_one_process_do_not_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch)
    tagged = app.task(task_cls=TaggedTask, tag="text")(job)
    limited = app.task(task_cls=LimitedTask, tag="7")(other_job)
    assert tagged.conf.get("tag") == "text" and limited.conf.get("tag") == 7
    assert limited.conf.get("time_limit") == 60
    with pytest.raises(ConfigError, match=r"Unknown option 'task\.time_limit'"):
        tagged.conf.get("time_limit")
    with pytest.raises(ConfigError, match=r"task\.tag must be an integer >= 0"):
        app.task(task_cls=LimitedTask, tag="text", name="limited.again")(other_job)


def test_a_subclass_inherits_the_options_of_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch)
    assert app.task(task_cls=StrictTaggedTask, tag="child")(job).conf.get("tag") == "child"


def test_describe_lists_them_after_pynencs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path, monkeypatch, task_cls=TaggedTask, task={"tag": "all"})
    described = app.task(job).conf.describe()
    assert [item.name for item in described][-2:] == ["acks_late", "tag"]
    assert described[-1] == OptionValue("tag", "all", "config_values")
    names = {item.name: item for item in app.conf.describe(app.task_class_options())}
    assert names["task.tag"] == OptionValue("task.tag", "all", "config_values")
    assert names["task.acks_late"].source == "default"


def test_get_of_an_unknown_option_lists_the_valid_ones() -> None:
    conf = AppConfig(environ={}).task_config(KEY, {}, TaggedTask.extra_options)
    with pytest.raises(ConfigError) as info:
        conf.get("acks")
    assert "Did you mean 'task.acks_late'?" in str(info.value)
    assert "tag" in str(info.value) and "max_retries" in str(info.value)


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ([Option("queue", "q", text, "a string", "Clash.")], "clash with pynenc's own"),
        ([Option("Acks-Late", False, boolean, "a boolean", "Bad.")], "Invalid extra task"),
        ([Option("acks__late", False, boolean, "a boolean", "Bad.")], "single underscores"),
    ],
)
def test_bad_declarations_fail_when_the_class_is_defined(
    options: list[Option[Any]], detail: str
) -> None:
    with pytest.raises(TaskDefinitionError, match=detail) as info:

        class Bad(Task[Any, Any]):
            extra_options = OptionTable("task", options)

    assert "Bad.extra_options" in str(info.value)


def test_core_options_stay_plain_attributes_of_a_shared_table() -> None:
    conf = AppConfig(environ={}).task_config(KEY, {"queue": "q"})
    assert conf.queue == "q" and conf.extra == {} and conf.table is task_option_table(None)
    assert task_option_table(TaggedTask.extra_options) is task_option_table(
        TaggedTask.extra_options
    )
