"""The audit's ratings against what the compat layer does: each test rates a use with the
audit and runs the same use on ``pynenc_celery_compat`` (a test worker on ``memory://``, or
the first call of an app), so a rating cannot drift from the behaviour it describes."""

from __future__ import annotations

import itertools
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from pynenc.exceptions import ConfigError
from pynenc_celery_compat import Celery, GroupResult, group
from pynenc_celery_compat.contrib.testing.worker import start_worker
from pynenc_celery_compat.migration.audit import Support, audit_source

OK, DIFF, NO = Support.SUPPORTED, Support.DIFFERENCE, Support.UNSUPPORTED
_names = itertools.count()


def rating(source: str, api: str, path: str = "proj/tasks.py") -> Support:
    found = {f.api: f.support for f in audit_source(textwrap.dedent(source), path=path)}
    return found[api]


def fresh_app(**conf: Any) -> Celery:
    app = Celery(f"truth{next(_names)}", broker="memory://", backend="cache+memory://")
    app.conf.update(conf)
    return app


@pytest.fixture
def app() -> Iterator[Celery]:
    app = fresh_app()
    yield app
    app.close()


def test_group_result_save_and_restore_work_with_a_result_backend(app: Celery) -> None:
    assert (
        rating(
            "from celery.result import GroupResult\nGroupResult.restore('x')\n",
            ("GroupResult.restore()"),
        )
        is OK
    )

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with start_worker(app, pool="threads", perform_ping_check=False):
        saved = group(add.s(1, 1), add.s(2, 2)).delay()
        assert saved.get(timeout=30) == [2, 4]
        saved.save()
        restored = GroupResult.restore(saved.id, app=app)
        assert restored.get(timeout=30) == [2, 4]
        restored.delete()
        assert GroupResult.restore(saved.id, app=app) is None


def test_trail_false_leaves_the_calls_out_of_children(app: Celery) -> None:
    assert (
        rating(
            "from celery import shared_task\n@shared_task(trail=False)\ndef a(): pass\n",
            ("@shared_task(trail=)"),
        )
        is OK
    )

    @app.task
    def child() -> int:
        return 1

    @app.task(trail=False)
    def quiet() -> str:
        return str(child.delay().id)

    @app.task
    def loud() -> str:
        return str(child.delay().id)

    with start_worker(app, pool="threads", perform_ping_check=False):
        called = quiet.delay()
        called.get(timeout=30)
        assert called.children == []
        called = loud.delay()
        child_id = called.get(timeout=30)
        assert [c.id for c in called.children or []] == [child_id]


def test_a_serializer_pynenc_lacks_fails_the_first_call() -> None:
    source = 'CELERY_TASK_SERIALIZER = "msgpack"\n'
    assert rating(source, "CELERY_TASK_SERIALIZER (task_serializer)", "proj/settings.py") is NO
    app = fresh_app(task_serializer="msgpack", accept_content=["msgpack"])

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with warnings.catch_warnings(), pytest.raises(ConfigError, match="msgpack"):
        warnings.simplefilter("ignore")
        add.delay(1, 2)


@pytest.mark.parametrize("backend", [None, "rpc://"])
def test_rabbitmq_without_a_result_backend_fails_the_first_call(backend: str | None) -> None:
    source = 'CELERY_BROKER_URL = "amqp://guest@localhost//"\n'
    if backend is None:
        assert rating(source, "CELERY_BROKER_URL (broker_url)", "proj/settings.py") is NO
    else:
        source += f"CELERY_RESULT_BACKEND = {backend!r}\n"
        api = "CELERY_RESULT_BACKEND (result_backend)"
        assert rating(source, api, "proj/settings.py") is NO
    app = Celery(f"truth{next(_names)}", broker="amqp://guest@localhost//", backend=backend)

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(ConfigError, match="result_backend"):
        add.delay(1, 2)


def test_only_state_backend_url_spares_a_result_backend_pynenc_lacks() -> None:
    source = """
        CELERY_RESULT_BACKEND = "django-db"
        CELERY_PYNENC = {"state_backend": "memory"}
        """
    assert rating(source, "CELERY_RESULT_BACKEND (result_backend)", "proj/settings.py") is NO
    app = fresh_app(result_backend="django-db", pynenc={"state_backend": "memory"})

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(ConfigError, match="django-db"):
        add.delay(1, 2)


def test_celerys_own_test_worker_does_not_run_compat_tasks(app: Celery) -> None:
    from celery.contrib.testing.worker import start_worker as celerys_start_worker

    source = """
        from celery.contrib.testing.worker import start_worker

        def test_it(app):
            with start_worker(app):
                pass
        """
    assert rating(source, "start_worker()", "tests/test_it.py") is DIFF

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with (
        celerys_start_worker(app, pool="solo", perform_ping_check=False),
        pytest.raises(TimeoutError),
    ):
        add.delay(1, 2).get(timeout=1)
    with start_worker(app, pool="solo", perform_ping_check=False):
        assert add.delay(1, 2).get(timeout=30) == 3


# -- "not supported" ratings that are true ------------------------------------------------


def test_what_is_rated_not_supported_fails_or_is_lost(app: Celery) -> None:
    """``self.replace`` fails the task."""
    source = """
        from celery import shared_task

        @shared_task(bind=True)
        def t(self, x):
            raise self.replace(t.s(1))
        """
    found = {f.api: f.support for f in audit_source(textwrap.dedent(source))}
    assert found["self.replace()"] is NO

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(bind=True)
    def replaced(self: Any) -> None:
        raise self.replace(add.s(1, 2))

    with (
        start_worker(app, pool="threads", perform_ping_check=False),
        pytest.raises(NotImplementedError),
    ):
        replaced.delay().get(timeout=30)


def test_retry_arguments_are_supported_and_throw_false_is_a_new_call(app: Celery) -> None:
    """``self.retry(args=)`` runs the retry with them (same id); ``throw=False`` is rated a
    difference: the retry is a new call with an id of its own."""
    source = """
        from celery import shared_task

        @shared_task(bind=True)
        def t(self, x):
            self.retry(args=(x + 1,), throw=False)
        """
    found = {f.api: f.support for f in audit_source(textwrap.dedent(source))}
    assert found["self.retry(args=)"] is OK
    assert found["self.retry(throw=)"] is DIFF

    @app.task(bind=True, max_retries=1)
    def again(self: Any, x: int) -> int:
        if self.request.retries == 0:
            raise self.retry(countdown=0, args=(x + 100,))
        return x

    @app.task(bind=True, max_retries=1)
    def beside(self: Any, x: int) -> int:
        if self.request.retries == 0:
            self.retry(countdown=0, args=(x + 100,), throw=False)
        return x

    with start_worker(app, pool="threads", perform_ping_check=False):
        first = again.delay(1)
        assert first.get(timeout=30) == 101
        original = beside.delay(1)
        assert original.get(timeout=30) == 1
        [retried] = original.children
        assert retried.id != original.id and retried.get(timeout=30) == 101


def test_a_task_id_names_one_call(app: Celery) -> None:
    found = audit_source("import celery\n\ndef f(t):\n    t.apply_async((1,), task_id='x')\n")
    reason = next(f.reason for f in found if f.api == ".apply_async(task_id=)")
    assert "does not run twice" in reason and "refused" in reason
    runs: list[int] = []

    @app.task
    def add(x: int, y: int) -> int:
        runs.append(1)
        return x + y

    with start_worker(app, pool="threads", perform_ping_check=False):
        assert add.apply_async((1, 1), task_id="same").get(timeout=30) == 2
        assert add.apply_async((1, 1), task_id="same").get(timeout=30) == 2
        assert runs == [1]
        with pytest.raises(ValueError, match="same"):
            add.apply_async((2, 2), task_id="same")


def test_celerys_queues_do_not_hold_compat_calls() -> None:
    """pretix and weblate watch their backlog through ``app.broker_connection()`` /
    ``app.connection_or_acquire()``: compat calls wait in pynenc's queue instead."""
    from celery import Celery as CeleryApp

    from pynenc_celery_compat import shared_task
    from pynenc_celery_compat.bridge import pynenc_app_for

    source = """
        from celery import current_app as app

        def backlog():
            with app.connection_or_acquire() as conn:
                return conn.default_channel.queue_declare(queue="celery").message_count
        """
    assert rating(source, "app.connection_or_acquire()") is DIFF
    app = CeleryApp(f"truth{next(_names)}", broker="memory://")
    app.set_current()

    @shared_task(name=f"truth.queued{next(_names)}")
    def add(x: int, y: int) -> int:
        return x + y

    add.delay(1, 2)
    with app.connection_or_acquire() as conn:
        assert conn.default_channel.queue_declare(queue="celery").message_count == 0
    assert pynenc_app_for(app).broker.queue_depth("celery") == 1
