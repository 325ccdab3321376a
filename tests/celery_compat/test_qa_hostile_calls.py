"""Careless calls: apply_async given the wrong shapes of arguments and options.

Each case is what Celery 5.7 does with the same call (checked side by side): either the
call means what Celery makes of it, or it is refused with an error naming the option.
Nothing may run with silently wrong arguments, or wait for ever on a queue nobody reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pynenc_celery_compat import AsyncResult, states
from pynenc_celery_compat.exceptions import TaskRevokedError, TimeoutError
from tests.celery_compat import qa_hostile_calls_tasks as tasks


@pytest.fixture(scope="module")
def runner() -> Iterator[None]:
    with tasks.app.pynenc.running_in_background():
        yield


@pytest.mark.parametrize("args", ["12", {"x": 1, "y": 2}, {1, 2}, 5])
def test_args_that_are_not_a_list_or_tuple_are_refused(args: object) -> None:
    # Celery: TypeError('task args must be a list or tuple'); a string or a dict used to
    # run add('1', '2') == '12' / add('x', 'y') == 'xy' here
    with pytest.raises(TypeError, match=r"add\.apply_async\(args=.*must be a list or tuple"):
        tasks.add.apply_async(args)


@pytest.mark.parametrize("kwargs", [[("y", 2)], [2], "y=2"])
def test_kwargs_that_are_not_a_mapping_are_refused(kwargs: object) -> None:
    with pytest.raises(TypeError, match=r"apply_async\(kwargs=.*must be a mapping"):
        tasks.add.apply_async((1,), kwargs)


@pytest.mark.parametrize("queue", [123, 4.5, object()])
def test_a_queue_that_is_not_a_name_is_refused(queue: object) -> None:
    # it used to be sent to the queue str(queue), which no worker consumes: PENDING for ever
    with pytest.raises(TypeError, match=r"apply_async\(queue=.*queue must be a queue name"):
        tasks.add.apply_async((1, 2), queue=queue)


def test_a_priority_that_is_not_an_integer_names_the_option() -> None:
    with pytest.raises(TypeError, match=r"apply_async\(priority='high'\): priority must be"):
        tasks.add.apply_async((1, 2), priority="high")


@pytest.mark.usefixtures("runner")
def test_a_negative_countdown_runs_at_once_as_in_celery() -> None:
    # a countdown computed from a deadline already past: Celery runs it now
    assert tasks.add.apply_async((1, 2), countdown=-5).get(timeout=30) == 3


@pytest.mark.parametrize("countdown", [float("nan"), "5", True])
def test_a_countdown_that_is_not_a_number_names_the_option(countdown: object) -> None:
    with pytest.raises(TypeError, match=r"add\.apply_async\(countdown=.*must be a number"):
        tasks.add.apply_async((1, 2), countdown=countdown)


@pytest.mark.usefixtures("runner")
@pytest.mark.parametrize("expires", [0, -1, -3600.5])
def test_an_expiry_of_zero_or_less_revokes_the_call_as_in_celery(expires: float) -> None:
    result = tasks.add.apply_async((1, 2), expires=expires)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=30)
    assert result.state == states.REVOKED


@pytest.mark.usefixtures("runner")
def test_iso_strings_are_read_for_eta_and_expires_as_in_celery() -> None:
    past = "2020-01-01T00:00:00"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert tasks.add.apply_async((1, 2), eta=past, expires=later).get(timeout=30) == 3
    result = tasks.add.apply_async((1, 2), expires=past)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=30)


def test_a_string_eta_that_is_no_date_names_the_option() -> None:
    with pytest.raises(ValueError, match=r"apply_async\(eta='tomorrow'\).*ISO 8601"):
        tasks.add.apply_async((1, 2), eta="tomorrow")


@pytest.mark.usefixtures("runner")
def test_an_empty_task_id_picks_a_new_id_as_in_celery() -> None:
    result = tasks.add.apply_async((1, 2), task_id="")
    assert result.id and result.get(timeout=30) == 3


def test_task_id_errors_name_task_id() -> None:
    with pytest.raises(TypeError, match=r"apply_async\(task_id=123\): task_id must be a string"):
        tasks.add.apply_async((1, 2), task_id=123)
    with pytest.raises(ValueError, match=r"add\.apply_async\(task_id='a b'\)") as raised:
        tasks.add.apply_async((1, 2), task_id="a b")
    assert "with_options" not in str(raised.value) and "invocation_id" not in str(raised.value)


@pytest.mark.usefixtures("runner")
def test_a_negative_get_timeout_does_not_wait_as_in_celery() -> None:
    done = tasks.add.delay(1, 2)
    assert done.get(timeout=30) == 3
    assert AsyncResult(done.id, app=tasks.app).get(timeout=-1) == 3  # ready: returned
    later = tasks.add.apply_async((1, 2), countdown=3600)
    with pytest.raises(TimeoutError):
        later.get(timeout=-1)
    later.revoke()


@pytest.mark.parametrize("timeout", [float("nan"), "5"])
def test_a_get_timeout_that_is_not_a_number_names_get(timeout: object) -> None:
    result = AsyncResult("some-id", app=tasks.app)
    with pytest.raises(TypeError, match=r"AsyncResult\.get\(timeout=.*number of seconds"):
        result.get(timeout=timeout)


@pytest.mark.parametrize("task_id", [None, ""])
def test_an_async_result_of_no_id_is_refused_as_in_celery(task_id: object) -> None:
    with pytest.raises(ValueError, match="requires a valid task id"):
        AsyncResult(task_id, app=tasks.app)
