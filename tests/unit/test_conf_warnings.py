"""Configuration that pynenc accepts but that is probably a mistake gets a PynencWarning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pynenc import Pynenc
from pynenc.conf import AppConfig
from pynenc.exceptions import PynencWarning


def _warnings(**kwargs: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AppConfig(**kwargs)  # type: ignore[arg-type]
    return [str(w.message) for w in caught if issubclass(w.category, PynencWarning)]


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("PYNENC_BROKER_URL", "PYNENC__BROKER_URL"),
        ("PYNENC_RUNNER_THREADS", "PYNENC__RUNNER__THREADS"),
        ("PYNENC_TASK_MAX_RETRIES", "PYNENC__TASK__MAX_RETRIES"),
        ("PYNENC_FILEPATH", "PYNENC__FILEPATH"),
        # the right separators after the section: one underscore too few after PYNENC only
        ("PYNENC_RUNNER__THREADS", "PYNENC__RUNNER__THREADS"),
        ("PYNENC_TASK__MAX_RETRIES", "PYNENC__TASK__MAX_RETRIES"),
        ("PYNENC_BROKER__SIGNING_KEYS", "PYNENC__BROKER__SIGNING_KEYS"),
    ],
)
def test_single_underscore_variable_is_named_with_its_spelling(
    name: str, meant: str, tmp_path: Path
) -> None:
    (message,) = _warnings(environ={name: "2"}, cwd=tmp_path)
    assert name in message and meant in message and "ignored" in message


def test_unrelated_and_legacy_single_underscore_variables_are_quiet(tmp_path: Path) -> None:
    environ = {"PYNENC_SOMETHING_ELSE": "1", "PYNENC_DEV_MODE_FORCE_SYNC_TASK": "1"}
    assert _warnings(environ=environ, cwd=tmp_path) == []


def test_per_task_settings_naming_no_task_are_reported(tmp_path: Path) -> None:
    app = Pynenc(
        config_values={"tasks": {"mymod.ad": {"max_retries": 2}, "mymod.add": {"queue": "q"}}},
    )
    # configured like this in the environment too
    conf = AppConfig(
        {"tasks": {"mymod.ad": {"max_retries": 2}, "mymod.add": {"queue": "q"}}},
        environ={"PYNENC__TASK__MYMOD_SUB__QUEUE": "x", "PYNENC__TASK__MYMOD_ADD__QUEUE": "y"},
        cwd=tmp_path,
    )
    unknown = conf.unknown_task_entries(["mymod.add"])
    assert [key for key, _ in unknown] == ["mymod.ad", "MYMOD_SUB"]
    assert "config_values" in unknown[0][1]
    assert "PYNENC__TASK__MYMOD_SUB__QUEUE" in unknown[1][1]
    assert app.conf.unknown_task_entries(["mymod.ad", "mymod.add"]) == []
