"""Config sources: file formats, pyproject discovery and the errors each source reports."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from pynenc.conf import AppConfig
from pynenc.exceptions import ConfigError

CONTENT: dict[str, Any] = {
    "app_id": "from-file",
    "runner": {"threads": 4, "queues": ["a", "b"]},
    "broker": {"transport_options": {"x": 1}},
    "task": {"max_retries": 2},
    "tasks": {"samples.tasks.add": {"queue": "math"}},
}
YAML = """\
app_id: from-file
runner:
  threads: 4
  queues: [a, b]
broker:
  transport_options: {x: 1}
task:
  max_retries: 2
tasks:
  samples.tasks.add: {queue: math}
"""
TOML = """\
app_id = "from-file"
[runner]
threads = 4
queues = ["a", "b"]
[broker.transport_options]
x = 1
[task]
max_retries = 2
[tasks."samples.tasks.add"]
queue = "math"
"""


def check_content(conf: AppConfig, source: str) -> None:
    assert conf.app_id == "from-file"
    assert (conf.runner.threads, conf.runner.queues) == (4, ("a", "b"))
    assert conf.broker.transport_options == {"x": 1}
    task = conf.task_config("samples.tasks.add", {})
    assert (task.max_retries, task.queue) == (2, "math")
    assert task.source_of("queue") == source
    assert conf.source_of("app_id") == source


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("conf.yaml", YAML),
        ("conf.yml", YAML),
        ("conf.toml", TOML),
        ("conf.json", json.dumps(CONTENT)),
    ],
)
def test_file_formats(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text(body)
    conf = AppConfig(config_filepath=path, environ={}, cwd=tmp_path)
    check_content(conf, f"file {path.resolve()}")


def test_file_from_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "conf.toml"
    path.write_text(TOML)
    conf = AppConfig(environ={"PYNENC__FILEPATH": str(path)}, cwd=tmp_path)
    check_content(conf, f"file {path.resolve()}")


def test_relative_file_path_resolves_against_cwd(tmp_path: Path) -> None:
    (tmp_path / "conf.json").write_text('{"app_id": "rel"}')
    conf = AppConfig(environ={"PYNENC__FILEPATH": "conf.json"}, cwd=tmp_path)
    assert conf.app_id == "rel"


def test_config_filepath_argument_beats_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "arg.json").write_text('{"app_id": "arg"}')
    (tmp_path / "env.json").write_text('{"app_id": "env"}')
    conf = AppConfig(
        config_filepath=tmp_path / "arg.json",
        environ={"PYNENC__FILEPATH": str(tmp_path / "env.json")},
        cwd=tmp_path,
    )
    assert conf.app_id == "arg"


def test_empty_yaml_file_is_empty_config(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    assert AppConfig(config_filepath=tmp_path / "empty.yaml", environ={}, cwd=tmp_path).app_id


def test_pyproject_discovered_in_cwd(tmp_path: Path) -> None:
    nested = "\n".join(
        line.replace("[", "[tool.pynenc.", 1) if line.startswith("[") else line
        for line in TOML.splitlines()
    )
    (tmp_path / "pyproject.toml").write_text("[tool.pynenc]\n" + nested)
    conf = AppConfig(environ={}, cwd=tmp_path)
    check_content(conf, f"pyproject.toml {(tmp_path / 'pyproject.toml').resolve()}")


def test_pyproject_without_pynenc_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert AppConfig(environ={}, cwd=tmp_path).source_of("app_id") == "default"


def test_invalid_pyproject_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pynenc\n")
    with pytest.raises(ConfigError, match=r"Cannot read .*pyproject\.toml"):
        AppConfig(environ={}, cwd=tmp_path)


def test_unknown_option_in_pyproject_names_it(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.pynenc]\nbrokr_url = "x"\n')
    with pytest.raises(ConfigError) as err:
        AppConfig(environ={}, cwd=tmp_path)
    assert f"pyproject.toml {path.resolve()}" in str(err.value)
    assert "Did you mean 'broker_url'?" in str(err.value)


@pytest.mark.parametrize(
    ("name", "body", "match"),
    [
        ("c.ini", "", r"Unsupported config file .*c\.ini.*\.yaml, \.yml, \.toml, \.json"),
        ("missing.yaml", None, r"missing\.yaml does not exist"),
        ("bad.json", "{nope", r"Cannot read config file .*bad\.json"),
        ("bad.toml", "a = ", r"Cannot read config file .*bad\.toml"),
        ("bad.yaml", "a: [1", r"Cannot read config file .*bad\.yaml"),
        ("list.json", "[1, 2]", r"list\.json must contain a mapping .* got list"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, body: str | None, match: str) -> None:
    if body is not None:
        (tmp_path / name).write_text(body)
    with pytest.raises(ConfigError, match=match):
        AppConfig(config_filepath=tmp_path / name, environ={}, cwd=tmp_path)


def test_yaml_without_pyyaml_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text("app_id: x\n")
    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ConfigError, match=r"needs PyYAML: pip install 'pynenc\[yaml\]'"):
        AppConfig(config_filepath=tmp_path / "c.yaml", environ={}, cwd=tmp_path)


def test_unknown_key_in_file_names_file_and_valid_options(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"runner": {"thread": 2}}')
    with pytest.raises(ConfigError) as err:
        AppConfig(config_filepath=path, environ={}, cwd=tmp_path)
    message = str(err.value)
    assert f"(from file {path.resolve()})" in message
    assert "Did you mean 'runner.threads'?" in message
    assert (
        "Valid options of runner: cancel_check_interval, concurrency_recheck, dead_after, "
        "heartbeat_interval, "
        "max_reroutes, processes, queues, redeliver_after, scheduler_poll, stop_grace, threads"
        in message
    )


def test_unknown_top_level_key_in_config_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        AppConfig({"app_idd": "x"}, environ={}, cwd=tmp_path)
    message = str(err.value)
    assert "'app_idd' (from config_values)" in message
    assert "Did you mean 'app_id'?" in message
    for valid in ("broker_url", "runner", "broker", "task", "tasks"):
        assert valid in message


def test_flat_section_keys_are_rejected_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Nest options in their section instead: runner:"):
        AppConfig({"runner.threads": 2}, environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    "values",
    [{"runner": 4}, {"task": ["max_retries"]}, {"tasks": {"a.b": 3}}, {"tasks": "a.b"}],
)
def test_sections_must_be_mappings(tmp_path: Path, values: dict[str, Any]) -> None:
    with pytest.raises(
        ConfigError, match=r"must be a mapping with string keys \(from config_values"
    ):
        AppConfig(values, environ={}, cwd=tmp_path)


def test_bad_value_in_file_names_option_value_and_source(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("runner:\n  threads: true\n")
    with pytest.raises(ConfigError) as err:
        AppConfig(config_filepath=path, environ={}, cwd=tmp_path)
    assert str(err.value) == (
        f"runner.threads must be an integer >= 1, got True (from file {path.resolve()})"
    )


def test_bad_env_value_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        AppConfig(environ={"PYNENC__RUNNER__THREADS": "abc"}, cwd=tmp_path)
    assert str(err.value) == (
        "runner.threads must be an integer >= 1, got 'abc' "
        "(from environment variable PYNENC__RUNNER__THREADS)"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "PYNENC__DEV_MODE_FORCE_SYNC_TASKS",
            "maybe",
            "dev_mode_force_sync_tasks must be a boolean",
        ),
        ("PYNENC__SERIALIZER", " ", "serializer must be the name of a serializer"),
        ("PYNENC__LOGGING_LEVEL", "loud", "one of 'debug', 'info', 'warning', 'error', 'critical'"),
        ("PYNENC__BROKER__TRANSPORT_OPTIONS", "[1]", "broker.transport_options must be a mapping"),
        ("PYNENC__BROKER__TRANSPORT_OPTIONS", "{x", "invalid JSON"),
        ("PYNENC__BROKER__PUBLISH_RETRIES", "-1", "must be an integer >= 0, got '-1'"),
        ("PYNENC__APP_ID", " ", "app_id must be a non-empty string"),
    ],
)
def test_bad_env_values(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        AppConfig(environ={variable: value}, cwd=tmp_path)
    assert expected in str(err.value)
    assert f"(from environment variable {variable})" in str(err.value)


def test_unknown_env_variable_suggests_and_lists(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        AppConfig(environ={"PYNENC__BROKR_URL": "x"}, cwd=tmp_path)
    message = str(err.value)
    assert "(from environment variable PYNENC__BROKR_URL)" in message
    assert "Did you mean 'broker_url'?" in message
    assert "state_backend_url" in message


@pytest.mark.parametrize(
    ("variable", "match"),
    [
        ("PYNENC__RUNNER__THREAD", r"'runner.thread'.*Did you mean 'runner.threads'"),
        ("PYNENC__RUNER__THREADS", r"Did you mean 'runner'"),
        ("PYNENC__RUNNER", r"names the section 'runner'.*PYNENC__RUNNER__<OPTION>"),
        ("PYNENC__TASK", r"names the section 'task'"),
        ("PYNENC__APP_ID__X", r"Unknown option 'app_id__x'"),
    ],
)
def test_unknown_env_shapes(tmp_path: Path, variable: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AppConfig(environ={variable: "1"}, cwd=tmp_path)


def test_an_unknown_task_option_in_env_is_refused_when_a_task_is_declared(
    tmp_path: Path,
) -> None:
    # a task's class may declare options of its own: only the declared task can tell
    conf = AppConfig(environ={"PYNENC__TASK__MAX_RETRY": "1"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"'task.max_retry'.*Did you mean 'task.max_retries'"):
        conf.task_config("samples.tasks.add", {})


def test_unrelated_variables_are_ignored(tmp_path: Path) -> None:
    conf = AppConfig(environ={"PYNENC_OTHER": "x", "PATH": "/bin"}, cwd=tmp_path)
    assert conf.app_id == "pynenc"
