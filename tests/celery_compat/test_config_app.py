"""The compat Celery app: routes, class-based tasks, send_task, revoke, current app,
autodiscovery (Django's too), and a real celery.Celery app whose compat tasks follow it."""

import re
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import celery
import pytest
from celery.exceptions import NotRegistered
from celery.result import EagerResult
from kombu import Queue

from pynenc_celery_compat import AsyncResult, Celery, Task, shared_task, states
from pynenc_celery_compat.bridge import pynenc_app_for, reset_pynenc_app
from tests.celery_compat import config_tasks as tasks
from tests.celery_compat.config_fixtures import keep_current_celery_app

__all__ = ["keep_current_celery_app"]

PACKAGES = "tests.celery_compat.config_pkgs"


def make_app(name: str = "cfg", **settings: Any) -> Celery:
    app = Celery(name, broker="memory://", backend="cache+memory://")
    app.conf.update(settings)
    app.set_current()
    return app


def forget_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``name`` importable afresh in this test (it may have been imported before)."""
    monkeypatch.delitem(sys.modules, name, raising=False)


# -- task_routes -------------------------------------------------------------------------

ROUTES = [
    "tests.celery_compat.config_tasks.route_big_calls",
    {"config.*": {"queue": "configq", "priority": 3}},
    {re.compile(r"tests\.celery_compat\.config_tasks\.mul.*"): "mulq"},
    lambda name, args, kwargs, options, task=None, **kw: (
        {"queue": "fnq"} if name.endswith("with_own_queue") else None
    ),
]

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    (tasks.multiply.name, (2, 3), {}),
    (tasks.multiply.name, (200, 3), {}),
    ("config.echo", ("x",), {}),
    ("config.echo", ("x",), {"queue": "explicit"}),
    ("config.echo", ("x",), {"priority": 9}),
    (tasks.with_own_queue.name, (), {}),
]


def celery_routes() -> list[tuple[str, int | None]]:
    """Where real Celery sends CALLS with ROUTES (a spy on its message sender)."""
    real = celery.Celery("real", broker="memory://", set_as_current=False)
    real.conf.task_routes = ROUTES
    # Celery's own tasks of the same names (lazy=False: before the shared compat ones)
    for task in (tasks.multiply, tasks.echo, tasks.with_own_queue):
        own = {"queue": task.queue} if "queue" in type(task).__dict__ else {}
        real.task(name=task.name, lazy=False, shared=False, **own)(task.__inner_function__)
    sent: list[tuple[str, int | None]] = []

    def spy(producer: Any, name: str, message: Any, **options: Any) -> None:
        sent.append((options["queue"].name, options.get("priority")))

    real.amqp.send_task_message = spy
    with mock.patch.object(real, "producer_or_acquire"):
        for name, args, options in CALLS:
            task = real.tasks[name]
            assert not isinstance(task, Task)
            task.apply_async(args, **options)
    return sent


def test_task_routes_send_compat_tasks_where_celery_sends_them() -> None:
    app = make_app(task_routes=ROUTES)
    found = []
    for name, args, options in CALLS:
        result = app.tasks[name].apply_async(args, **options)
        record = app.pynenc.orchestrator.get_record(result.id)
        found.append((record.queue, record.priority))
    assert found == celery_routes()
    assert found[:3] == [("mulq", None), ("big", None), ("configq", 3)]


def test_without_routes_the_default_queue() -> None:
    app = make_app(task_default_queue="jobs")
    result = tasks.multiply.delay(1, 2)
    assert app.pynenc.orchestrator.get_record(result.id).queue == "jobs"
    app.conf.task_routes = {"tests.celery_compat.config_tasks.*": "late"}  # seen at once
    result = tasks.multiply.delay(1, 2)
    assert app.pynenc.orchestrator.get_record(result.id).queue == "late"


# -- class-based tasks ---------------------------------------------------------------------


@pytest.fixture
def app() -> Iterator[Celery]:
    yield make_app()


@pytest.fixture
def runner(app: Celery) -> Iterator[Celery]:
    with app.pynenc.running_in_background():
        yield app


def test_register_a_class_based_compat_task(runner: Celery) -> None:
    doubler = runner.register_task(tasks.Doubler())
    assert isinstance(doubler, tasks.Doubler) and doubler.name == "config.doubler"
    assert runner.tasks["config.doubler"] is doubler
    assert doubler(4) == 8  # a direct call runs inline
    assert doubler.delay(21).get(timeout=30) == 42
    assert runner.send_task("config.doubler", [5]).get(timeout=30) == 10
    with pytest.raises(TypeError):
        doubler.delay(1, 2)


def test_register_a_celery_task_object_wraps_it(runner: Celery) -> None:
    legacy = tasks.LegacyAdder()
    legacy.offset = 100  # the object's own attributes come along
    registered = runner.register_task(legacy)
    assert isinstance(registered, Task) and isinstance(registered, tasks.LegacyAdder)
    assert registered.name == "config.legacy_adder"
    result = registered.delay(1, 2)
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=30) == 103


def test_register_a_task_class(app: Celery) -> None:
    registered = app.register_task(tasks.LegacyAdder)
    assert isinstance(registered, tasks.LegacyAdder) and registered(1, 1) == 2


def test_register_a_task_defined_in_a_function_after_the_runner_started(runner: Celery) -> None:
    class Triple(Task):  # local: runs on runners of this process only
        name = "config.local_triple"

        def run(self, x: int) -> int:
            return 3 * x

    triple = runner.register_task(Triple())
    assert triple.delay(3).get(timeout=30) == 9


def test_register_something_else_is_a_type_error(app: Celery) -> None:
    with pytest.raises(TypeError, match=r"celery\.Task subclass"):
        app.register_task(lambda x: x)


# -- send_task, AsyncResult, control.revoke ----------------------------------------------


def test_send_task_by_name(runner: Celery) -> None:
    result = runner.send_task("config.echo", args=["hello"])
    assert result.get(timeout=30) == "hello"
    again = runner.AsyncResult(result.id)
    assert again.state == states.SUCCESS and again.result == "hello"


def test_send_task_imports_the_modules_that_may_hold_the_name(
    app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    forget_module(monkeypatch, f"{PACKAGES}.beta.jobs")
    app.autodiscover_tasks([f"{PACKAGES}.beta"], related_name="jobs")
    assert f"{PACKAGES}.beta.jobs" not in sys.modules  # lazy, as Celery
    with app.pynenc.running_in_background():
        assert app.send_task("config_pkgs.beta.negate", [4]).get(timeout=30) == -4


def test_send_task_of_an_unknown_name_is_an_error(app: Celery) -> None:
    with pytest.raises(NotRegistered, match=r"send_task\('nowhere.task'\).*pynenc_celery_tasks"):
        app.send_task("nowhere.task", [1])


def test_control_revoke_cancels_for_good(runner: Celery) -> None:
    later = [tasks.multiply.apply_async((2, 2), countdown=600) for _ in range(3)]
    runner.control.revoke(later[0].id)
    runner.control.revoke([later[1].id, later[2].id])
    runner.control.revoke("never-sent")  # an unknown id is ignored, as Celery's workers do
    for result in later:
        assert result.state == states.REVOKED
        assert runner.pynenc.orchestrator.get_record(result.id).status.is_final


def test_control_revoke_of_a_finished_call_keeps_its_state(runner: Celery) -> None:
    result = tasks.multiply.delay(3, 3)
    assert result.get(timeout=30) == 9
    runner.control.revoke(result.id)
    assert result.state == states.SUCCESS


# -- which app a shared task calls through ----------------------------------------------------


def test_set_current_and_set_default_choose_the_app_of_shared_tasks() -> None:
    first, second = make_app("first"), make_app("second")
    first.set_current()
    on_first = tasks.multiply.delay(1, 1)
    second.set_current()
    on_second = tasks.multiply.delay(1, 1)
    assert first.pynenc.orchestrator.get_record(on_first.id)
    assert second.pynenc.orchestrator.get_record(on_second.id)
    assert on_first.app is not second and on_first.exists() and on_second.exists()
    assert not AsyncResult(on_first.id, app=second).exists()

    @shared_task
    def add(x: int, y: int) -> int:  # not used yet: bound to no app
        return x + y

    # a thread with no current app of its own: the default app (a shared task used there
    # before keeps the app it is bound to: a runner's threads)
    first.set_default()
    in_thread: list[Any] = []
    thread = threading.Thread(target=lambda: in_thread.append(add.delay(2, 2)))
    thread.start()
    thread.join()
    assert in_thread[0].app is first and in_thread[0].exists()


# -- autodiscover_tasks ------------------------------------------------------------------------


def test_autodiscover_is_lazy_and_runners_import_the_packages(
    app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"{PACKAGES}.alpha.tasks"
    forget_module(monkeypatch, module)
    app.autodiscover_tasks([f"{PACKAGES}.alpha", f"{PACKAGES}.gamma"])
    assert module not in sys.modules
    with app.pynenc.running_in_background():
        assert module in sys.modules
        assert "config_pkgs.alpha.square" in app.pynenc.tasks
        assert app.send_task("config_pkgs.alpha.square", [7]).get(timeout=30) == 49


def test_autodiscover_force_imports_at_once(app: Celery, monkeypatch: pytest.MonkeyPatch) -> None:
    forget_module(monkeypatch, f"{PACKAGES}.beta.jobs")
    app.autodiscover_tasks([f"{PACKAGES}.beta"], related_name="jobs", force=True)
    assert f"{PACKAGES}.beta.jobs" in sys.modules
    assert "config_pkgs.beta.negate" in app.tasks


def fake_django(monkeypatch: pytest.MonkeyPatch, settings: Any, installed: list[str]) -> None:
    """Just enough of Django for Celery's Django fix-up (Django is no test dependency)."""
    configs = [types.SimpleNamespace(name=name) for name in installed]
    modules = {
        "django": {"VERSION": (5, 2, 0, "final", 0), "setup": lambda: None},
        "django.conf": {"settings": settings},
        "django.apps": {"apps": types.SimpleNamespace(get_app_configs=lambda: configs)},
        "django.db": {
            "connections": types.SimpleNamespace(all=lambda: []),
            "DatabaseError": type("DatabaseError", (Exception,), {}),
        },
        "django.db.utils": {"InterfaceError": type("InterfaceError", (Exception,), {})},
        "django.core": {},
        "django.core.cache": {"caches": types.SimpleNamespace(all=lambda: [])},
        "django.core.checks": {"run_checks": lambda: []},
        "django.utils": {},
        "django.utils.timezone": {"now": lambda: None},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "proj.settings")
    monkeypatch.setenv("CELERY_SKIP_CHECKS", "1")


def test_autodiscover_without_packages_reads_djangos_installed_apps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forget_module(monkeypatch, f"{PACKAGES}.alpha.tasks")
    forget_module(monkeypatch, f"{PACKAGES}.beta.jobs")
    installed = [f"{PACKAGES}.alpha", f"{PACKAGES}.gamma"]
    settings = types.SimpleNamespace(
        CELERY_BROKER_URL="memory://",
        CELERY_RESULT_BACKEND="cache+memory://",
        CELERY_INCLUDE=[f"{PACKAGES}.beta.jobs"],
        INSTALLED_APPS=installed,
    )
    fake_django(monkeypatch, settings, installed)
    app = Celery("proj")  # the standard proj/celery.py
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()
    app.set_current()
    assert f"{PACKAGES}.alpha.tasks" not in sys.modules
    # include is imported by Celery's loader after Django's setup, not before by pynenc
    assert app.pynenc.conf.task_modules == ()
    with app.pynenc.running_in_background():
        assert app.send_task("config_pkgs.alpha.square", [3]).get(timeout=30) == 9
        assert app.send_task("config_pkgs.beta.negate", [3]).get(timeout=30) == -3
    assert f"{PACKAGES}.alpha.tasks" in sys.modules


# -- a real celery.Celery app ---------------------------------------------------------------


@pytest.fixture
def real_app(tmp_path: Path) -> Iterator[celery.Celery]:
    """The project's own Celery app; a module of it migrated to the compat shared_task."""
    real = celery.Celery("mixed", broker="memory://", backend=f"db+sqlite:///{tmp_path}/r.db")
    real.set_current()
    yield real
    reset_pynenc_app(real)


def test_compat_tasks_follow_a_real_celery_app(real_app: celery.Celery) -> None:
    real_app.conf.update(
        task_routes={"config.*": {"queue": "configq"}},
        task_queues=[Queue("celery"), Queue("configq")],
        timezone="Europe/Madrid",
    )
    pynenc = pynenc_app_for(real_app)
    assert pynenc.conf.state_backend_url.endswith("/r.db")  # its result backend
    assert tasks.multiply.name in real_app.tasks  # shared tasks register on it
    with pynenc.running_in_background():
        assert tasks.multiply.delay(2, 3).get(timeout=30) == 6
        echoed = tasks.echo.delay("x")
        assert echoed.get(timeout=30) == "x"
        assert pynenc.orchestrator.get_record(echoed.id).queue == "configq"  # its routes
        # in the runner, the task's app is the project's, with its time zone
        assert tasks.app_seen.delay().get(timeout=30) == ["mixed", "Europe/Madrid"]


def test_compat_tasks_follow_a_real_celery_apps_eager_flag() -> None:
    real = celery.Celery("mixed_eager", broker="memory://", backend="cache+memory://")
    real.conf.task_always_eager = True  # as a test suite sets it on the project's app
    eager = tasks.multiply.delay(2, 2)
    assert isinstance(eager, EagerResult) and eager.get() == 4
