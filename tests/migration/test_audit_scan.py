"""The audit's reader on small sources: how names are followed, what counts as a Celery
use, what does not, and how uses in one module depend on others."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pynenc_celery_compat.migration.audit import Finding, Support, audit_paths, audit_source

OK, DIFF, NO = Support.SUPPORTED, Support.DIFFERENCE, Support.UNSUPPORTED


def found(source: str, path: str = "proj/tasks.py") -> list[tuple[int, str, Support]]:
    return [(f.line, f.api, f.support) for f in audit_source(textwrap.dedent(source), path=path)]


def apis(source: str, path: str = "proj/tasks.py") -> list[str]:
    return [api for _, api, _ in found(source, path)]


def write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(source))


def tree(root: Path, files: dict[str, str]) -> list[tuple[str, int, str, Support]]:
    write(root, files)
    report = audit_paths([root])
    assert report.errors == {}
    return [
        (Path(f.path).relative_to(root).as_posix(), f.line, f.api, f.support)
        for f in report.findings
    ]


# -- names ----------------------------------------------------------------------------------


def test_aliases_and_module_imports_are_followed() -> None:
    assert found(
        """
        import celery
        import celery.states as s
        from celery import shared_task as st

        @st(bind=True)
        def a(self):
            return self.request.id

        @celery.shared_task
        def b():
            return s.SUCCESS
        """
    ) == [
        (2, "import celery", OK),
        (3, "import celery.states as s", OK),
        (4, "celery.shared_task as st", OK),
        (6, "@shared_task", OK),
        (6, "@shared_task(bind=)", OK),
        (8, "self.request.id", OK),
        (10, "@shared_task", OK),
        (10, "celery.shared_task", OK),
        (12, "celery.states.SUCCESS", OK),
    ]


def test_a_compat_import_counts_as_migrated() -> None:
    findings = audit_source(
        "from pynenc_celery_compat import shared_task\n\n@shared_task\ndef a():\n    pass\n"
    )
    assert [(f.api, f.reason) for f in findings] == [
        ("pynenc_celery_compat.shared_task", "already on the compat layer"),
        ("@shared_task", findings[1].reason),
    ]


def test_a_star_import_and_an_unknown_name_are_not_passed_over() -> None:
    findings = {
        f.api: f for f in audit_source("from celery import *\nfrom celery.local import Proxy\n")
    }
    assert findings["from celery import *"].support is NO
    assert findings["celery.local.Proxy"].support is NO
    assert findings["celery.local.Proxy"].reason.startswith("not known to the audit")


def test_names_that_only_look_like_celery_are_not_taken() -> None:
    """``pytest.mark.celery`` is not an app; ``pool.apply_async`` is a pool's;
    ``"text".s`` is a string's; a module without Celery has no anonymous ``.delay``."""
    assert apis(
        """
        from multiprocessing import Pool

        import pytest

        @pytest.mark.celery
        def test_x():
            with Pool(2) as pool:
                pool.apply_async(sum, ([1],)).get()
            direct = Pool(2)
            direct.apply_async(sum, ([1],))
            return "text".s
        """,
        path="tests/test_x.py",
    ) == ["@pytest.mark.celery"]
    assert apis("def f(job):\n    return job.delay()\n") == []


def test_a_parameter_called_with_delay_in_a_celery_module_is_a_task() -> None:
    assert apis("from celery import shared_task\n\ndef run(task):\n    task.delay()\n") == [
        "celery.shared_task",
        ".delay()",
    ]


# -- apps -----------------------------------------------------------------------------------


def test_app_task_depends_on_which_app() -> None:
    body = "app = Celery('p')\n\n@app.task\ndef a():\n    pass\n"
    real = found("from celery import Celery\n" + body)
    compat = found("from pynenc_celery_compat import Celery\n" + body)
    assert (4, "@app.task", DIFF) in real
    assert (4, "@app.task", OK) in compat


def test_an_app_from_a_module_not_read_may_be_either() -> None:
    [finding] = [
        f
        for f in audit_source("from proj.celery import app\n\n@app.task\ndef a():\n    pass\n")
        if f.api == "@app.task"
    ]
    assert finding.support is DIFF
    assert finding.reason.startswith("if the app is a real celery.Celery")


def test_an_app_subclass_keeps_its_own_members(tmp_path: Path) -> None:
    assert apis(
        """
        from celery import Celery

        class MyCelery(Celery):
            def helper(self):
                pass

        app = MyCelery("p")
        app.helper()
        app.steps["worker"]
        plain = Celery("q")
        plain.helper()
        """
    ) == ["celery.Celery", "Celery()", "app.steps", "Celery()", "app.helper()"]
    # a member Celery has not: the project's own on its subclass, "not known" on Celery's


def test_uses_across_modules_follow_reexports(tmp_path: Path) -> None:
    assert tree(
        tmp_path,
        {
            "proj/__init__.py": "from .celery import app as celery_app\n",
            "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n",
            "proj/tasks.py": """
                from proj import celery_app

                @celery_app.task(bind=True)
                def send(self, x):
                    return x

                def helper():
                    pass
                """,
            "proj/views.py": """
                from proj.tasks import helper, send

                def view():
                    send.delay(1)
                    helper.delay(2)
                    send.s(1)
                    helper.s(2)
                """,
        },
    ) == [
        ("proj/celery.py", 1, "celery.Celery", DIFF),
        ("proj/celery.py", 2, "Celery()", DIFF),
        ("proj/tasks.py", 4, "@app.task", DIFF),
        ("proj/tasks.py", 4, "@app.task(bind=)", OK),
        ("proj/views.py", 5, ".delay()", OK),
        ("proj/views.py", 7, ".s()", OK),
    ]


def test_a_task_used_before_its_definition_is_found() -> None:
    assert apis(
        """
        from celery import shared_task

        def view():
            later.apply_async(countdown=3)

        @shared_task
        def later():
            pass
        """
    ) == ["celery.shared_task", ".apply_async()", ".apply_async(countdown=)", "@shared_task"]


def test_common_methods_of_code_not_read_are_not_taken_for_tasks() -> None:
    """``thing.delay()`` from a package the audit did not read counts (a task of the
    project's, read partially); ``thing.s()`` / ``thing.map()`` do not (too common)."""
    assert apis("from shop.tasks import thing\n\nthing.delay()\nthing.s()\nthing.map([])\n") == [
        ".delay()"
    ]
    assert apis("import os\n\nos.path.delay()\n") == []


# -- calling, results, canvas ---------------------------------------------------------------


def test_calling_options_each_rated() -> None:
    assert found(
        """
        from celery import shared_task

        @shared_task
        def t():
            pass

        t.apply_async(countdown=1, exchange="x", time_limit=3, chord=None, made_up=1)
        """
    )[2:] == [
        (8, ".apply_async()", OK),
        (8, ".apply_async(countdown=)", OK),
        (8, ".apply_async(exchange=)", DIFF),
        (8, ".apply_async(time_limit=)", DIFF),
        (8, ".apply_async(chord=)", NO),
        (8, ".apply_async(made_up=)", NO),
    ]


def test_get_inside_a_task_differs_unless_allowed() -> None:
    assert found(
        """
        from celery import shared_task

        @shared_task
        def outer(x):
            inner.delay(x).get()
            return inner.delay(x).get(disable_sync_subtasks=False)

        @shared_task
        def inner(x):
            return x

        inner.delay(1).get()
        """
    )[2:] == [
        (6, ".delay()", OK),
        (6, "result.get()", DIFF),
        (7, ".delay()", OK),
        (7, "result.get()", OK),
        (7, ".get(disable_sync_subtasks=)", OK),
        (9, "@shared_task", OK),
        (13, ".delay()", OK),
        (13, "result.get()", OK),
    ]


def test_results_members_and_canvas() -> None:
    assert found(
        """
        from celery import group, shared_task
        from celery.result import AsyncResult

        @shared_task
        def t(x):
            return x

        r = AsyncResult("id")
        r.forget(); r.exists(); r.date_done; r.collect(); r.made_up
        g = group(t.s(1), t.si(2)).apply_async()
        g.save()
        (t.s(1) | t.s() | t.s()).on_error(t.si(0)).delay()
        """
    )[4:] == [
        (9, "AsyncResult()", OK),
        (10, "result.forget()", DIFF),
        (10, "result.exists()", DIFF),
        (10, "result.date_done", OK),
        (10, "result.collect()", OK),
        (10, "result.made_up", NO),
        (11, "group()", OK),
        (11, "sig.apply_async()", OK),
        (11, ".s()", OK),
        (11, ".si()", OK),
        (12, "result.save()", OK),
        (13, "sig.delay()", OK),
        (13, "sig.on_error()", OK),
        (13, ".s()", OK),
        (13, "sig | sig", OK),
        (13, ".s()", OK),
        (13, ".s()", OK),
        (13, ".si()", OK),
    ]


def test_bound_self_members() -> None:
    assert found(
        """
        from celery import current_task, shared_task

        @shared_task(bind=True)
        def t(self, x):
            self.request.hostname; self.request.chain; self.request.made_up
            self.update_state(state="PROGRESS")
            self.my_own_helper()
            raise self.replace(t.s(x))

        def helper():
            current_task.request.id
        """
    )[4:] == [
        (6, "self.request.hostname", DIFF),
        (6, "self.request.chain", DIFF),
        (6, "self.request.made_up", NO),
        (7, "self.update_state()", OK),
        (9, "self.replace()", NO),
        (9, ".s()", OK),
        (12, "self.request.id", OK),
    ]


# -- signals, settings, beat ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "support"),
    [("task_success", OK), ("after_task_publish", DIFF), ("worker_shutting_down", NO)],
)
def test_each_signal_connect_is_rated(signal: str, support: Support) -> None:
    source = f"from celery import signals\n\n@signals.{signal}.connect\ndef h(**kw):\n    pass\n"
    assert (3, f"{signal}.connect", support) in found(source)


def test_app_signal_handler_sender_is_the_app() -> None:
    assert found(
        """
        from pynenc_celery_compat import Celery, crontab
        app = Celery("p")

        @app.on_after_configure.connect
        def periodic(sender, **kwargs):
            sender.add_periodic_task(crontab(minute=0), t.s(), eta=1)

        @app.task
        def t():
            pass
        """
    )[3:7] == [
        (5, "app.on_after_configure.connect", OK),
        (7, "add_periodic_task: crontab()", OK),
        (7, "app.add_periodic_task()", OK),
        (7, ".s()", OK),
    ]


def test_settings_modules_are_told_apart(tmp_path: Path) -> None:
    assert tree(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/celery.py": """
                from celery import Celery
                app = Celery("proj")
                app.config_from_object("proj.conf:Tuning")
                """,
            "proj/conf.py": """
                class Tuning:
                    task_acks_late = True
                    result_backend = "mongodb://x"
                    pynenc = {"state_backend_url": "redis://x"}

                class Other:
                    task_acks_late = True
                """,
            "proj/helpers.py": 'timezone = "UTC"\nCELERY_FLAG = 1\n',
            "proj/settings.py": 'CELERY_TASK_ACKS_LATE = 1\nCELERY_MADE_UP = 1\nBROKER_URL = "x"\n',
        },
    ) == [
        ("proj/celery.py", 2, "celery.Celery", DIFF),
        ("proj/celery.py", 3, "Celery()", DIFF),
        ("proj/celery.py", 4, "app.config_from_object()", OK),
        ("proj/conf.py", 3, "Tuning.task_acks_late", OK),
        ("proj/conf.py", 4, "Tuning.result_backend", DIFF),  # the pynenc setting names one
        ("proj/conf.py", 5, "Tuning.pynenc", OK),
        ("proj/settings.py", 1, "CELERY_TASK_ACKS_LATE (task_acks_late)", OK),
        ("proj/settings.py", 2, "CELERY_MADE_UP", OK),
        ("proj/settings.py", 3, "BROKER_URL (broker_url)", OK),
    ]


@pytest.mark.parametrize(
    ("value", "support"),
    [
        ('"redis://h/0"', OK),
        ('"db+sqlite:///r.db"', OK),
        ('"django-db"', NO),
        ('"db+postgresql://h/r"', NO),
    ],
)
def test_result_backend_by_scheme(value: str, support: Support) -> None:
    source = f"from celery import Celery\napp = Celery('p')\napp.conf.result_backend = {value}\n"
    assert (3, "app.conf.result_backend", support) in found(source)


def test_beat_schedule_kinds_and_arguments() -> None:
    assert found(
        """
        from datetime import datetime, timedelta
        from celery import Celery
        from celery.schedules import crontab, schedule
        from myproj.schedules import every_weekday

        EVERY_HOUR = timedelta(hours=1)
        app = Celery("p")
        app.conf.beat_schedule = {
            "a": {"task": "t", "schedule": EVERY_HOUR, "relative": True},
            "b": {"task": "t", "schedule": schedule(90), "relative": True},
            "c": {"task": "t", "schedule": every_weekday()},
            "d": {"task": "t", "schedule": "0 * * * *"},
            "e": {"task": "t", "schedule": crontab(), "args": (datetime(2024, 1, 1),)},
            "f": {"task": "t"},
        }
        """
    )[4:] == [
        (9, "app.conf.beat_schedule", OK),
        (10, "beat_schedule['a']: timedelta(hours=1)", OK),
        (10, "beat_schedule['a'] relative=True", OK),
        (11, "beat_schedule['b']: schedule(90)", OK),
        (11, "beat_schedule['b'] relative=True", DIFF),
        (12, "beat_schedule['c']: every_weekday()", NO),
        (13, "beat_schedule['d']: '0 * * * *'", NO),
        (14, "beat_schedule['e']: crontab()", OK),
        (14, "beat_schedule['e'] args datetime()", NO),
        (15, "beat_schedule['f']: no schedule", NO),
    ]


def test_a_solar_schedule_outside_an_entry_is_reported_once() -> None:
    source = "from celery.schedules import solar\nSUNSET = solar('sunset', 1, 2)\n"
    assert found(source) == [(1, "celery.schedules.solar", OK), (2, "solar()", NO)]


# -- tests' tooling -------------------------------------------------------------------------


def test_test_tooling() -> None:
    assert found(
        """
        from unittest import mock
        from django.test import override_settings
        from proj.tasks import send

        pytest_plugins = ["celery.contrib.pytest"]

        @override_settings(CELERY_TASK_ALWAYS_EAGER=True)
        def test_send(celery_app, celery_worker, tmp_path):
            @celery_app.task
            def inner():
                pass
            with mock.patch("proj.tasks.send.delay"):
                send.delay()
        """,
        path="tests/test_send.py",
    ) == [
        (6, "pytest_plugins celery.contrib.pytest", DIFF),
        (8, "override_settings(CELERY_TASK_ALWAYS_EAGER=)", OK),
        (9, "fixture celery_app", OK),
        (9, "fixture celery_worker", OK),
        (10, "@app.task", OK),
        (13, "patch('proj.tasks.send.delay')", OK),
        (14, ".delay()", OK),
    ]


def test_a_source_that_does_not_parse_raises() -> None:
    with pytest.raises(SyntaxError):
        audit_source("def f(:\n")


def test_findings_carry_their_position() -> None:
    finding: Finding = audit_source("x = 1\nfrom celery import shared_task\n", path="a.py")[0]
    assert (finding.path, finding.line, finding.column, finding.feature) == (
        "a.py",
        2,
        0,
        "imports",
    )


def test_attributes_of_a_celery_class_are_not_imports() -> None:
    source = (
        "from celery.beat import Scheduler\n\nclass S(Scheduler):\n    pass\n\nScheduler.tick\n"
    )
    assert apis(source) == ["celery.beat.Scheduler"]
