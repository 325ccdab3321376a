"""pytest fixtures mirroring ``celery.contrib.pytest``, for compat tasks on a pynenc worker.

Enable it in your top-level ``conftest.py``::

    pytest_plugins = ["pynenc_celery_compat.contrib.pytest"]

It is not registered automatically (no ``pytest11`` entry point): its fixtures have
Celery's names, and Celery's plugin may be enabled in the same environment. Load one of
the two in a test session.

Overridable (session-scoped, as Celery's): ``celery_config`` (settings of the test app;
default ``memory://`` broker and ``cache+memory://`` results, pynenc's in-process
backends), ``celery_parameters`` (``Celery(...)`` arguments), ``celery_includes`` (modules
the worker imports), ``celery_worker_pool`` (``"solo"`` by default; ``"threads"``;
``"prefork"`` for worker processes, which needs Redis, RabbitMQ + Redis or SQLite),
``celery_worker_parameters`` (``start_worker`` arguments: ``concurrency``, ``queues``, …),
``celery_enable_logging``, ``celery_class_tasks``, ``use_celery_app_trap``. A test's
``@pytest.mark.celery(**settings)`` overrides ``celery_config`` for its app.

Fixtures: ``celery_app`` and ``celery_worker`` (per test), ``celery_session_app`` and
``celery_session_worker`` (per session), ``depends_on_current_app``. The app is this
package's ``Celery``: ``@celery_app.task`` makes compat tasks, also inside a test function
(such a task runs on ``solo``/``threads`` workers; worker processes cannot import it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from copy import deepcopy
from typing import Any

import pytest

#: Celery's switch: set, the worker fixtures start no worker
NO_WORKER = os.environ.get("NO_WORKER")

#: the test app's settings before ``celery_config`` (Celery's test defaults)
DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "worker_hijack_root_logger": False,
    "worker_log_color": False,
    "accept_content": ["json"],
    "enable_utc": True,
    "timezone": "UTC",
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
    "broker_heartbeat": 0,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "celery(**overrides): override celery configuration for a test case"
    )


@contextlib.contextmanager
def _create_app(
    enable_logging: bool = False,
    use_trap: bool = False,
    parameters: Mapping[str, Any] | None = None,
    **config: Any,
) -> Iterator[Any]:
    """A compat test app with ``config`` over Celery's test defaults; the previous current
    and default apps come back afterwards."""
    from celery.contrib.testing.app import UnitLogging, setup_default_app

    from pynenc_celery_compat import Celery

    parameters = dict(parameters or {})
    settings = {**deepcopy(DEFAULT_TEST_CONFIG), **config}
    if parameters.get("broker") is not None:
        settings.pop("broker_url", None)
    if parameters.get("backend") is not None:
        settings.pop("result_backend", None)
    if not enable_logging:
        parameters.setdefault("log", UnitLogging)
    main = parameters.pop("name", None) or parameters.pop("main", None) or "celery.tests"
    app = Celery(main, set_as_current=False, **parameters)
    # as changes, not defaults: a prefork worker's processes get them with the app
    app.conf.update(settings)
    try:
        with setup_default_app(app, use_trap=use_trap):
            yield app
    finally:
        _close_pynenc(app)


def _close_pynenc(app: Any) -> None:
    """Close the connections of ``app``'s pynenc app, when it was built."""
    from pynenc_celery_compat.bridge import built_pynenc_app

    pynenc = built_pynenc_app(app)
    if pynenc is None:
        return
    for name in ("broker", "state_backend"):
        component = pynenc.__dict__.get(name)
        if component is not None:
            with contextlib.suppress(Exception):  # closing is best effort at teardown
                component.close()


def _config(request: pytest.FixtureRequest, celery_config: Mapping[str, Any]) -> dict[str, Any]:
    mark = request.node.get_closest_marker("celery")
    return {**celery_config, **(mark.kwargs if mark else {})}


@pytest.fixture(scope="session")
def use_celery_app_trap() -> bool:
    """Override to return ``True``: anything using the current or default app then fails."""
    return False


@pytest.fixture(scope="session")
def celery_enable_logging() -> bool:
    """Override to return ``True``: the test app sets up logging as Celery's app does."""
    return False


@pytest.fixture(scope="session")
def celery_includes() -> Sequence[str]:
    """Override: modules the worker imports (task modules, signal handlers, …)."""
    return ()


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    """Override: the worker's pool, ``"solo"`` (default), ``"threads"`` or ``"prefork"``."""
    return "solo"


@pytest.fixture(scope="session")
def celery_config() -> Mapping[str, Any]:
    """Override: settings of the test app (``broker_url``, ``result_backend``, …)."""
    return {}


@pytest.fixture(scope="session")
def celery_parameters() -> Mapping[str, Any]:
    """Override: arguments of the test app's ``Celery(...)``."""
    return {}


@pytest.fixture(scope="session")
def celery_worker_parameters() -> Mapping[str, Any]:
    """Override: arguments of ``start_worker`` (``concurrency``, ``queues``, …)."""
    return {}


@pytest.fixture(scope="session")
def celery_class_tasks() -> Sequence[Any]:
    """Override: class-based tasks to register on the session app."""
    return []


@pytest.fixture(scope="session")
def celery_session_app(
    request: pytest.FixtureRequest,
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_enable_logging: bool,
    use_celery_app_trap: bool,
) -> Iterator[Any]:
    """The test app, one for the session (current and default app unless trapped)."""
    with _create_app(
        celery_enable_logging,
        use_celery_app_trap,
        celery_parameters,
        **_config(request, celery_config),
    ) as app:
        if not use_celery_app_trap:
            app.set_default()
            app.set_current()
        yield app


@pytest.fixture(scope="session")
def celery_session_worker(
    request: pytest.FixtureRequest,
    celery_session_app: Any,
    celery_includes: Sequence[str],
    celery_class_tasks: Sequence[Any],
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[Any]:
    """A worker for ``celery_session_app``, running the whole session."""
    from pynenc_celery_compat.contrib.testing.worker import start_worker

    if NO_WORKER:
        yield None
        return
    for module in celery_includes:
        celery_session_app.loader.import_task_module(module)
    for class_task in celery_class_tasks:
        celery_session_app.register_task(class_task)
    with start_worker(
        celery_session_app, pool=celery_worker_pool, **celery_worker_parameters
    ) as worker:
        yield worker


@pytest.fixture
def celery_app(
    request: pytest.FixtureRequest,
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_enable_logging: bool,
    use_celery_app_trap: bool,
) -> Iterator[Any]:
    """A test app for this test (not made current: ``depends_on_current_app`` does that)."""
    with _create_app(
        celery_enable_logging,
        use_celery_app_trap,
        celery_parameters,
        **_config(request, celery_config),
    ) as app:
        yield app


@pytest.fixture
def celery_worker(
    request: pytest.FixtureRequest,
    celery_app: Any,
    celery_includes: Sequence[str],
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[Any]:
    """A worker for ``celery_app`` while the test runs (call ``celery_worker.reload()``
    after defining tasks in the test, as Celery's documentation does: harmless here)."""
    from pynenc_celery_compat.contrib.testing.worker import start_worker

    if NO_WORKER:
        yield None
        return
    for module in celery_includes:
        celery_app.loader.import_task_module(module)
    with start_worker(celery_app, pool=celery_worker_pool, **celery_worker_parameters) as worker:
        yield worker


@pytest.fixture
def depends_on_current_app(celery_app: Any) -> None:
    """Make ``celery_app`` the current app for this test."""
    celery_app.set_current()


__all__ = [
    "celery_app",
    "celery_class_tasks",
    "celery_config",
    "celery_enable_logging",
    "celery_includes",
    "celery_parameters",
    "celery_session_app",
    "celery_session_worker",
    "celery_worker",
    "celery_worker_parameters",
    "celery_worker_pool",
    "depends_on_current_app",
    "pytest_configure",
    "use_celery_app_trap",
]
