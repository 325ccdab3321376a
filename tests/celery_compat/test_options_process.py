"""Task options on a pynenc **process** runner (Redis broker and state backend): the soft
time limit raised inside the task, the request and ``current_task`` in a child process."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.celery_compat import options_tasks as tasks
from tests.servers import Server

TIMEOUT = 90


@pytest.fixture
def process_side(redis_server: Server) -> Iterator[SimpleNamespace]:
    """``COMPAT``'s tasks with a pynenc **process** runner on a fresh Redis database."""
    app = tasks.pynenc_app
    conf = app.conf
    saved = (conf.broker_url, conf.state_backend_url, conf.runner_cls, app.reference)
    url = redis_server.db_url()
    app.reset_components()
    conf.broker_url = url
    conf.state_backend_url = url
    conf.runner_cls = "ProcessRunner"
    app.reference = "tests.celery_compat.options_tasks:pynenc_app"
    try:
        with app.running_in_background(stop_timeout=60):
            yield tasks.COMPAT
    finally:
        app.reset_components()
        conf.broker_url, conf.state_backend_url, conf.runner_cls = saved[:3]
        app.reference = saved[3]


def test_soft_time_limit_is_caught_as_celerys_exception(
    process_side: SimpleNamespace,
) -> None:
    """``except SoftTimeLimitExceeded:`` (Celery's class) catches what pynenc raises."""
    assert process_side.soft_limited.delay(10).get(timeout=TIMEOUT) == "soft limit caught"


def test_request_and_current_task_in_a_child_process(
    process_side: SimpleNamespace,
) -> None:
    result = process_side.request_fields.apply_async((1,), {"k": 2})
    fields = result.get(timeout=TIMEOUT)
    assert fields["id"] == result.id and fields["root_id"] == result.id
    assert (fields["args"], fields["kwargs"]) == ([1], {"k": 2})
    assert fields["current_task_is_self"] and fields["called_directly"] is False


def test_map_and_chunks_in_child_processes(process_side: SimpleNamespace) -> None:
    assert process_side.double.map([1, 2]).delay().get(timeout=TIMEOUT) == [2, 4]
    chunked = process_side.add.chunks([(1, 1), (2, 2), (3, 3)], 2).apply_async()
    assert chunked.get(timeout=TIMEOUT) == [[2, 4], [6]]
