"""A compat canvas on a pynenc **process** runner (Redis broker and state backend): each step
runs in a child process, receives what it waited for there, and error callbacks get
Celery's request there too."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from celery.exceptions import ChordError

from pynenc_celery_compat import chain, chord, group
from tests.celery_compat import canvas_tasks as tasks
from tests.celery_compat.canvas_fixtures import REDIS_LINKS, WAIT, configured, notes_in
from tests.celery_compat.canvas_tasks import read_note
from tests.servers import Server

pytestmark = pytest.mark.skipif(
    not REDIS_LINKS, reason="the Redis state backend settles no links yet"
)
T = WAIT * 1.5


@pytest.fixture(scope="module")
def process_canvas(
    redis_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    with (
        notes_in(tmp_path_factory.mktemp("notes")),
        configured(redis_server.db_url(), "ProcessRunner") as app,
        app.running_in_background(stop_timeout=WAIT),
    ):
        yield tasks


def test_chains_groups_and_chords_in_child_processes(process_canvas: ModuleType) -> None:
    t = process_canvas
    steps = chain(t.add.s(1, 1), group(t.add.s(1), t.add.s(2)), t.tsum.s(), t.mul.s(10))
    result = steps.delay()
    assert result.get(timeout=T) == 70 and result.parent.get(timeout=T) == 7
    body = chord([t.add.s(i, i) for i in range(4)], t.echo.s("x")).delay()
    assert body.get(timeout=T) == [[[0, 2, 4, 6], "x"], {}]


def test_callbacks_in_child_processes(process_canvas: ModuleType) -> None:
    t = process_canvas
    linked = t.add.apply_async((2, 3), link=t.note.s("process-link"))
    assert linked.get(timeout=T) == 5 and read_note("process-link", T) == 5
    failing = chain(t.add.s(1, 1), t.boom.s()).on_error(t.errback_new.s("process-errback"))
    result = failing.delay()
    with pytest.raises(ValueError):
        result.get(timeout=T)
    seen = read_note("process-errback", T)
    assert (seen["id"], seen["args"], seen["exc_type"]) == (result.id, [2], "ValueError")
    body = chord([t.boom.s()], t.tsum.s()).apply_async(link_error=t.errback_old.s())
    with pytest.raises(ValueError):
        body.get(timeout=T)
    assert isinstance(body.result, ChordError) and read_note(f"old-{body.id}", T) == body.id
