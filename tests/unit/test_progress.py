"""Progress values: what ``set_progress`` accepts, how it is stored, dev sync mode."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from pynenc import Pynenc
from pynenc.invocation.progress import Progress, decode_progress, make_progress, publish, read
from pynenc.state_backend import create_state_backend
from tests.apps import data


def test_a_progress_round_trips_as_json() -> None:
    progress, text = make_progress("PROGRESS", {"done": 3, "total": 10, "steps": (1, 2)}, now=5.0)
    assert progress == Progress("PROGRESS", {"done": 3, "total": 10, "steps": (1, 2)}, 5.0)
    # as readers see it: JSON (tuples come back as lists)
    assert decode_progress(text) == Progress(
        "PROGRESS", {"done": 3, "total": 10, "steps": [1, 2]}, 5.0
    )


@pytest.mark.parametrize("meta", [None, 3, "half", [1, 2], {"nested": {"a": [None, True]}}])
def test_any_json_value_is_a_meta(meta: object) -> None:
    assert decode_progress(make_progress("S", meta)[1]).meta == meta


def test_meta_that_json_cannot_carry_is_refused_naming_the_type() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"JSON-able .* it holds a .*Opaque"):
        make_progress("PROGRESS", {"x": Opaque()})
    with pytest.raises(ValueError, match="NaN or infinity"):
        make_progress("PROGRESS", {"ratio": math.nan})


@pytest.mark.parametrize(
    ("state", "error"),
    [("", ValueError), ("  ", ValueError), ("x" * 201, ValueError), (3, TypeError)],
)
def test_a_bad_state_is_refused(state: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="state"):
        make_progress(state, {})  # type: ignore[arg-type]


def test_publish_replaces_the_previous_progress() -> None:
    backend = create_state_backend("memory://", "unit-progress")
    try:
        assert read(backend, "inv") is None
        publish(backend, "inv", "STARTED")
        publish(backend, "inv", "PROGRESS", {"done": 1})
        last = read(backend, "inv")
        assert last is not None and (last.state, last.meta) == ("PROGRESS", {"done": 1})
    finally:
        backend.purge()


@pytest.fixture
def sync_data_app() -> Iterator[Pynenc]:
    data.app.conf.dev_mode_force_sync_tasks = True
    yield data.app
    data.app.conf.dev_mode_force_sync_tasks = False


def test_progress_in_dev_sync_mode(sync_data_app: Pynenc) -> None:
    invocation = data.report_progress(3)
    assert invocation.result == 3
    progress = invocation.progress
    assert progress is not None and progress.meta == {"done": 3, "total": 3}
    with pytest.raises(TypeError, match="JSON-able"):  # the same check as on a runner
        data.bad_progress().result
