"""What a running task knows of its call: the caller's ``headers``
(``with_options(headers=...)``) and the ``root_id`` of its call tree, on real runners;
stored with the record (a handle from the id reads them), kept by a delayed call."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc import Pynenc
from tests.apps import seams
from tests.integration.seams_helpers import deployed

DEPLOYMENTS = [("memory", "ThreadRunner"), ("sqlite", "ProcessRunner"), ("redis", "ThreadRunner")]


@pytest.mark.parametrize(("kind", "runner_cls"), DEPLOYMENTS)
def test_headers_and_root_on_the_runner(
    kind: str, runner_cls: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    headers = {"trace": "t-1", "nested": {"n": [1, 2.5, None]}, "text": "héllo"}
    with deployed(kind, runner_cls, tmp_path, request) as (app, _, _):
        # a top-level call without headers: its own root, nothing stored for either
        plain = seams.describe()
        view = plain.get_result(timeout=120)
        assert view == {
            "id": plain.invocation_id,
            "parent": None,
            "root": plain.invocation_id,
            "headers": None,
        }
        record = app.state_backend.get(plain.invocation_id)
        assert record is not None and (record.headers, record.root_id) == (None, None)
        # with headers: the running task reads them from its message
        call = seams.describe.with_options(headers=headers)()
        assert call.get_result(timeout=120)["headers"] == headers
        assert call.headers == headers  # the caller's handle reads the record
        # a tree three levels deep, then a leaf with headers of its own
        top = seams.nest(2)
        levels = top.get_result(timeout=120)
        assert [level["root"] for level in levels] == [top.invocation_id] * 4
        assert levels[0]["parent"] is None
        assert [level["parent"] for level in levels[1:]] == [lv["id"] for lv in levels[:-1]]
        assert [level["headers"] for level in levels] == [None, None, None, {"level": "leaf"}]
        # stored: the root only where the parent is not the root (levels 2 and 3)
        stored = [app.state_backend.get(level["id"]) for level in levels]
        assert [r.root_id for r in stored if r is not None] == [
            None,
            None,
            top.invocation_id,
            top.invocation_id,
        ]
        # handles from the id alone, in an app object with no tasks
        bare = Pynenc(
            app_id=app.app_id,
            config_values={
                "broker_url": app.conf.broker_url,
                "state_backend_url": app.conf.state_backend_url,
            },
        )
        for level in levels:
            handle = bare.invocation(level["id"])
            assert (handle.root_id, handle.parent_id, handle.headers) == (
                level["root"],
                level["parent"],
                level["headers"],
            )
        bare.reset_components()
        # a delayed call is published later from its record: the headers go along
        delayed = seams.describe.with_options(delay=0.3, headers={"late": True})()
        assert delayed.get_result(timeout=120)["headers"] == {"late": True}
