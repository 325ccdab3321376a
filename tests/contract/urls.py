"""The URLs the contract suites run on, by kind, for one test (a file, a fresh database)."""

from __future__ import annotations

import pytest


def broker_url_for(kind: str, request: pytest.FixtureRequest) -> str:
    """A broker URL of ``kind`` (memory, sqlite, redis, amqp) for the test of ``request``."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path')}/broker.db"
    if kind == "redis":
        return str(request.getfixturevalue("redis_server").db_url())
    return str(request.getfixturevalue(f"{kind}_url"))
