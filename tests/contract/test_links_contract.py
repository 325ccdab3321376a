"""The composition contract (:mod:`pynenc.testing.links_contract`) on memory, SQLite and
Redis (a real server, a fresh database per test)."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from pynenc.records import InvocationRecord, InvocationStatus, Links
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
