"""``wrap_task``: a project's existing Celery tasks (class-based, or made by a real
``@app.task``, bound or not) run on a pynenc runner without editing them."""

from __future__ import annotations

from collections.abc import Iterator

import celery
import pytest
from celery.result import AsyncResult as CeleryAsyncResult

from pynenc.task import _extract_task_from_wrapper
from pynenc_celery_compat import AsyncResult, Task, routing, wrap_task
from pynenc_celery_compat.adapter import CeleryTaskAdapter
from pynenc_celery_compat.bridge import pynenc_app_for
from tests.celery_compat import wrap_tasks as tasks

project = tasks.project


@pytest.fixture(scope="module")
def module_runner() -> Iterator[None]:
    with pynenc_app_for(project).running_in_background():
        yield


@pytest.fixture
def runner(module_runner: None) -> None:
    tasks.EVENTS.clear()


def test_a_task_made_by_app_task_is_converted_in_place() -> None:
    original = tasks.plain._get_current_object()  # the module attribute is Celery's proxy
    original_class = type(original)
    wrapped = wrap_task(tasks.plain)
    assert wrapped is original and project.tasks[wrapped.name] is wrapped
    assert isinstance(wrapped, Task) and isinstance(wrapped, original_class)
    assert wrapped.name == "tests.celery_compat.wrap_tasks.plain"
    assert isinstance(_extract_task_from_wrapper(wrapped), CeleryTaskAdapter)
    assert wrap_task(wrapped) is wrapped  # wrapping again changes nothing
    assert tasks.plain(1, 2) == 3  # a direct call still runs inline


@pytest.mark.usefixtures("runner")
def test_unbound_and_bound_app_tasks_run_on_pynenc() -> None:
    wrap_task(tasks.plain)
    wrap_task(tasks.bound)
    result = tasks.plain.delay(2, 3)  # the unedited module attribute
    assert isinstance(result, AsyncResult) and result.get(timeout=30) == 5
    retried = tasks.bound.delay(2)  # autoretry_for, max_retries: the task's own options
    assert retried.get(timeout=30) == [retried.id, 2]
    assert tasks.bound.max_retries == 2


@pytest.mark.usefixtures("runner")
def test_a_class_becomes_a_registered_compat_task() -> None:
    charge = wrap_task(tasks.ChargeTask, app=project)
    assert isinstance(charge, tasks.ChargeTask) and isinstance(charge, Task)
    assert project.tasks["billing.charge"] is charge
    assert (charge.name, charge.max_retries, charge.tags) == ("billing.charge", 3, ["billing"])
    # by name, as callers elsewhere reach it (a real app's send_task stays Celery's)
    result = project.signature("billing.charge", (10,), {"currency": "USD"}).delay()
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=30) == "10 USD after 1 retry"
    assert tasks.EVENTS == [
        ("on_retry", "billing.charge", "KeyError('first try')"),
        ("on_success", "billing.charge", "10 USD after 1 retry"),
    ]


@pytest.mark.usefixtures("runner")
def test_a_class_with_an_unbound_run() -> None:
    double = wrap_task(tasks.DoubleTask, app=project)
    assert double.delay(21).get(timeout=30) == 42


@pytest.mark.usefixtures("runner")
def test_a_class_already_registered_keeps_its_instance() -> None:
    wrapped = wrap_task(tasks.RegisteredTask, app=project)
    assert wrapped is tasks.registered  # the object the project holds now calls pynenc
    assert tasks.registered.delay().get(timeout=30) == "registered"
    assert tasks.EVENTS == [("on_success", "wrap.registered", "registered")]


def test_a_wrapped_task_can_be_switched_back_to_celery() -> None:
    wrap_task(tasks.plain)
    routing.reload()
    project.conf.pynenc_celery_tasks = "tests.celery_compat.wrap_tasks"
    try:
        result = tasks.plain.delay(1, 1)
        assert type(result) is CeleryAsyncResult  # a Celery message on the app's broker
    finally:
        project.conf.pynenc_celery_tasks = None


def test_a_class_is_registered_on_the_current_app_by_default() -> None:
    app = celery.Celery("current", broker="memory://", set_as_current=False)
    previous = celery._state.get_current_app()
    app.set_current()
    try:
        double = wrap_task(tasks.DoubleTask)
    finally:
        previous.set_current()
    assert app.tasks["wrap.double"] is double


class NoRun(celery.Task):  # type: ignore[misc]
    name = "wrap.norun"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: None, "takes a Celery task"),
        (int, "not one"),
        (NoRun, "defines no run"),
    ],
)
def test_what_is_not_a_celery_task_is_refused(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        wrap_task(value, app=project)


@pytest.mark.usefixtures("runner")
def test_a_celery_shared_task_is_converted_for_the_current_app() -> None:
    previous = celery._state.get_current_app()
    project.set_current()
    try:
        wrapped = wrap_task(tasks.shared_add)
        assert project.tasks[wrapped.name] is wrapped and isinstance(wrapped, Task)
        result = tasks.shared_add.delay(4, 5)  # the proxy reaches the converted task
        assert isinstance(result, AsyncResult) and result.get(timeout=30) == 9
    finally:
        previous.set_current()
