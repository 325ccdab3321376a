"""A real ``celery.Celery`` app on Redis: its compat tasks run on pynenc runners started for
that app (in this process, and through ``pynenc --app pynenc_celery_compat.apps:…`` in
another), and their results are read back through the app."""

import os
from collections.abc import Iterator
from pathlib import Path

import celery
import pytest

from pynenc_celery_compat import AsyncResult, states
from pynenc_celery_compat.bridge import pynenc_app_for, reset_pynenc_app
from tests.celery_compat import config_mixed
from tests.celery_compat import config_tasks as tasks
from tests.celery_compat.config_fixtures import keep_current_celery_app
from tests.integration.deployments import ROOT, Deployment, RunnerProcess
from tests.servers import Server

__all__ = ["keep_current_celery_app"]

pytestmark = pytest.mark.integration


def test_a_runner_in_this_process(redis_server: Server) -> None:
    url = redis_server.db_url()
    app = celery.Celery("config_redis", broker=url, backend=url)
    pynenc = pynenc_app_for(app)
    assert (pynenc.conf.broker_url, pynenc.conf.state_backend_url) == (url, url)
    with pynenc.running_in_background():
        result = tasks.multiply.delay(6, 7)
        assert result.get(timeout=60) == 42
        again = AsyncResult(result.id, app=app)
        assert again.state == states.SUCCESS and again.result == 42
        assert tasks.multiply.AsyncResult(result.id).get(timeout=10) == 42
    reset_pynenc_app(app)


class CeleryEnvironment(Deployment):
    """A runner process configured by Celery's environment variables alone."""

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYNENC", "CELERY"))}
        env.update(
            CELERY_BROKER_URL=self.broker_url,
            CELERY_RESULT_BACKEND=self.state_backend_url,
            PYTHONPATH=str(ROOT),
        )
        return env


@pytest.fixture
def mixed_app(redis_server: Server) -> Iterator[celery.Celery]:
    app = config_mixed.app
    url = redis_server.db_url()
    app.conf.update(broker_url=url, result_backend=url)
    app.set_current()
    yield app
    app.conf.update(broker_url=None, result_backend=None)
    reset_pynenc_app(app)


@pytest.mark.parametrize("runner_cls", ["ThreadRunner", "PersistentProcessRunner"])
def test_a_runner_started_for_the_celery_app(
    mixed_app: celery.Celery, runner_cls: str, tmp_path: Path
) -> None:
    url = mixed_app.conf.broker_url
    runner = RunnerProcess(
        CeleryEnvironment("celery-env", url, url),
        runner_cls,
        log=tmp_path / "runner.log",
        app_ref="pynenc_celery_compat.apps:tests.celery_compat.config_mixed:app",
    ).start()
    try:
        result = tasks.multiply.delay(6, 7)
        assert result.get(timeout=120) == 42, runner.log_tail()
        assert AsyncResult(result.id, app=mixed_app).state == states.SUCCESS
        # in the runner, the task's app is the project's, found by the reference
        assert tasks.app_seen.delay().get(timeout=120) == ["config_mixed", "UTC"]
    finally:
        assert runner.stop() == 0, runner.log_tail()
