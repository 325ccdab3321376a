"""The bound ``self.request`` on a worker: every field callers read."""

from __future__ import annotations

import datetime as dt
import socket
from types import ModuleType

from tests.celery_compat.sidebyside.conftest import WAIT, Flavour

UTC = dt.UTC


def test_request_fields(tasks: ModuleType, flavour: Flavour) -> None:
    result = tasks.request_info.delay(1, "two", three=3)
    info = result.get(timeout=WAIT)
    assert info["id"] == result.id
    assert info["task"] == info["name"] == f"{tasks.__name__}.request_info"
    assert info["args"] == [1, "two"] and type(info["args"]) is list
    assert info["kwargs"] == {"three": 3}
    assert info["retries"] == 0
    assert (info["is_eager"], info["called_directly"]) == (False, False)
    # "node@host" on a prefork worker and on pynenc; the threads test worker gives the host
    assert info["hostname"].rpartition("@")[2] == socket.gethostname()
    assert info["parent_id"] is None
    assert info["root_id"] == result.id
    assert (info["eta"], info["expires"]) == (None, None)
    assert info["max_retries"] == 3


def test_delivery_info(tasks: ModuleType) -> None:
    info = tasks.request_info.delay().get(timeout=WAIT)
    delivery = info["delivery_info"]
    assert sorted(delivery) == ["exchange", "priority", "redelivered", "routing_key"]
    assert delivery["exchange"] == ""
    assert delivery["routing_key"] == "celery"
    assert delivery["redelivered"] is False
    assert delivery["priority"] == 0


def test_delivery_info_priority(tasks: ModuleType) -> None:
    info = tasks.request_info.apply_async(priority=5).get(timeout=WAIT)
    assert info["delivery_info"]["priority"] == 5


def test_delivery_info_follows_the_queue(tasks: ModuleType, flavour: Flavour) -> None:
    info = tasks.request_info.apply_async(queue="celery").get(timeout=WAIT)
    assert info["delivery_info"]["routing_key"] == "celery"


def test_expires_shows_in_the_request(tasks: ModuleType) -> None:
    expires = dt.datetime.now(UTC) + dt.timedelta(minutes=5)
    info = tasks.request_info.apply_async(expires=expires).get(timeout=WAIT)
    assert abs(dt.datetime.fromisoformat(info["expires"]) - expires) < dt.timedelta(seconds=0.01)
    assert info["eta"] is None


def test_parent_and_root_ids_of_nested_calls(tasks: ModuleType, flavour: Flavour) -> None:
    top = tasks.nest.delay(2)
    first = top.get(timeout=WAIT)
    middle = flavour.AsyncResult(first["child"]).get(timeout=WAIT)
    bottom = flavour.AsyncResult(middle["child"]).get(timeout=WAIT)
    assert (first["parent_id"], first["root_id"]) == (None, top.id)
    assert (middle["id"], middle["parent_id"], middle["root_id"]) == (
        first["child"],
        top.id,
        top.id,
    )
    assert (bottom["id"], bottom["parent_id"], bottom["root_id"]) == (
        middle["child"],
        middle["id"],
        top.id,
    )
    assert bottom["child"] is None


def test_called_directly(tasks: ModuleType) -> None:
    info = tasks.request_info(5)
    assert (info["id"], info["is_eager"], info["called_directly"]) == (None, False, True)
    assert (info["hostname"], info["delivery_info"], info["retries"]) == (None, None, 0)
    assert info["args"] == (5,)


def test_current_task_is_the_running_task(tasks: ModuleType) -> None:
    result = tasks.request_info.delay()
    assert result.get(timeout=WAIT)["current_task_id"] == result.id
