"""The compat task on a real in-process pynenc runner and in Celery's eager mode."""

from collections.abc import Iterator

import pytest
from celery import current_app as celery_current_app

from pynenc.task import _extract_task_from_wrapper
from pynenc_celery_compat import AsyncResult, states
from pynenc_celery_compat.adapter import CeleryTaskAdapter
from tests.celery_compat import basic_tasks as tasks


@pytest.fixture(autouse=True)
def current_app() -> Iterator[None]:
    """A shared task follows the current Celery app (as Celery's): make it this module's."""
    previous = celery_current_app._get_current_object()
    tasks.app.set_current()
    yield
    previous.set_current()


@pytest.fixture
def runner() -> Iterator[None]:
    with tasks.app.pynenc.running_in_background():
        yield


def test_the_module_attribute_holds_the_pynenc_task() -> None:
    assert tasks.add.name == "tests.celery_compat.basic_tasks.add"
    assert isinstance(_extract_task_from_wrapper(tasks.add), CeleryTaskAdapter)
    assert tasks.add.__inner_function__(1, 2) == 3
    assert tasks.add(1, 2) == 3  # a direct call runs inline, as in Celery


@pytest.mark.usefixtures("runner")
def test_delay_runs_on_a_pynenc_runner() -> None:
    result = tasks.add.delay(2, 3)
    assert isinstance(result, AsyncResult)
    assert result.get(timeout=30) == 5
    assert result.state == states.SUCCESS
    assert result.ready() and result.successful() and result.exists()


@pytest.mark.usefixtures("runner")
def test_retry_keeps_the_id_and_counts_retries() -> None:
    result = tasks.flaky.delay(2)
    task_id, retries, args = result.get(timeout=30)
    assert (task_id, retries, args) == (result.id, 2, [2])


@pytest.mark.usefixtures("runner")
def test_retries_exhausted_raise_the_original_exception() -> None:
    result = tasks.flaky.delay(5)
    with pytest.raises(KeyError):
        result.get(timeout=30)
    assert result.state == states.FAILURE


def test_arguments_are_checked_at_call_time() -> None:
    with pytest.raises(TypeError):
        tasks.add.delay(1, 2, 3)


def test_eager_mode_is_celerys() -> None:
    tasks.app.conf.task_always_eager = True
    try:
        assert tasks.add.delay(1, 1).get() == 2
        _, retries, args = tasks.flaky.delay(1).get()
        assert retries == 1 and args == (1,)  # a tuple on retries under eager, as Celery
    finally:
        tasks.app.conf.task_always_eager = False
