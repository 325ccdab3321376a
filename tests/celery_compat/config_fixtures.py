"""Fixtures of the settings tests (imported by test_config_*.py)."""

from collections.abc import Iterator

import pytest
from celery import _state

from pynenc_celery_compat import config


@pytest.fixture(autouse=True)
def keep_current_celery_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Creating a Celery app makes it the current one: give it back after each test, so
    shared tasks of other test modules keep calling through their own app."""
    monkeypatch.setattr(_state, "default_app", _state.default_app)
    monkeypatch.setattr(_state._tls, "current_app", _state._tls.current_app, raising=False)
    yield


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget which settings were warned about in this process."""
    monkeypatch.setattr(config, "_warned", set())
