"""The audit on code written the way real projects write it (found by running it on Celery
projects from PyPI): names that only look like Celery's, settings of other libraries,
settings whose meaning depends on another setting."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pynenc_celery_compat.migration.audit import Support, audit_paths, audit_source

OK, DIFF, NO = Support.SUPPORTED, Support.DIFFERENCE, Support.UNSUPPORTED


def found(source: str, path: str = "proj/tasks.py") -> list[tuple[int, str, Support]]:
    return [(f.line, f.api, f.support) for f in audit_source(textwrap.dedent(source), path=path)]


def tree(root: Path, files: dict[str, str]) -> list[tuple[str, int, str, Support]]:
    for name, source in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(source))
    report = audit_paths([root])
    assert report.errors == {}
    return [
        (Path(f.path).relative_to(root).as_posix(), f.line, f.api, f.support)
        for f in report.findings
    ]


# -- names that only look like Celery's ------------------------------------------------------


def test_parameters_and_local_targets_shadow_the_modules_app() -> None:
    """A function's parameter, a loop's or a ``with``'s target named ``app`` is not the
    module's Celery app (``def init_app(app): app.config[...]`` is Flask's)."""
    assert found(
        """
        from celery import Celery

        app = Celery("x")


        def init_flask(app):
            app.config["X"] = 1
            return app.test_client()


        def loops(apps):
            for app in apps:
                app.run()
            with open("f") as app:
                app.read()
            handlers = [lambda app: app.name]
            return [app.name for app in apps], handlers


        class Service:
            def __init__(self, app):
                app.run()


        app.send_task("other.task")
        """
    ) == [
        (2, "celery.Celery", DIFF),
        (4, "Celery()", DIFF),
        (26, "app.send_task()", DIFF),
    ]


def test_flasks_current_app_is_not_a_celery_app() -> None:
    source = """
        from celery import shared_task
        from flask import current_app, jsonify
        from sentry_sdk.integrations import celery as sentry_celery


        @shared_task
        def index():
            current_app.logger.info("hi")
            sentry_celery.CeleryIntegration()
            return jsonify(current_app.config["X"])
        """
    assert found(source) == [(2, "celery.shared_task", OK), (7, "@shared_task", OK)]


def test_unknown_members_of_an_app_the_audit_could_not_trace_are_not_rated(
    tmp_path: Path,
) -> None:
    """``from app import app`` (a script's sibling, read under another module name, or
    code not given to the audit): its members count only when they are Celery's."""
    assert tree(
        tmp_path,
        {
            "web/__init__.py": "",
            "web/app.py": "from flask import Flask\napp = Flask(__name__)\n",
            "web/main.py": """
                from app import app

                app.run()
                app.config_from_object("celeryconfig")
                """,
        },
    ) == [("web/main.py", 5, "app.config_from_object()", OK)]


def test_the_compat_apps_pynenc_attribute_is_rated() -> None:
    assert found(
        """
        from pynenc_celery_compat import Celery

        app = Celery("x")
        app.pynenc.running_in_background()
        """
    ) == [
        (2, "pynenc_celery_compat.Celery", OK),
        (4, "Celery()", OK),
        (5, "app.pynenc", OK),
    ]


# -- settings -------------------------------------------------------------------------------


def test_celery_prefixed_settings_of_other_libraries_do_not_block() -> None:
    """django-celery-email reads ``CELERY_EMAIL_BACKEND``: Celery ignores it, so does the
    compat layer; the settings module is not blocked by it."""
    findings = audit_source(
        textwrap.dedent(
            """
            INSTALLED_APPS = ["djcelery_email"]
            CELERY_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            CELERY_EMAIL_TASK_CONFIG = {"queue": "email"}
            CELERY_BROKER_URL = "redis://localhost"
            """
        ),
        path="proj/settings.py",
    )
    assert [(f.line, f.api, f.support) for f in findings] == [
        (3, "CELERY_EMAIL_BACKEND", OK),
        (4, "CELERY_EMAIL_TASK_CONFIG", OK),
        (5, "CELERY_BROKER_URL (broker_url)", OK),
    ]
    assert "not one of Celery's settings" in findings[0].reason
    assert found(
        """
        from django.test import override_settings

        @override_settings(CELERY_EMAIL_CHUNK_SIZE=2)
        def test_chunks():
            pass
        """,
        path="tests/test_mail.py",
    ) == [(4, "override_settings(CELERY_EMAIL_CHUNK_SIZE=)", OK)]


def settings_of(source: str, path: str = "proj/settings.py") -> dict[str, Support]:
    return {
        f.api: f.support
        for f in audit_source(textwrap.dedent(source), path=path)
        if f.feature == "settings"
    }


def test_a_broker_pynenc_cannot_keep_states_in_needs_a_result_backend() -> None:
    """With RabbitMQ (or SQS…) and no result backend or ``rpc://``, the first call raises
    ``ConfigError``: pynenc has nowhere to keep the calls' states."""
    assert settings_of('CELERY_BROKER_URL = "amqp://guest@localhost//"\n') == {
        "CELERY_BROKER_URL (broker_url)": NO
    }
    assert settings_of(
        'CELERY_BROKER_URL = "amqp://guest@localhost//"\nCELERY_RESULT_BACKEND = "rpc://"\n'
    ) == {"CELERY_BROKER_URL (broker_url)": OK, "CELERY_RESULT_BACKEND (result_backend)": NO}
    assert settings_of(
        'CELERY_BROKER_URL = "amqp://localhost//"\nCELERY_RESULT_BACKEND = "redis://r/1"\n'
    ) == {"CELERY_BROKER_URL (broker_url)": OK, "CELERY_RESULT_BACKEND (result_backend)": OK}
    assert settings_of(
        'CELERY_BROKER_URL = "sqs://"\nCELERY_PYNENC = {"state_backend_url": "redis://r/2"}\n'
    ) == {"CELERY_BROKER_URL (broker_url)": OK, "CELERY_PYNENC (pynenc)": OK}
    # a Redis broker keeps the states itself; a value read at run time is not judged
    assert settings_of('CELERY_BROKER_URL = "redis://r/0"\nCELERY_RESULT_BACKEND = "rpc://"\n') == {
        "CELERY_BROKER_URL (broker_url)": OK,
        "CELERY_RESULT_BACKEND (result_backend)": OK,
    }
    assert settings_of('import os\nCELERY_BROKER_URL = os.environ["BROKER"]\n') == {
        "CELERY_BROKER_URL (broker_url)": OK
    }
    source = 'from celery import Celery\napp = Celery("p", broker="amqp://localhost//")\n'
    assert settings_of(source, path="proj/celery.py") == {"Celery(broker=)": NO}


def test_a_result_backend_set_in_another_module_counts(tmp_path: Path) -> None:
    findings = tree(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/celery.py": """
                from celery import Celery

                app = Celery("proj", broker="amqp://localhost//")
                app.config_from_object("proj.celeryconfig")
                """,
            "proj/celeryconfig.py": 'result_backend = "redis://localhost/1"\n',
        },
    )
    assert ("proj/celery.py", 4, "Celery(broker=)", OK) in findings


def test_only_state_backend_url_in_the_pynenc_setting_replaces_a_result_backend() -> None:
    assert (
        settings_of(
            'CELERY_RESULT_BACKEND = "django-db"\nCELERY_PYNENC = {"state_backend": "redis"}\n'
        )["CELERY_RESULT_BACKEND (result_backend)"]
        == NO
    )
    assert (
        settings_of(
            'CELERY_RESULT_BACKEND = "django-db"\n'
            'CELERY_PYNENC = {"state_backend_url": "redis://r/2"}\n'
        )["CELERY_RESULT_BACKEND (result_backend)"]
        == DIFF
    )


def test_a_serializer_pynenc_does_not_have_blocks() -> None:
    """``task_serializer="msgpack"`` is a ``ConfigError`` at the first call until it is
    registered with pynenc; an extra name in ``accept_content`` is only not accepted."""
    assert settings_of('CELERY_TASK_SERIALIZER = "msgpack"\n') == {
        "CELERY_TASK_SERIALIZER (task_serializer)": NO
    }
    assert settings_of('CELERY_ACCEPT_CONTENT = ["json", "msgpack"]\n') == {
        "CELERY_ACCEPT_CONTENT (accept_content)": DIFF
    }


# -- decorators, results, testing ----------------------------------------------------------


def test_trail_is_honoured_as_celery_does() -> None:
    assert (5, "@shared_task(trail=)", OK) in found(
        """
        from celery import shared_task


        @shared_task(trail=False)
        def quiet():
            pass
        """
    )


def test_group_results_saved_in_celerys_result_backend_are_supported() -> None:
    findings = found(
        """
        from celery.result import GroupResult

        def status(group_id):
            saved = GroupResult.restore(group_id)
            saved.save()
            saved.delete()
            return saved
        """
    )
    assert (5, "GroupResult.restore()", OK) in findings
    assert [f for f in findings if f[2] is not OK] == []


def test_allow_join_result_says_what_it_does() -> None:
    findings = audit_source(
        "from celery.result import allow_join_result\n\nwith allow_join_result():\n    pass\n"
    )
    assert [(f.api, f.support) for f in findings] == [
        ("celery.result.allow_join_result", OK),
        ("allow_join_result()", OK),
    ]
    assert "allow" in findings[1].reason and "waits for the call" not in findings[1].reason


def test_celerys_own_start_worker_does_not_run_compat_tasks() -> None:
    assert found(
        """
        from celery.contrib.testing.worker import start_worker as celerys
        from pynenc_celery_compat.contrib.testing.worker import start_worker

        def test_it(app):
            with celerys(app):
                pass
            with start_worker(app):
                pass
        """,
        path="tests/test_it.py",
    ) == [
        (2, "celery.contrib.testing.worker.start_worker as celerys", OK),
        (3, "pynenc_celery_compat.contrib.testing.worker.start_worker", OK),
        (6, "start_worker()", DIFF),
        (8, "start_worker()", OK),
    ]


# -- beat -----------------------------------------------------------------------------------


def test_a_beat_schedule_a_function_builds_is_read_or_reported() -> None:
    """``CELERY_BEAT_SCHEDULE = _schedule()``: the entries of a module function returning a
    dict are rated; a schedule the audit cannot read is reported, not passed as supported
    (a bad entry stops ``pynenc-celery worker`` from starting)."""
    assert found(
        """
        from celery.schedules import crontab


        def _schedule():
            return {
                "nightly": {"task": "a", "schedule": crontab(hour=3, minute=0)},
                "bad": {"task": "b", "schedule": 30, "options": {"link": "c"}},
            }


        CELERY_BEAT_SCHEDULE = _schedule()
        CELERY_BEAT_SCHEDULE["late"] = {"task": "d", "schedule": 60.0}
        CELERY_BEAT_SCHEDULE.update({"later": {"task": "e", "schedule": 90.0}})
        """,
        path="proj/settings.py",
    ) == [
        (2, "celery.schedules.crontab", OK),
        (7, "beat_schedule['nightly']: crontab()", OK),
        (8, "beat_schedule['bad']: 30", OK),
        (8, "beat_schedule['bad'] options link=", NO),
        (12, "CELERY_BEAT_SCHEDULE (beat_schedule)", OK),
        (13, "beat_schedule['late']: 60.0", OK),
        (14, "beat_schedule['later']: 90.0", OK),
    ]
    findings = audit_source(
        "import yaml\nCELERY_BEAT_SCHEDULE = load_schedule(yaml)\n", path="proj/settings.py"
    )
    assert [(f.api, f.support) for f in findings] == [
        ("CELERY_BEAT_SCHEDULE (beat_schedule)", OK),
        ("beat_schedule (built at run time)", NO),
    ]
    assert "pynenc-celery -A" in findings[1].reason


def test_an_app_under_any_name_is_followed_across_modules(tmp_path: Path) -> None:
    """celery-director keeps its app as ``cel = FlaskCelery("director")`` (a subclass of
    Celery) and imports it elsewhere: its tasks, settings and control calls count, its own
    methods (``init_app``) are not rated."""
    findings = tree(
        tmp_path,
        {
            "director/__init__.py": """
                from celery.schedules import crontab
                from director.extensions import cel


                def create_app(app):
                    cel.init_app(app)
                    cel.conf.beat_schedule.update(
                        {"cleanup": {"task": "director.cleanup", "schedule": crontab(minute=0)}}
                    )
                """,
            "director/extensions.py": """
                from celery import Celery


                class FlaskCelery(Celery):
                    def init_app(self, app):
                        self.conf.update(app.config.get("CELERY_CONF", {}))


                cel = FlaskCelery("director")
                """,
            "director/tasks.py": """
                from director.extensions import cel
                from director.helpers import plain


                @cel.task()
                def cleanup():
                    return cel.tasks.get("director.tasks.other").subtask(immutable=True)


                def cancel(task_id):
                    cel.control.revoke(task_id, terminate=True)
                    plain.conf.update(x=1)
                    return cel.send_task("director.tasks.cleanup", countdown=5)
                """,
            "director/helpers.py": "class plain:\n    conf = {}\n",
        },
    )
    apis = {(path, api) for path, _, api, _ in findings}
    assert {
        ("director/__init__.py", "beat_schedule['cleanup']: crontab()"),
        ("director/tasks.py", "@app.task"),
        ("director/tasks.py", "app.control.revoke()"),
        ("director/tasks.py", "app.send_task()"),
        ("director/tasks.py", "app.send_task(countdown=)"),
        ("director/tasks.py", ".subtask()"),
    } <= apis
    assert not any("init_app" in api or "update(x=)" in api for _, api in apis)


def test_a_tasks_own_retry_with_new_arguments_is_rated() -> None:
    """django-celery-email retries one failed message with ``send_emails.retry([[message],
    kwargs], exc=e, throw=False)``: the task object's retry is rated as ``self.retry``;
    new arguments are supported, and ``throw=False`` (a new call per retry, its own id)
    is a difference, while ``throw=True`` written out is the default."""
    assert found(
        """
        from celery import shared_task


        @shared_task(bind=True)
        def send_emails(self, messages):
            for message in messages:
                send_emails.retry([[message], {}], exc=None, throw=False)
                self.retry([message])
            self.retry(None, None, None, True, None, 5)
        """
    ) == [
        (2, "celery.shared_task", OK),
        (5, "@shared_task", OK),
        (5, "@shared_task(bind=)", OK),
        (8, "task.retry()", OK),
        (8, "task.retry(args=)", OK),
        (8, "task.retry(exc=)", OK),
        (8, "task.retry(throw=)", DIFF),
        (9, "self.retry()", OK),
        (9, "self.retry(args=)", OK),
        (10, "self.retry()", OK),
        (10, "self.retry(throw=)", OK),
        (10, "self.retry(countdown=)", OK),
    ]


def test_options_spread_from_a_module_dict_are_rated() -> None:
    """``@shared_task(**TASK_CONFIG)`` and ``apply_async(**OPTIONS)`` with a dict literal
    of the module; a spread of a value made at run time, or of a dict the module changed
    (django-celery-email's ``TASK_CONFIG.update(settings.X)``), is reported, not passed."""
    assert found(
        """
        from celery import shared_task

        TASK_CONFIG = {"name": "send", "ignore_result": True, "pydantic": True}
        OPTIONS = dict(countdown=5, chord=None)


        @shared_task(**TASK_CONFIG)
        def send():
            pass


        def later(extra):
            send.apply_async(**OPTIONS)
            send.apply_async(**extra)
        """
    ) == [
        (2, "celery.shared_task", OK),
        (8, "@shared_task", OK),
        (8, "@shared_task(ignore_result=)", DIFF),
        (8, "@shared_task(name=)", OK),
        (8, "@shared_task(pydantic=)", NO),
        (14, ".apply_async()", OK),
        (14, ".apply_async(chord=)", NO),
        (14, ".apply_async(countdown=)", OK),
        (15, ".apply_async()", OK),
        (15, ".apply_async(**extra)", NO),
    ]
    assert found(
        """
        from celery import shared_task

        TASK_CONFIG = {"name": "send", "ignore_result": True}
        TASK_CONFIG.update(settings.CELERY_EMAIL_TASK_CONFIG)


        @shared_task(**TASK_CONFIG)
        def send():
            pass
        """
    ) == [
        (2, "celery.shared_task", OK),
        (8, "@shared_task", OK),
        (8, "@shared_task(**TASK_CONFIG)", NO),
    ]


def test_celerys_app_helpers_and_test_app_are_rated() -> None:
    """Names real test suites import (django-celery-results, redbeat, django-celery-beat):
    rated, not "not known to the audit"."""
    findings = {
        f.api: f.support
        for f in audit_source(
            textwrap.dedent(
                """
                from celery._state import get_current_app, set_default_app
                from celery.app import app_or_default
                from celery.backends.base import DisabledBackend, KeyValueStoreBackend
                from celery.contrib.testing.app import TestApp, setup_default_app
                from celery.result import result_from_tuple
                """
            ),
            path="tests/conftest.py",
        )
    }
    assert findings == {
        "celery._state.get_current_app": OK,
        "celery._state.set_default_app": OK,
        "celery.app.app_or_default": OK,
        "celery.backends.base.DisabledBackend": OK,
        "celery.backends.base.KeyValueStoreBackend": NO,
        "celery.contrib.testing.app.TestApp": DIFF,
        "celery.contrib.testing.app.setup_default_app": OK,
        "celery.result.result_from_tuple": OK,
    }


def test_a_tasks_logger_is_rated() -> None:
    assert found(
        """
        from celery import shared_task


        @shared_task
        def send():
            pass


        logger = send.get_logger()
        """
    )[-1] == (10, ".get_logger()", DIFF)


def test_a_schedule_imported_from_another_module_is_rated(tmp_path: Path) -> None:
    """weblate: ``sender.add_periodic_task(HEARTBEAT_FREQUENCY, heartbeat.s())`` with
    ``HEARTBEAT_FREQUENCY = 600`` in ``weblate/utils/const.py``."""
    findings = tree(
        tmp_path,
        {
            "web/__init__.py": "",
            "web/const.py": """
                from celery.schedules import crontab, solar

                HEARTBEAT_FREQUENCY = 10 * 60
                NIGHTLY = crontab(hour=1, minute=0)
                DUSK = solar("dusk", 1.0, 2.0)
                """,
            "web/settings.py": """
                from web.const import DUSK, HEARTBEAT_FREQUENCY, NIGHTLY
                from web.elsewhere import UNKNOWN

                CELERY_BEAT_SCHEDULE = {
                    "a": {"task": "web.tasks.heartbeat", "schedule": HEARTBEAT_FREQUENCY},
                    "b": {"task": "web.tasks.heartbeat", "schedule": NIGHTLY},
                    "c": {"task": "web.tasks.heartbeat", "schedule": DUSK},
                    "d": {"task": "web.tasks.heartbeat", "schedule": UNKNOWN},
                }
                """,
        },
    )
    beat = {api: support for path, _, api, support in findings if api.startswith("beat_")}
    assert beat == {
        "beat_schedule['a']: HEARTBEAT_FREQUENCY": OK,
        "beat_schedule['b']: NIGHTLY": OK,
        "beat_schedule['c']: DUSK": NO,
        "beat_schedule['d']: UNKNOWN": NO,
    }


def test_django_receiver_connects_celery_signals() -> None:
    """pretix connects Celery's signals with Django's ``@receiver``: a handler of a signal
    pynenc never sends (``task_received``) blocks, as with ``.connect``."""
    assert found(
        """
        from celery import signals
        from celery.signals import task_postrun
        from django.dispatch import receiver


        @receiver(signals.task_received)
        def on_received(sender, request, **kwargs):
            pass


        @receiver([signals.before_task_publish, task_postrun], dispatch_uid="x")
        def on_any(sender, **kwargs):
            pass
        """,
        path="proj/celery_app.py",
    ) == [
        (2, "celery.signals", OK),
        (3, "celery.signals.task_postrun", OK),
        (7, "task_received.connect", NO),
        (7, "celery.signals.task_received", OK),
        (12, "before_task_publish.connect", DIFF),
        (12, "task_postrun.connect", OK),
        (12, "celery.signals.before_task_publish", OK),
    ]


def test_the_default_priority_reads_the_other_way_round_on_redis() -> None:
    assert settings_of("CELERY_TASK_DEFAULT_PRIORITY = 5\n") == {
        "CELERY_TASK_DEFAULT_PRIORITY (task_default_priority)": DIFF
    }


def test_a_patched_delay_counts_when_it_is_a_tasks(tmp_path: Path) -> None:
    """``mock.patch("shop.tasks.send.delay")`` is a Celery use when ``send`` is a task;
    the same patch of an rq job is not."""
    findings = tree(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/tasks.py": "from celery import shared_task\n\nsend = shared_task(print)\n",
            "shop/jobs.py": "from rq.decorators import job\n\ncrunch = job('low')(print)\n",
            "shop/tests/test_send.py": """
                from unittest import mock

                from shop import jobs, tasks


                @mock.patch("shop.tasks.send.delay")
                @mock.patch("shop.jobs.crunch.delay")
                def test_send(crunch, send):
                    with mock.patch.object(tasks.send, "apply_async"):
                        pass
                    with mock.patch.object(jobs.crunch, "delay"):
                        pass
                """,
        },
    )
    assert [(line, api) for path, line, api, _ in findings if path.startswith("shop/tests")] == [
        (7, "patch('shop.tasks.send.delay')"),
        (10, "patch.object(…, 'apply_async')"),
    ]
