"""The rule between ``runner.heartbeat_interval`` and ``runner.dead_after``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pynenc.conf import AppConfig
from pynenc.conf.liveness import MIN_DEAD_AFTER_RATIO, check_liveness
from pynenc.exceptions import ConfigError


def make(
    tmp_path: Path,
    config_values: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> AppConfig:
    return AppConfig(config_values, environ=environ or {}, cwd=tmp_path)


def test_defaults_and_test_settings_satisfy_the_rule(tmp_path: Path) -> None:
    conf = make(tmp_path)
    assert conf.runner.dead_after >= MIN_DEAD_AFTER_RATIO * conf.runner.heartbeat_interval
    for beat, dead in [(0.2, 2.0), (0.05, 0.5), (0.2, 3.0), (1.0, 3.0)]:
        check_liveness(conf.runner, beat, dead)  # the FAST settings of the tests


def test_dead_after_shorter_than_heartbeat_is_refused_at_resolution(tmp_path: Path) -> None:
    environ = {"PYNENC__RUNNER__DEAD_AFTER": "0.5"}
    with pytest.raises(ConfigError) as err:
        make(tmp_path, {"runner": {"heartbeat_interval": 1}}, environ)
    message = str(err.value)
    assert "runner.dead_after = 0.5 (from environment variable PYNENC__RUNNER__DEAD_AFTER)" in (
        message
    )
    assert "runner.heartbeat_interval = 1.0 (from config_values)" in message
    assert f"at least {MIN_DEAD_AFTER_RATIO} times" in message
    assert "Set runner.dead_after >= 3 or runner.heartbeat_interval <= 0.1667" in message


def test_a_ratio_below_the_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"runner\.dead_after = 2\.5"):
        make(tmp_path, {"runner": {"heartbeat_interval": 1, "dead_after": 2.5}})
    make(tmp_path, {"runner": {"heartbeat_interval": 1, "dead_after": 3}})


def test_assignment_is_checked_and_leaves_the_value_unchanged(tmp_path: Path) -> None:
    conf = make(tmp_path)
    with pytest.raises(ConfigError, match=r"runner.heartbeat_interval = 5.0 \(from assignment\)"):
        conf.runner.heartbeat_interval = 5
    assert conf.runner.heartbeat_interval == 1.0
    assert conf.runner.source_of("heartbeat_interval") == "default"
    with pytest.raises(ConfigError, match=r"runner.dead_after = 1.0 \(from assignment\)"):
        conf.runner.dead_after = 1
    assert conf.runner.dead_after == 10.0


def test_update_checks_once_all_values_are_set(tmp_path: Path) -> None:
    conf = make(tmp_path)
    # one at a time, neither order works from 1/10 to 5/20 and back to 0.1/0.5
    conf.runner.update(heartbeat_interval=5, dead_after=20)
    assert (conf.runner.heartbeat_interval, conf.runner.dead_after) == (5.0, 20.0)
    assert conf.runner.source_of("dead_after") == "assignment"
    conf.runner.update(dead_after=0.5, heartbeat_interval=0.1)
    with pytest.raises(ConfigError, match=r"runner\.dead_after"):
        conf.runner.update(dead_after=0.2, threads=3)
    assert (conf.runner.dead_after, conf.runner.threads) == (0.5, 8)  # nothing applied
