"""How the worker reads Celery's options: pools, queues, log levels, default time limits,
and the reference worker processes load the app by."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from celery import _state
from kombu import Queue

from pynenc.exceptions import ConfigError, RunnerError
from pynenc_celery_compat import Celery, apps, trace
from pynenc_celery_compat.adapter import pynenc_options, time_limits
from pynenc_celery_compat.worker import UnsupportedPoolError
from pynenc_celery_compat.worker.controller import consumed_queues, level_name
from pynenc_celery_compat.worker.pools import concurrency_of, pool_name
from tests.celery_compat import worker_tasks as tasks


def app(**settings: object) -> Celery:
    celery_app = Celery("options", set_as_current=False)
    celery_app.conf.update(settings)
    return celery_app


@pytest.mark.parametrize(
    ("given", "pool"),
    [("prefork", "prefork"), ("processes", "prefork"), ("threads", "threads"), ("SOLO", "solo")],
)
def test_pools(given: str, pool: str) -> None:
    assert pool_name(given) == pool


@pytest.mark.parametrize("given", ["gevent", "eventlet", "custom.Pool"])
def test_other_pools_are_refused(given: str) -> None:
    with pytest.raises(UnsupportedPoolError, match="threads"):
        pool_name(given)


def test_concurrency_defaults_to_the_cpu_count_and_solo_is_one() -> None:
    assert concurrency_of("prefork", None) == (os.cpu_count() or 1)
    assert concurrency_of("threads", 5) == 5
    assert concurrency_of("solo", 8) == 1


def test_queues_follow_celerys_rule() -> None:
    assert consumed_queues(app(), None, None) == ("celery",)
    assert consumed_queues(app(task_default_queue="main"), [], None) == ("main",)
    declared = app(task_queues=[Queue("a"), Queue("b")])
    assert consumed_queues(declared, None, ["b"]) == ("a",)
    assert consumed_queues(app(), ["x", "y", "x"], ["y"]) == ("x",)
    with pytest.raises(ConfigError, match="no queue left"):
        consumed_queues(app(), None, ["celery"])


@pytest.mark.parametrize(
    ("given", "name"),
    [("INFO", "info"), ("warn", "warning"), ("FATAL", "critical"), (10, "debug"), ("20", "info")],
)
def test_log_levels(given: str | int, name: str) -> None:
    assert level_name(given) == name


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(ConfigError, match="loud"):
        level_name("loud")


def test_worker_time_limits_apply_to_tasks_without_their_own() -> None:
    limited = app(task_time_limit=10, task_soft_time_limit=8)
    assert time_limits(tasks.add, limited) == {"timeout": 10, "soft_timeout": 8}
    assert pynenc_options(tasks.add, limited)["timeout"] == 10.0
    assert time_limits(tasks.add, app()) == {"timeout": None, "soft_timeout": None}
    assert time_limits(tasks.add) == {"timeout": None, "soft_timeout": None}
    # a default soft limit not before the hard one would never fire: dropped
    assert time_limits(tasks.add, app(task_time_limit=5, task_soft_time_limit=9)) == {
        "timeout": 5,
        "soft_timeout": None,
    }


def test_a_task_keeps_its_own_time_limits() -> None:
    class Limited(tasks.add.__class__):  # type: ignore[misc,name-defined]
        time_limit = 3
        soft_time_limit = 2

    assert time_limits(Limited(), app(task_time_limit=10, task_soft_time_limit=8)) == {
        "timeout": 3,
        "soft_timeout": 2,
    }


@pytest.fixture
def celery_state() -> Iterator[None]:
    """Resolving a reference sets the process up as a worker: put things back after."""
    current, default, hostname = _state.get_current_app(), _state.default_app, trace.HOSTNAME
    yield
    _state.set_default_app(default)
    _state._tls.current_app = current
    trace.HOSTNAME = hostname


@pytest.mark.usefixtures("celery_state")
def test_a_reference_resolves_to_the_apps_pynenc_app() -> None:
    from pynenc.runner.reference import load_app
    from tests.celery_compat import worker_cli_app

    readable = apps.reference({"app": "tests.celery_compat.worker_cli_app:app"})
    assert readable == "pynenc_celery_compat.apps:tests.celery_compat.worker_cli_app:app"
    assert load_app(readable) is worker_cli_app.app.pynenc
    # a worker's spec travels as a token (no ':' for pynenc's loader to split on)
    token = apps.reference({"app": "tests.celery_compat.worker_cli_app:app", "loglevel": "info"})
    module, _, name = token.partition(":")
    assert module == apps.__name__ and ":" not in name
    assert load_app(token) is worker_cli_app.app.pynenc


@pytest.mark.usefixtures("celery_state")
def test_a_failure_while_resolving_is_not_taken_for_a_missing_attribute() -> None:
    with pytest.raises(RunnerError, match="names no Celery app"):
        getattr(apps, "tests.celery_compat.worker_cli_app:no_such_app")


def test_a_reference_this_package_did_not_make_is_refused() -> None:
    with pytest.raises(RunnerError, match="not a reference"):
        apps.decode("not-base64-json!")
