"""Regressions of the Celery layer's merge: behaviours that held on each branch alone and
broke when the branches met. Each test builds the situation that other test modules left
behind by chance (Celery's ``celery.ping`` on every app, several Celery apps with tasks of
the same name), so they do not depend on the order modules run in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import _state
from celery.contrib.testing import tasks as celery_testing_tasks

from pynenc.runner.reference import load_app
from pynenc_celery_compat import Celery, apps, registry, routing, trace
from pynenc_celery_compat.adapter import CeleryTaskAdapter
from pynenc_celery_compat.bridge import celery_app_of
from pynenc_celery_compat.maps import MAP
from pynenc_celery_compat.worker import Worker
from tests.celery_compat import options_bodies as bodies


def _app(name: str) -> Celery:
    return Celery(name, broker="memory://", backend="cache+memory://", set_as_current=False)


@pytest.fixture
def celery_state() -> Iterator[None]:
    """A worker's setup makes its app current and default: put them back after."""
    current, default, hostname = _state.get_current_app(), _state.default_app, trace.HOSTNAME
    yield
    _state.set_default_app(default)
    _state._tls.current_app = current
    trace.HOSTNAME = hostname


# -- tasks Celery's own decorators make on a compat app ------------------------------------


@pytest.mark.usefixtures("celery_state")
def test_a_worker_sets_up_an_app_that_holds_celerys_own_ping() -> None:
    app = _app("merge_ping")
    ping = app.tasks[celery_testing_tasks.ping.name]  # Celery's shared_task, compat class
    assert not registry.made_here(ping)
    add = app.task(name="merge_ping.add")(bodies.add)
    pynenc = Worker(app, pool="solo").setup()  # declares the compat tasks afresh
    assert ping.name not in pynenc.tasks and add.name in pynenc.tasks
    assert routing.routed_to_celery(ping, app)


@pytest.mark.usefixtures("celery_state")
def test_a_reference_reports_what_failed_while_setting_the_app_up() -> None:
    # pynenc's loader takes an AttributeError for a missing attribute: it must not hide one
    with pytest.raises(Exception, match="names no Celery app") as raised:
        load_app(f"{apps.__name__}:tests.celery_compat.options_tasks:no_such_app")
    assert not isinstance(raised.value, AttributeError)


# -- several Celery apps with a task of the same name --------------------------------------


def test_each_apps_pynenc_task_runs_that_apps_compat_task() -> None:
    first, second = _app("merge_first"), _app("merge_second")
    mine = first.task(name="merge.same_name")(bodies.add)
    theirs = second.task(name="merge.same_name")(bodies.add)  # declared last
    assert registry.get("merge.same_name") is theirs
    assert mine.pynenc_task_for(first.pynenc).compat is mine
    copied = mine.pynenc_task_for(first.pynenc).copy_for(second.pynenc)
    assert copied.compat is mine


def test_two_apps_may_each_have_another_function_under_one_name() -> None:
    first, second = _app("merge_a"), _app("merge_b")
    first.task(name="merge.taken")(bodies.add)
    other = second.task(name="merge.taken")(bodies.double)  # Celery allows it across apps
    assert other.pynenc_task_for(second.pynenc).func is bodies.double


def test_a_map_is_sent_to_the_pynenc_app_of_the_app_it_was_made_on() -> None:
    first, second = _app("merge_map_first"), _app("merge_map_second")
    mine = first.task(name="merge.map_double")(bodies.double)
    second.task(name="merge.map_double")(bodies.double)  # the registry's entry now
    result = mine.map([1, 2]).delay()
    assert first.pynenc.orchestrator.get_record(result.id).task_id == MAP.name
    assert celery_app_of(first.pynenc) is first
    assert isinstance(MAP.pynenc_task_for(first.pynenc), CeleryTaskAdapter)


# -- one switch-back check -----------------------------------------------------------------


def test_revoke_asks_celery_when_the_environment_switches_tasks_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app("merge_switch")
    routing.reload()
    try:
        assert not routing.switches_back(app)
        monkeypatch.setenv(routing.ENV_VAR, "billing.tasks")
        routing.reload()
        assert routing.switches_back(app)
        monkeypatch.setenv(routing.ENV_VAR, "!billing.tasks")  # keeps tasks on pynenc only
        routing.reload()
        assert not routing.switches_back(app)
    finally:
        monkeypatch.delenv(routing.ENV_VAR, raising=False)
        routing.reload()
