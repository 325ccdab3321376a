"""``self.request`` on a pynenc runner: Celery's worker-side fields, and no state-backend
read for the fields only the stored record has unless the task reads them."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.celery_compat import runner_request_tasks as tasks


@pytest.fixture
def record_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Ids whose record a runner thread read while the test ran (caller reads not counted)."""
    orchestrator = tasks.app.pynenc.orchestrator
    original = orchestrator.get_record
    reads: list[str] = []
    caller = threading.current_thread()

    def counting(invocation_id: str) -> Any:
        if threading.current_thread() is not caller:
            reads.append(invocation_id)
        return original(invocation_id)

    monkeypatch.setattr(orchestrator, "get_record", counting)
    with tasks.app.pynenc.running_in_background():
        yield reads


def test_a_task_that_reads_no_record_field_costs_no_read(record_reads: list[str]) -> None:
    result = tasks.plain.delay(4)
    assert result.get(timeout=30) == [result.id, 0, 4]
    assert result.id not in record_reads


def test_the_request_carries_celerys_worker_fields(record_reads: list[str]) -> None:
    result = tasks.describe.apply_async((1,), countdown=0.2, expires=600, queue="celery")
    fields = result.get(timeout=30)
    assert fields["id"] == fields["root_id"] == result.id
    assert fields["args"] == [1] and fields["retries"] == 0
    assert fields["is_eager"] is False and fields["called_directly"] is False
    assert fields["hostname"].startswith("pynenc@")
    assert fields["parent_id"] is None
    assert fields["headers"] is None  # no custom headers, as on a Celery worker
    assert fields["delivery_info"] == {
        "exchange": "",
        "routing_key": "celery",
        "priority": 0,  # as a Celery worker on Redis reports an unset priority
        "redelivered": False,
    }
    assert fields["eta"] is not None and fields["eta"] == fields["eta_again"]
    assert fields["expires"] is not None and fields["expires"] > fields["eta"]
    assert record_reads.count(result.id) == 1  # read once, for every record field
