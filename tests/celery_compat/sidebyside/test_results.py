"""Results and states: the lifecycle, failures, waiting, revoking, expiring, ignoring."""

from __future__ import annotations

import datetime as dt
import uuid
from types import ModuleType

import pytest
from celery import exceptions, states

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour, Gate, wait_for_state

UTC = dt.UTC


def test_success_lifecycle(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.delay(20, 22)
    assert result.get(timeout=WAIT) == 42
    assert (result.state, result.status) == (states.SUCCESS, states.SUCCESS)
    assert (result.result, result.info, result.traceback) == (42, 42, None)
    assert result.ready() and result.successful() and not result.failed()
    again = flavour.AsyncResult(result.id)  # a fresh handle reads the stored result
    assert (again.state, again.result) == (states.SUCCESS, 42)
    assert again.get(timeout=WAIT) == 42


def test_failure_reraises_the_custom_exception(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.boom.delay("bad", 7)
    with pytest.raises(tasks.Boom) as raised:
        result.get(timeout=WAIT)
    assert type(raised.value) is tasks.Boom
    assert raised.value.args == ("bad", 7)
    assert result.state == states.FAILURE
    assert result.ready() and result.failed() and not result.successful()
    assert type(result.result) is tasks.Boom and result.result.args == ("bad", 7)
    assert result.info.args == ("bad", 7)
    assert "Boom" in result.traceback and "raise Boom(*args)" in result.traceback
    again = flavour.AsyncResult(result.id)
    assert type(again.result) is tasks.Boom


def test_get_without_propagate_returns_the_exception(tasks: ModuleType) -> None:
    result = tasks.boom.delay("quiet")
    value = result.get(timeout=WAIT, propagate=False)
    assert type(value) is tasks.Boom and value.args == ("quiet",)


def test_get_timeout_raises_celerys_timeout_error(tasks: ModuleType, gate: Gate) -> None:
    result = tasks.untracked.delay(gate.path)
    gate.wait_started()
    with pytest.raises(exceptions.TimeoutError):
        result.get(timeout=0.2)
    gate.release()
    assert result.get(timeout=WAIT) == "done"


def test_started_while_running_with_track_started(tasks: ModuleType, gate: Gate) -> None:
    result = tasks.tracked.delay(gate.path)
    gate.wait_started()
    wait_for_state(result, states.STARTED)
    assert not result.ready()
    gate.release()
    assert result.get(timeout=WAIT) == "done"
    assert result.state == states.SUCCESS


def test_pending_while_running_without_track_started(tasks: ModuleType, gate: Gate) -> None:
    result = tasks.untracked.delay(gate.path)
    gate.wait_started()
    assert result.state == states.PENDING
    gate.release()
    assert result.get(timeout=WAIT) == "done"


def test_custom_state_visible_while_running(tasks: ModuleType, gate: Gate) -> None:
    result = tasks.progress.delay(gate.path)
    gate.wait_started()
    wait_for_state(result, "PROGRESS")
    assert result.info == {"step": 1, "of": 2}
    assert not result.ready()
    gate.release()
    assert result.get(timeout=WAIT) == "finished"
    assert (result.state, result.info) == (states.SUCCESS, "finished")


def test_exists(tasks: ModuleType, flavour: Flavour) -> None:
    done = tasks.add.delay(1, 2)
    done.get(timeout=WAIT)
    assert done.exists()
    assert not flavour.AsyncResult(str(uuid.uuid4())).exists()


def test_revoke_a_pending_task(tasks: ModuleType) -> None:
    result = tasks.add.apply_async((1, 2), countdown=1)
    result.revoke()
    with pytest.raises(exceptions.TaskRevokedError) as raised:
        result.get(timeout=WAIT)
    assert str(raised.value) == "revoked"
    assert result.state == states.REVOKED
    assert result.ready() and not result.successful() and not result.failed()


def test_revoke_a_finished_task_keeps_its_state(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.delay(3, 4)
    assert result.get(timeout=WAIT) == 7
    result.revoke()
    again = flavour.AsyncResult(result.id)
    assert (again.state, again.get(timeout=WAIT)) == (states.SUCCESS, 7)


def test_expired_in_the_past_is_revoked(tasks: ModuleType) -> None:
    past = dt.datetime.now(UTC) - dt.timedelta(seconds=5)
    result = tasks.add.apply_async((1, 2), expires=past)
    with pytest.raises(exceptions.TaskRevokedError) as raised:
        result.get(timeout=WAIT)
    assert str(raised.value) == "expired"
    assert result.state == states.REVOKED
    assert isinstance(result.result, exceptions.TaskRevokedError)


def test_expires_before_the_countdown_is_revoked(tasks: ModuleType) -> None:
    result = tasks.add.apply_async((1, 2), countdown=1, expires=0.5)
    with pytest.raises(exceptions.TaskRevokedError):
        result.get(timeout=WAIT)
    assert result.state == states.REVOKED


def test_ignore_result_returns_none_at_once(tasks: ModuleType, gate: Gate) -> None:
    assert tasks.quiet.delay(5).get(timeout=0.01) is None
    assert tasks.untracked.apply_async((gate.path,), ignore_result=True).get() is None
    gate.release()


def test_get_inside_a_task_on_the_test_worker(tasks: ModuleType) -> None:
    # Celery's test worker (threads/solo pool) allows it; prefork raises RuntimeError
    assert tasks.join_child.delay().get(timeout=WAIT) == 42


def test_get_in_the_caller_is_not_inside_a_task(tasks: ModuleType) -> None:
    result = tasks.add.delay(1, 1)
    assert result.get(timeout=WAIT, disable_sync_subtasks=True) == 2


def test_retry_state_between_attempts(tasks: ModuleType) -> None:
    result = tasks.retry_once_after.delay(2)
    wait_for_state(result, states.RETRY)
    assert type(result.info) is tasks.Boom and result.info.args == ("wait",)
    assert not result.ready()
    assert result.get(timeout=WAIT) == 1


def test_children_of_a_task_that_called_another(tasks: ModuleType) -> None:
    top = tasks.nest.delay(1)
    child_id = top.get(timeout=WAIT)["child"]
    assert [child.id for child in top.children] == [child_id]


def test_send_task_by_name(tasks: ModuleType, flavour: Flavour) -> None:
    result = flavour.app.send_task(tasks.add.name, (4, 5))
    assert result.get(timeout=WAIT) == 9


def test_wait_is_get(tasks: ModuleType) -> None:
    assert tasks.add.delay(1, 5).wait(timeout=WAIT) == 6


def test_ignore_stores_no_result(tasks: ModuleType) -> None:
    result = tasks.ignored.delay(None)
    with pytest.raises(exceptions.TimeoutError):
        result.get(timeout=1)
    assert result.state == states.PENDING and not result.ready()


def test_ignore_keeps_the_state_set_before(tasks: ModuleType) -> None:
    result = tasks.ignored.delay("SKIPPED")
    wait_for_state(result, "SKIPPED")
    assert result.info == {"why": "ignored"}
    with pytest.raises(exceptions.TimeoutError):
        result.get(timeout=1)
    assert result.state == "SKIPPED" and not result.ready()


def test_exists_of_a_call_not_started(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.apply_async((1, 1), countdown=30)
    try:
        assert result.state == states.PENDING
        # Celery has no record before a worker writes one; pynenc records the call when
        # it is made (docs/celery.md, "Differences kept on purpose")
        assert result.exists() is (flavour.name == "compat")
    finally:
        result.revoke()


def test_forget(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.add.delay(2, 2)
    assert result.get(timeout=WAIT) == 4
    result.forget()
    again = flavour.AsyncResult(result.id)
    if flavour.name == "celery":  # the stored result is deleted: PENDING, as never sent
        assert (again.state, again.result, again.exists()) == (states.PENDING, None, False)
    else:  # pynenc keeps the record until a purge (docs/celery.md, differences kept)
        assert (again.state, again.result, again.exists()) == (states.SUCCESS, 4, True)
