"""Task options: per-task layering, env keys, retry_for parsing, enum parsing and errors."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynenc.conf import (
    TASK_OPTION_NAMES,
    AppConfig,
    ConcurrencyControlType,
    OptionValue,
    TaskConfig,
    task_env_key,
)
from pynenc.exceptions import ConfigError, InvalidTaskOptionsError

TASK = "samples.tasks.add"


def make(
    tmp_path: Path,
    config_values: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> AppConfig:
    return AppConfig(config_values, environ=environ or {}, cwd=tmp_path)


@pytest.fixture
def errors_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable package ``conf_errors_pkg.errors`` with a few exception classes."""
    package = tmp_path / "importable" / "conf_errors_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text(
        textwrap.dedent(
            """\
            class Flaky(Exception):
                pass

            class Outer:
                class Inner(Exception):
                    pass

            class NotAnError:
                pass
            """
        )
    )
    (package / "broken.py").write_text("import conf_errors_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path / "importable"))
    yield "conf_errors_pkg"
    for name in [m for m in sys.modules if m.startswith("conf_errors_pkg")]:
        del sys.modules[name]


def test_names_and_defaults() -> None:
    assert {
        "max_retries",
        "retry_for",
        "queue",
        "parallel_batch_size",
        "registration_concurrency",
        "priority",
        "running_concurrency",
        "key_arguments",
        "on_diff_non_key_args_raise",
        "reroute_on_concurrency_control",
        "max_running_per_key",
        "rate_limit",
        "force_new_workflow",
        "call_result_cache",
        "disable_cache_args",
        "call_result_cache_ttl",
        "retry_delay",
        "retry_backoff",
        "retry_backoff_max",
        "retry_jitter",
        "timeout",
        "soft_timeout",
        "serializer",
    } == TASK_OPTION_NAMES
    config = TaskConfig()
    assert (config.max_retries, config.retry_for, config.queue) == (0, (), "default")
    assert config.parallel_batch_size == 100
    assert config.registration_concurrency is ConcurrencyControlType.DISABLED
    assert (config.timeout, config.soft_timeout) == (None, None)
    assert {item.source for item in config.describe()} == {"default"}


def test_task_config_defaults_equal_table_defaults(tmp_path: Path) -> None:
    assert make(tmp_path).task_config(TASK, {}) == TaskConfig()


def test_task_env_key() -> None:
    assert task_env_key("samples.tasks.add") == "SAMPLES_TASKS_ADD"
    assert task_env_key("pkg._private.fn-1") == "PKG__PRIVATE_FN_1"


def test_every_task_layer_beats_the_one_below(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pynenc.task]\nmax_retries = 1\nqueue = 'py-default'\nparallel_batch_size = 5\n"
        f'[tool.pynenc.tasks."{TASK}"]\nparallel_batch_size = 6\n'
    )
    conf = make(
        tmp_path,
        config_values={"task": {"parallel_batch_size": 7, "queue": "cv-default"}},
        environ={
            "PYNENC__TASK__MAX_RETRIES": "2",
            "PYNENC__TASK__SAMPLES_TASKS_ADD__MAX_RETRIES": "3",
            "PYNENC__TASK__REGISTRATION_CONCURRENCY": "task",
        },
    )
    config = conf.task_config(TASK, {"registration_concurrency": "keys"})
    # decorator > per-task env > env default > per-task entries > task section > default
    assert config.registration_concurrency is ConcurrencyControlType.KEYS
    assert config.source_of("registration_concurrency") == f"options of task {TASK}"
    assert config.max_retries == 3
    assert config.source_of("max_retries") == (
        "environment variable PYNENC__TASK__SAMPLES_TASKS_ADD__MAX_RETRIES"
    )
    # A per-task entry in pyproject beats the task section of config_values.
    assert config.parallel_batch_size == 6
    assert config.source_of("parallel_batch_size").startswith("pyproject.toml ")
    assert config.queue == "cv-default"
    assert config.source_of("queue") == "config_values"
    assert config.retry_for == ()
    assert config.source_of("retry_for") == "default"

    other = conf.task_config("samples.tasks.sub", {})
    assert other.max_retries == 2
    assert other.parallel_batch_size == 7
    assert other.registration_concurrency is ConcurrencyControlType.TASK


def test_env_task_default_beats_per_task_file_entry(tmp_path: Path) -> None:
    conf = make(
        tmp_path,
        config_values={"tasks": {TASK: {"queue": "from-values"}}},
        environ={"PYNENC__TASK__QUEUE": "from-env"},
    )
    assert conf.task_config(TASK, {}).queue == "from-env"


def test_per_task_entries_merge_across_sources(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pynenc.tasks."{TASK}"]\nqueue = "py"\nmax_retries = 4\n'
    )
    conf = make(tmp_path, config_values={"tasks": {TASK: {"queue": "cv"}}})
    config = conf.task_config(TASK, {})
    assert (config.queue, config.max_retries) == ("cv", 4)


def test_per_task_env_key_with_double_underscore(tmp_path: Path) -> None:
    conf = make(tmp_path, environ={"PYNENC__TASK__PKG__PRIVATE_FN__QUEUE": "q"})
    assert conf.task_config("pkg._private.fn", {}).queue == "q"
    assert conf.task_config("pkg.private.fn", {}).queue == "default"


def test_task_section_in_describe(tmp_path: Path) -> None:
    conf = make(tmp_path, environ={"PYNENC__TASK__QUEUE": "env-q"})
    described = conf.describe()
    assert (
        OptionValue("task.queue", "env-q", "environment variable PYNENC__TASK__QUEUE") in described
    )


def test_task_config_is_immutable(tmp_path: Path) -> None:
    config = make(tmp_path).task_config(TASK, {"max_retries": 1})
    with pytest.raises(AttributeError):
        config.max_retries = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.sources["max_retries"] = "x"  # type: ignore[index]


def test_invalid_task_options_lists_all_invalid_and_valid(tmp_path: Path) -> None:
    with pytest.raises(InvalidTaskOptionsError) as err:
        make(tmp_path).task_config(TASK, {"max_retry": 1, "queue": "q", "time_limit": 3})
    assert err.value.task_id == TASK
    assert err.value.invalid == ["max_retry", "time_limit"]
    assert err.value.valid == sorted(TASK_OPTION_NAMES)
    assert isinstance(err.value, ConfigError)


def test_bad_decorator_value_names_task(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        make(tmp_path).task_config(TASK, {"max_retries": -1})
    assert str(err.value) == (
        f"task.max_retries must be an integer >= 0, got -1 (from options of task {TASK})"
    )


def test_unknown_field_in_tasks_entry(tmp_path: Path) -> None:
    conf = make(tmp_path, config_values={"tasks": {TASK: {"queues": "q"}}})
    with pytest.raises(ConfigError) as err:  # when the task is declared: its class decides
        conf.task_config(TASK, {})
    message = str(err.value)
    assert f"'tasks.{TASK}.queues' (from config_values)" in message
    assert f"Did you mean 'tasks.{TASK}.queue'?" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ConcurrencyControlType.ARGUMENTS, ConcurrencyControlType.ARGUMENTS),
        ("keys", ConcurrencyControlType.KEYS),
        ("KEYS", ConcurrencyControlType.KEYS),
        (" Task ", ConcurrencyControlType.TASK),
    ],
)
def test_registration_concurrency_parsing(
    tmp_path: Path, raw: Any, expected: ConcurrencyControlType
) -> None:
    config = make(tmp_path).task_config(TASK, {"registration_concurrency": raw})
    assert config.registration_concurrency is expected


def test_registration_concurrency_rejects_unknown(tmp_path: Path) -> None:
    env = {"PYNENC__TASK__REGISTRATION_CONCURRENCY": "always"}
    with pytest.raises(ConfigError) as err:
        make(tmp_path, environ=env)
    assert "one of 'disabled', 'task', 'arguments', 'keys', got 'always'" in str(err.value)


def test_concurrency_enum_values_are_lower_case_names() -> None:
    assert [m.value for m in ConcurrencyControlType] == ["disabled", "task", "arguments", "keys"]


def test_retry_for_from_classes_and_builtins(tmp_path: Path) -> None:
    conf = make(tmp_path)
    assert conf.task_config(TASK, {"retry_for": ValueError}).retry_for == (ValueError,)
    config = conf.task_config(TASK, {"retry_for": ["KeyError", TimeoutError, "KeyError"]})
    assert config.retry_for == (KeyError, TimeoutError)


def test_retry_for_from_env_text(tmp_path: Path, errors_module: str) -> None:
    env = {"PYNENC__TASK__RETRY_FOR": f"ValueError, {errors_module}.errors.Flaky"}
    config = make(tmp_path, environ=env).task_config(TASK, {})
    assert [cls.__name__ for cls in config.retry_for] == ["ValueError", "Flaky"]


def test_retry_for_nested_class_path(tmp_path: Path, errors_module: str) -> None:
    values = {"tasks": {TASK: {"retry_for": [f"{errors_module}.errors.Outer.Inner"]}}}
    config = make(tmp_path, config_values=values).task_config(TASK, {})
    assert config.retry_for[0].__qualname__ == "Outer.Inner"


def test_retry_for_paths_are_imported_when_the_task_is_declared(
    tmp_path: Path, errors_module: str
) -> None:
    conf = make(tmp_path, config_values={"task": {"retry_for": f"{errors_module}.errors.Flaky"}})
    # Reading the configuration must not import user modules (circular imports with the app).
    assert f"{errors_module}.errors" not in sys.modules
    assert conf.task_config(TASK, {}).retry_for[0].__name__ == "Flaky"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("conf_errors_nowhere.Flaky", "cannot import 'conf_errors_nowhere.Flaky'"),
        ("conf_errors_pkg.errors.Missing", "conf_errors_pkg.errors has no 'Missing'"),
        ("conf_errors_pkg.errors.NotAnError", "'conf_errors_pkg.errors.NotAnError' is not an"),
        ("NotABuiltin", "'NotABuiltin' is not a builtin; use its full dotted import path"),
        ("print", "'print' is not an Exception subclass"),
        ("conf_errors_pkg.broken.X", "No module named 'conf_errors_missing_dependency'"),
    ],
)
def test_retry_for_bad_paths_name_the_path(
    tmp_path: Path, errors_module: str, path: str, detail: str
) -> None:
    conf = make(tmp_path, environ={"PYNENC__TASK__SAMPLES_TASKS_ADD__RETRY_FOR": path})
    with pytest.raises(ConfigError) as err:
        conf.task_config(TASK, {})
    message = str(err.value)
    assert message.startswith("task.retry_for must be exception classes or dotted import paths")
    assert detail in message
    assert "(from environment variable PYNENC__TASK__SAMPLES_TASKS_ADD__RETRY_FOR)" in message


@pytest.mark.parametrize("raw", [int, "not a path", 3, [ValueError, "a..b"], BaseException])
def test_retry_for_rejects_non_exceptions_early(tmp_path: Path, raw: Any) -> None:
    with pytest.raises(ConfigError, match=r"task.retry_for must be .* is neither"):
        make(tmp_path).task_config(TASK, {"retry_for": raw})
