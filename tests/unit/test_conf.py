"""AppConfig: layering of app options, describe(), assignment and the public API."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest

import pynenc.conf
from pynenc.conf import AppConfig, OptionValue
from pynenc.exceptions import ConfigError


def make(
    tmp_path: Path,
    config_values: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_filepath: str | Path | None = None,
) -> AppConfig:
    # cwd=tmp_path keeps the repository's own pyproject.toml out of every test.
    return AppConfig(config_values, config_filepath, environ=environ or {}, cwd=tmp_path)


def write_pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body)
    return path


def sources_by_name(conf: AppConfig) -> dict[str, str]:
    return {item.name: item.source for item in conf.describe()}


def test_public_api_is_exactly_all() -> None:
    assert sorted(pynenc.conf.__all__) == sorted(
        [
            "AppConfig",
            "BrokerConfig",
            "ConcurrencyControlType",
            "OptionValue",
            "RunnerConfig",
            "TASK_OPTION_NAMES",
            "TaskConfig",
            "task_env_key",
            # declaring a layer's task options
            "Option",
            "OptionTable",
            "InvalidValue",
            "task_option_table",
            "boolean",
            "choice",
            "choices_text",
            "enum_member",
            "exception_refs",
            "integer",
            "json_object",
            "number",
            "string_tuple",
            "text",
        ]
    )
    for name in pynenc.conf.__all__:
        assert hasattr(pynenc.conf, name)


def test_defaults(tmp_path: Path) -> None:
    conf = make(tmp_path)
    assert conf.app_id == "pynenc"
    assert conf.broker_url == "memory://"
    assert conf.state_backend_url == "memory://"
    assert conf.runner_cls == "ThreadRunner"
    assert conf.dev_mode_force_sync_tasks is False
    assert conf.serializer == "json"
    assert conf.logging_level == "warning"
    assert conf.runner.threads == 8
    assert conf.runner.queues == ()
    assert conf.broker.transport_options == {}
    assert conf.broker.publish_retries == 3
    assert set(sources_by_name(conf).values()) == {"default"}


def test_mutable_defaults_are_not_shared(tmp_path: Path) -> None:
    first, second = make(tmp_path), make(tmp_path)
    first.broker.transport_options["visibility_timeout"] = 10
    assert second.broker.transport_options == {}


def test_option_reads_are_plain_instance_attributes(tmp_path: Path) -> None:
    conf = make(tmp_path, environ={"PYNENC__DEV_MODE_FORCE_SYNC_TASKS": "1"})
    # No descriptor or __getattr__ on the read path: the value sits in the instance dict.
    assert vars(conf)["dev_mode_force_sync_tasks"] is True
    assert "dev_mode_force_sync_tasks" not in vars(AppConfig)
    assert not hasattr(AppConfig, "__getattr__")
    assert vars(conf.runner)["threads"] == 8


def test_each_layer_beats_the_one_below(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path,
        '[tool.pynenc]\napp_id = "py"\nbroker_url = "py://"\nstate_backend_url = "py://"\n'
        'runner_cls = "PyRunner"\n',
    )
    (tmp_path / "conf.json").write_text(
        '{"app_id": "file", "broker_url": "file://", "state_backend_url": "file://"}'
    )
    conf = make(
        tmp_path,
        config_values={"app_id": "values", "broker_url": "values://"},
        environ={"PYNENC__APP_ID": "env"},
        config_filepath="conf.json",
    )
    assert conf.app_id == "env"
    assert conf.broker_url == "values://"
    assert conf.state_backend_url == "file://"
    assert conf.runner_cls == "PyRunner"
    assert conf.serializer == "json"
    sources = sources_by_name(conf)
    assert sources["app_id"] == "environment variable PYNENC__APP_ID"
    assert sources["broker_url"] == "config_values"
    assert sources["state_backend_url"] == f"file {(tmp_path / 'conf.json').resolve()}"
    assert sources["runner_cls"] == f"pyproject.toml {(tmp_path / 'pyproject.toml').resolve()}"
    assert sources["serializer"] == "default"

    conf.app_id = "assigned"
    assert conf.app_id == "assigned"
    assert sources_by_name(conf)["app_id"] == "assignment"


def test_layering_applies_per_value_inside_sections(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.pynenc.runner]\nthreads = 2\nqueues = ['a', 'b']\n")
    conf = make(
        tmp_path,
        config_values={"runner": {"threads": 3}},
        environ={"PYNENC__BROKER__PUBLISH_RETRIES": "7"},
    )
    assert (conf.runner.threads, conf.runner.queues) == (3, ("a", "b"))
    assert conf.broker.publish_retries == 7
    sources = sources_by_name(conf)
    assert sources["runner.threads"] == "config_values"
    assert sources["runner.queues"].startswith("pyproject.toml ")
    assert (
        sources["broker.publish_retries"] == "environment variable PYNENC__BROKER__PUBLISH_RETRIES"
    )
    assert conf.runner.source_of("threads") == "config_values"


def test_environment_is_read_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYNENC__APP_ID", "from-os")
    monkeypatch.chdir(tmp_path)
    conf = AppConfig()
    monkeypatch.setenv("PYNENC__APP_ID", "later")
    assert conf.app_id == "from-os"
    assert AppConfig(environ={}).app_id == "pynenc"


def test_env_parses_text_values(tmp_path: Path) -> None:
    conf = make(
        tmp_path,
        environ={
            "PYNENC__RUNNER__QUEUES": "a, b,,c",
            "PYNENC__BROKER__TRANSPORT_OPTIONS": '{"visibility_timeout": 30}',
            "PYNENC__LOGGING_LEVEL": "DEBUG",
            "PYNENC__SERIALIZER": "Pickle",
            "PYNENC__DEV_MODE_FORCE_SYNC_TASKS": "On",
        },
    )
    assert conf.runner.queues == ("a", "b", "c")
    assert conf.broker.transport_options == {"visibility_timeout": 30}
    assert conf.logging_level == "debug"
    assert conf.serializer == "pickle"
    assert conf.dev_mode_force_sync_tasks is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [(w, True) for w in ("true", "TRUE", "1", "yes", "On")]
    + [(w, False) for w in ("false", "False", "0", "no", "OFF")],
)
def test_bool_text_forms(tmp_path: Path, text: str, expected: bool) -> None:
    conf = make(tmp_path, environ={"PYNENC__DEV_MODE_FORCE_SYNC_TASKS": text})
    assert conf.dev_mode_force_sync_tasks is expected


def test_legacy_dev_mode_alias(tmp_path: Path) -> None:
    conf = make(tmp_path, environ={"PYNENC_DEV_MODE_FORCE_SYNC_TASK": "true"})
    assert conf.dev_mode_force_sync_tasks is True
    assert conf.source_of("dev_mode_force_sync_tasks") == (
        "environment variable PYNENC_DEV_MODE_FORCE_SYNC_TASK"
    )


def test_canonical_dev_mode_variable_beats_legacy_alias(tmp_path: Path) -> None:
    conf = make(
        tmp_path,
        environ={
            "PYNENC_DEV_MODE_FORCE_SYNC_TASK": "true",
            "PYNENC__DEV_MODE_FORCE_SYNC_TASKS": "false",
        },
    )
    assert conf.dev_mode_force_sync_tasks is False
    assert conf.source_of("dev_mode_force_sync_tasks") == (
        "environment variable PYNENC__DEV_MODE_FORCE_SYNC_TASKS"
    )


def test_assignment_is_parsed_and_recorded(tmp_path: Path) -> None:
    conf = make(tmp_path)
    conf.dev_mode_force_sync_tasks = "yes"  # type: ignore[assignment]
    conf.runner.threads = "2"  # type: ignore[assignment]
    conf.runner.queues = ["x", "y"]  # type: ignore[assignment]
    conf.logging_level = "ERROR"
    assert conf.dev_mode_force_sync_tasks is True
    assert conf.runner.threads == 2
    assert conf.runner.queues == ("x", "y")
    assert conf.logging_level == "error"
    sources = sources_by_name(conf)
    assert sources["runner.threads"] == "assignment"
    assert sources["dev_mode_force_sync_tasks"] == "assignment"


def test_assignment_rejects_bad_values(tmp_path: Path) -> None:
    conf = make(tmp_path)
    with pytest.raises(ConfigError) as err:
        conf.runner.threads = 0
    assert str(err.value) == "runner.threads must be an integer >= 1, got 0 (from assignment)"
    assert conf.runner.threads == 8
    with pytest.raises(ConfigError, match="serializer must be the name of a serializer"):
        conf.serializer = "  "


def test_assignment_to_unknown_attribute_suggests(tmp_path: Path) -> None:
    conf = make(tmp_path)
    with pytest.raises(ConfigError) as err:
        conf.brokr_url = "x"
    message = str(err.value)
    assert "'brokr_url'" in message and "attribute assignment" in message
    assert "Did you mean 'broker_url'?" in message
    assert "state_backend_url" in message
    with pytest.raises(
        ConfigError,
        match=r"'runner.threads'\?.*queues, redeliver_after, scheduler_poll, stop_grace, threads",
    ):
        conf.runner.thread = 1


def test_sections_cannot_be_replaced_or_options_deleted(tmp_path: Path) -> None:
    conf = make(tmp_path)
    with pytest.raises(ConfigError, match=r"conf.runner.threads = "):
        conf.runner = None  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="cannot be deleted"):
        del conf.app_id


def test_describe_lists_every_option_once(tmp_path: Path) -> None:
    names = [item.name for item in make(tmp_path).describe()]
    assert names == [
        "app_id",
        "broker_url",
        "state_backend_url",
        "runner_cls",
        "dev_mode_force_sync_tasks",
        "serializer",
        "logging_level",
        "task_modules",
        "state_backend_connect_timeout",
        "task_cls",
        "accept_serializers",
        "timezone",
        "runner.threads",
        "runner.queues",
        "runner.processes",
        "runner.heartbeat_interval",
        "runner.dead_after",
        "runner.max_reroutes",
        "runner.redeliver_after",
        "runner.stop_grace",
        "runner.scheduler_poll",
        "runner.cancel_check_interval",
        "runner.concurrency_recheck",
        "trigger.missed",
        "trigger.missed_after",
        "trigger.event_retention",
        "broker.transport_options",
        "broker.publish_retries",
        "broker.max_message_bytes",
        "broker.signing_keys",
        "client_data_store.enabled",
        "client_data_store.min_size",
        "client_data_store.cache_size",
        "task.max_retries",
        "task.retry_for",
        "task.queue",
        "task.priority",
        "task.parallel_batch_size",
        "task.registration_concurrency",
        "task.running_concurrency",
        "task.key_arguments",
        "task.on_diff_non_key_args_raise",
        "task.reroute_on_concurrency_control",
        "task.max_running_per_key",
        "task.rate_limit",
        "task.force_new_workflow",
        "task.call_result_cache",
        "task.disable_cache_args",
        "task.call_result_cache_ttl",
        "task.retry_delay",
        "task.retry_backoff",
        "task.retry_backoff_max",
        "task.retry_jitter",
        "task.timeout",
        "task.soft_timeout",
        "task.serializer",
    ]


def test_describe_items_compare_on_name_value_source(tmp_path: Path) -> None:
    described = make(tmp_path).describe()
    assert OptionValue(name="runner.threads", value=8, source="default") in described
    assert all(item.description for item in described)


def test_source_of_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'app_id'"):
        make(tmp_path).source_of("appid")


def test_config_survives_pickle_and_deepcopy(tmp_path: Path) -> None:
    conf = make(tmp_path, config_values={"runner": {"threads": 2}})
    for clone in (pickle.loads(pickle.dumps(conf)), copy.deepcopy(conf)):
        assert clone.describe() == conf.describe()
        clone.runner.threads = 5
        assert conf.runner.threads == 2
