"""The pytest plugin ``pynenc_celery_compat.contrib.pytest``, run in pytest sessions of its
own (``pytester``): its fixtures, their overrides, and a truly asynchronous worker on the
broker and result backend ``celery_config`` names (memory, Redis, RabbitMQ + Redis)."""

from __future__ import annotations

import textwrap

import pytest

from tests.servers import Server

pytest_plugins = ["pytester"]

TASKS = """
import os
import time

from pynenc_celery_compat import shared_task


@shared_task(track_started=True)
def sleepy(seconds):
    time.sleep(seconds)
    return seconds


@shared_task
def add(x, y):
    return x + y


@shared_task
def pid():
    return os.getpid()


@shared_task
def join_inside():
    try:
        return add.delay(1, 2).get(timeout=10)
    except RuntimeError as exc:
        return f"RuntimeError: {exc}"
"""

CONFTEST = """
import pytest

pytest_plugins = ["pynenc_celery_compat.contrib.pytest"]


@pytest.fixture(scope="session")
def celery_includes():
    return ["inner_tasks"]
"""

#: Celery's asynchronous-worker check: a 5 s task is still running after 1 s
ASYNC_TEST = """
import time

from pynenc_celery_compat import states

import inner_tasks


def test_a_truly_asynchronous_worker(celery_app, celery_worker):
    result = inner_tasks.sleepy.delay(5)
    time.sleep(1)  # the point of the test: the caller goes on while the task runs
    assert not result.ready()
    assert result.state == states.STARTED
    assert result.get(timeout=60) == 5
"""


def run(pytester: pytest.Pytester, conftest: str, tests: str, passed: int) -> None:
    pytester.makepyfile(inner_tasks=TASKS, test_async=ASYNC_TEST)
    pytester.makeconftest(CONFTEST + textwrap.dedent(conftest))
    pytester.makepyfile(test_inner=textwrap.dedent(tests))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=passed)


def test_the_fixtures_with_their_defaults_on_in_process_backends(pytester: pytest.Pytester) -> None:
    conftest = """
    @pytest.fixture(scope="session")
    def celery_parameters():
        return {"strict_typing": False}
    """
    tests = """
    import pytest
    from celery.contrib.testing.app import UnitLogging

    from pynenc_celery_compat import Celery
    from pynenc_celery_compat.worker import Worker

    import inner_tasks


    def test_the_app_is_a_compat_app_with_celerys_test_settings(celery_app):
        assert isinstance(celery_app, Celery)
        assert celery_app.conf.broker_url == "memory://"
        assert celery_app.conf.result_backend == "cache+memory://"
        assert celery_app.strict_typing is False  # celery_parameters
        assert celery_app.log_cls is UnitLogging  # celery_enable_logging is False


    def test_celerys_documented_example(celery_app, celery_worker):
        @celery_app.task
        def mul(x, y):
            return x * y

        celery_worker.reload()
        assert mul.delay(4, 4).get(timeout=10) == 16


    @pytest.mark.celery(task_default_queue="other")
    def test_the_marker_overrides_the_config(celery_app, celery_worker):
        assert isinstance(celery_worker, Worker)
        assert celery_app.conf.task_default_queue == "other"
        assert celery_worker.queues == ("other",)
        assert inner_tasks.add.delay(1, 2).get(timeout=10) == 3


    def test_a_test_worker_lets_tasks_wait_for_results(celery_app, celery_worker):
        assert inner_tasks.join_inside.delay().get(timeout=20) == 3


    def test_the_session_fixtures(celery_session_app, celery_session_worker):
        assert celery_session_worker.app is celery_session_app
        assert celery_session_worker.pool_cls == "solo"
        assert inner_tasks.add.delay(2, 2).get(timeout=10) == 4
    """
    run(pytester, conftest, tests, passed=6)


def test_threads_pool_and_worker_parameters(pytester: pytest.Pytester) -> None:
    conftest = """
    @pytest.fixture(scope="session")
    def celery_worker_pool():
        return "threads"


    @pytest.fixture(scope="session")
    def celery_worker_parameters():
        return {"concurrency": 3, "queues": ["celery", "extra"], "perform_ping_check": False}


    @pytest.fixture(scope="session")
    def celery_enable_logging():
        return True
    """
    tests = """
    import inner_tasks


    def test_the_worker_takes_its_parameters(celery_app, celery_worker):
        assert celery_worker.pool_cls == "threads" and celery_worker.concurrency == 3
        assert celery_worker.queues == ("celery", "extra")
        assert inner_tasks.add.apply_async((2, 5), queue="extra").get(timeout=10) == 7
        assert celery_app.log_cls != "celery.contrib.testing.app:UnitLogging"
    """
    run(pytester, conftest, tests, passed=2)


@pytest.mark.integration
def test_a_prefork_worker_on_redis(pytester: pytest.Pytester, redis_server: Server) -> None:
    url = redis_server.db_url()
    conftest = f'''
    @pytest.fixture(scope="session")
    def celery_config():
        return {{"broker_url": "{url}", "result_backend": "{url}"}}


    @pytest.fixture(scope="session")
    def celery_worker_pool():
        return "prefork"


    @pytest.fixture(scope="session")
    def celery_worker_parameters():
        return {{"concurrency": 2, "ping_task_timeout": 60}}
    '''
    tests = """
    import os

    import inner_tasks


    def test_tasks_run_in_worker_processes_that_deny_joins(celery_app, celery_worker):
        assert inner_tasks.pid.delay().get(timeout=60) != os.getpid()
        assert inner_tasks.join_inside.delay().get(timeout=60).startswith("RuntimeError")
    """
    run(pytester, conftest, tests, passed=2)


@pytest.mark.integration
def test_a_worker_on_rabbitmq_with_redis_results(
    pytester: pytest.Pytester, redis_server: Server, rabbitmq_server: Server
) -> None:
    broker, backend = rabbitmq_server.url, redis_server.db_url()
    conftest = f'''
    @pytest.fixture(scope="session")
    def celery_config():
        return {{"broker_url": "{broker}", "result_backend": "{backend}"}}


    @pytest.fixture(scope="session")
    def celery_worker_pool():
        return "threads"
    '''
    tests = """
    import inner_tasks


    def test_results_come_back(celery_app, celery_worker):
        assert celery_app.conf.broker_url.startswith("amqp://")
        assert inner_tasks.add.delay(20, 22).get(timeout=60) == 42
    """
    run(pytester, conftest, tests, passed=2)
