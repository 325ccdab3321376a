"""The composition contract (:mod:`pynenc.testing.links_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pynenc.records import (
    ON_FAILURE,
    InvocationRecord,
    InvocationStatus,
    Links,
    StatusEntry,
    StatusUpdate,
)
from pynenc.state_backend import create_state_backend
from pynenc.testing.links_contract import LinksContract
from pynenc.testing.links_cross_process import CrossProcessLinksContract
from tests.contract.test_state_backend_contract import BACKENDS, CROSS_PROCESS

S = InvocationStatus


class TestLinks(LinksContract):
    """Runs the composition contract on every backend in ``BACKENDS``."""

    @pytest.fixture(params=list(BACKENDS))
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


class TestSharedLinks(CrossProcessLinksContract):
    """Runs the several-process composition contract on every backend in ``CROSS_PROCESS``."""

    @pytest.fixture(params=CROSS_PROCESS)
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        return BACKENDS[request.param](request)


def test_sqlite_purge_forgets_the_links(tmp_path: Path) -> None:
    """What waits and the counts are dropped with the app's invocations (SQLite tables)."""
    backend = create_state_backend(f"sqlite:///{tmp_path}/state.db", "purged")
    parent, child = uuid.uuid4().hex, uuid.uuid4().hex
    backend.register(
        [
            InvocationRecord(parent, "mod.task", {}, queue="q"),
            InvocationRecord(
                child, "mod.next", {}, status=S.WAITING, queue="q", links=Links(after=(parent,))
            ),
        ],
        10.0,
    )
    assert _link_rows(tmp_path) == (1, 1)
    backend.purge()
    assert _link_rows(tmp_path) == (0, 0)
    backend.close()


def _link_rows(tmp_path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(tmp_path / "state.db")) as conn:
        (waits,) = conn.execute("SELECT count(*) FROM pynenc_link_waits").fetchone()
        (counts,) = conn.execute("SELECT count(*) FROM pynenc_link_counts").fetchone()
    return waits, counts


def _links_into_meta(kind: str, url: str, backend: Any, invocation_id: str) -> None:
    """Store the links of ``invocation_id`` as a pynenc that kept them in the meta did."""
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(url, decode_responses=True)
        key = backend.prefix + "inv:" + invocation_id
        meta, links = client.hmget(key, "meta", "links")
        old = {**json.loads(meta or "{}"), "links": json.loads(links)}
        client.hset(key, "meta", json.dumps(old))
        client.hdel(key, "links")
        client.close()
        return
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        meta, links = conn.execute(
            "SELECT meta, links FROM pynenc_invocations WHERE invocation_id = ?",
            (invocation_id,),
        ).fetchone()
        old = {**json.loads(meta or "{}"), "links": json.loads(links)}
        conn.execute(
            "UPDATE pynenc_invocations SET meta = ?, links = NULL WHERE invocation_id = ?",
            (json.dumps(old), invocation_id),
        )
        conn.commit()


@pytest.mark.parametrize("kind", CROSS_PROCESS)
def test_links_an_older_pynenc_kept_in_the_meta_are_read_and_settled(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Records stored before the links were kept apart from the meta: read with their
    links, and settled by them (an error callback, whose links the backend decodes)."""
    url = BACKENDS[kind](request)
    backend = create_state_backend(url, f"old-links-{uuid.uuid4().hex[:6]}")
    step, errback = uuid.uuid4().hex, uuid.uuid4().hex
    links = Links(after=(step,), on=ON_FAILURE)
    backend.register(
        [
            InvocationRecord(step, "mod.task", {}, queue="q", links=Links(then=(errback,))),
            InvocationRecord(
                errback, "mod.cb", {}, status=S.WAITING, queue="q", serializer="pickle",
                links=links,
            ),
        ],
        10.0,
    )  # fmt: skip
    try:
        _links_into_meta(kind, url, backend, errback)
        stored = backend.get(errback)
        assert stored is not None and stored.links == links and stored.serializer == "pickle"
        (light,) = backend.get_many_without_links([errback])
        assert light is not None and light.links is None and light.serializer == "pickle"
        claim = StatusUpdate(step, frozenset({S.REGISTERED}), StatusEntry(S.RUNNING, 50.0, "r"))
        assert backend.set_status(replace(claim, owner="r"))
        failed = StatusEntry(S.FAILED, 100.0, "r", None)
        error = {"type": "builtins.ValueError", "message": "x", "args": ['"x"'], "attrs": {}}
        update = StatusUpdate(step, frozenset({S.RUNNING}), failed, expected_owner="r")
        assert backend.set_status(replace(update, error=error))
        released = backend.get(errback)
        assert released is not None and released.status is S.SCHEDULED
    finally:
        backend.close()
