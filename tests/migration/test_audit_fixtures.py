"""``audit_paths`` on the fixture codebases: every finding, by line and rating.

``audit_django`` is a Django-style project (settings with the ``CELERY_`` namespace and a beat
schedule with crontab, timedelta, number and solar entries; ``proj/celery.py`` with
``config_from_object(namespace=)`` and ``autodiscover_tasks``; task modules with options, a
class-based task, canvas, results, signals; tests using ``celery.contrib.pytest``).
``audit_forms`` holds every import form, an already migrated module, a ``celeryconfig``, a
settings class, callers in other modules and the uses the compat layer does not support.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pynenc_celery_compat.migration.audit import AuditReport, Support, audit_paths
from pynenc_celery_compat.migration.report import summarize

FIXTURES = Path(__file__).parent / "fixtures"
CODE = {Support.SUPPORTED: "ok", Support.DIFFERENCE: "diff", Support.UNSUPPORTED: "NO"}

DJANGO = {
    "billing/tasks.py": [
        (1, "celery.shared_task", "ok"),
        (2, "celery.exceptions.Ignore", "ok"),
        (5, "@shared_task", "ok"),
        (5, "@shared_task(bind=)", "ok"),
        (5, "@shared_task(max_retries=)", "ok"),
        (5, "@shared_task(priority=)", "diff"),
        (9, "self.request.retries", "ok"),
    ],
    "proj/celery.py": [
        (3, "celery.Celery", "diff"),
        (7, "Celery()", "diff"),
        (8, "app.config_from_object(namespace='CELERY')", "ok"),
        (9, "app.autodiscover_tasks()", "ok"),
        (12, "@app.task", "diff"),
        (12, "@app.task(bind=)", "ok"),
        (12, "@app.task(ignore_result=)", "diff"),
        (17, "app.on_after_configure.connect", "ok"),
        (19, "add_periodic_task: 30.0", "ok"),
        (19, "app.add_periodic_task()", "ok"),
        (19, ".s()", "ok"),
        (19, "add_periodic_task(expires=)", "ok"),
    ],
    "proj/settings.py": [
        (3, "celery.schedules.crontab", "ok"),
        (3, "celery.schedules.solar", "ok"),
        (8, "CELERY_BROKER_URL (broker_url)", "ok"),
        (9, "CELERY_RESULT_BACKEND (result_backend)", "ok"),
        (10, "CELERY_TASK_SERIALIZER (task_serializer)", "ok"),
        (11, "CELERY_ACCEPT_CONTENT (accept_content)", "ok"),
        (12, "CELERY_TIMEZONE (timezone)", "ok"),
        (13, "CELERY_TASK_TIME_LIMIT (task_time_limit)", "ok"),
        (14, "CELERY_RESULT_EXPIRES (result_expires)", "diff"),
        (15, "CELERY_WORKER_PREFETCH_MULTIPLIER (worker_prefetch_multiplier)", "ok"),
        (16, "CELERY_ALWAYS_EAGER (task_always_eager)", "ok"),
        (17, "CELERY_BEAT_SCHEDULER (beat_scheduler)", "diff"),
        (18, "CELERY_BEAT_SCHEDULE (beat_schedule)", "ok"),
        (19, "beat_schedule['nightly-report']: crontab()", "ok"),
        (22, "beat_schedule['nightly-report'] options queue=", "ok"),
        (22, "beat_schedule['nightly-report'] options expires=", "ok"),
        (24, "beat_schedule['sunset-lights']: solar()", "NO"),
        (28, "beat_schedule['cleanup']: timedelta(minutes=10)", "ok"),
        (31, "beat_schedule['cleanup'] options task_id=", "NO"),
        (31, "beat_schedule['cleanup'] options routing_key=", "diff"),
        (33, "beat_schedule['ping']: 60.0", "ok"),
        (33, "beat_schedule['ping'] relative=True", "ok"),
    ],
    "shop/signals.py": [
        (1, "celery.signals.before_task_publish", "ok"),
        (1, "celery.signals.setup_logging", "ok"),
        (1, "celery.signals.task_failure", "ok"),
        (4, "task_failure.connect", "ok"),
        (9, "before_task_publish.connect", "diff"),
        (18, "setup_logging.connect", "NO"),
    ],
    "shop/tasks.py": [
        (1, "celery.Task", "ok"),
        (1, "celery.chain", "ok"),
        (1, "celery.chord", "ok"),
        (1, "celery.group", "ok"),
        (1, "celery.shared_task", "ok"),
        (2, "celery.exceptions.SoftTimeLimitExceeded", "ok"),
        (3, "celery.utils.log.get_task_logger", "diff"),
        (10, "@shared_task", "ok"),
        (11, "@shared_task(bind=)", "ok"),
        (12, "@shared_task(autoretry_for=)", "ok"),
        (13, "@shared_task(retry_backoff=)", "ok"),
        (14, "@shared_task(max_retries=)", "ok"),
        (15, "@shared_task(rate_limit=)", "diff"),
        (16, "@shared_task(time_limit=)", "diff"),
        (17, "@shared_task(acks_late=)", "diff"),
        (20, "self.request.retries", "ok"),
        (21, "self.update_state()", "ok"),
        (25, "@shared_task", "ok"),
        (25, "@shared_task(queue=)", "ok"),
        (33, "@shared_task", "ok"),
        (33, "@shared_task(bind=)", "ok"),
        (33, "@shared_task(default_retry_delay=)", "ok"),
        (38, "self.retry()", "ok"),
        (38, "self.retry(exc=)", "ok"),
        (38, "self.retry(countdown=)", "ok"),
        (41, "@shared_task", "ok"),
        (46, "class RefundTask(Task)", "diff"),
        (47, "RefundTask.max_retries", "ok"),
        (50, "self.request.id", "ok"),
        (52, "RefundTask.on_failure()", "ok"),
        (56, "app.register_task()", "diff"),
        (60, "chain()", "ok"),
        (60, ".s()", "ok"),
        (60, ".si()", "ok"),
        (61, "sig.apply_async()", "ok"),
        (61, "sig.apply_async(link_error=)", "ok"),
        (61, ".si()", "ok"),
        (62, "group()", "ok"),
        (62, ".s()", "ok"),
        (63, "chord()", "diff"),
        (63, "sig.delay()", "ok"),
        (63, ".s()", "ok"),
        (64, "sig.delay()", "ok"),
        (64, ".s()", "ok"),
        (64, "sig | sig", "ok"),
        (64, ".si()", "ok"),
    ],
    "shop/tests/conftest.py": [
        (3, "pytest_plugins celery.contrib.pytest", "diff"),
        (7, "fixture celery_config (defined)", "ok"),
    ],
    "shop/tests/test_tasks.py": [
        (4, "celery.contrib.testing.worker.start_worker", "ok"),
        (10, "@pytest.mark.celery", "ok"),
        (11, "fixture celery_app", "ok"),
        (11, "fixture celery_worker", "ok"),
        (12, ".delay()", "ok"),
        (12, "result.get()", "ok"),
        (12, ".get(timeout=)", "ok"),
        (15, "override_settings(CELERY_TASK_ALWAYS_EAGER=)", "ok"),
        (17, "patch('shop.tasks.send_receipt.delay')", "ok"),
        (22, "fixture celery_app", "ok"),
        (23, "start_worker()", "diff"),
        (24, ".delay()", "ok"),
        (24, "result.get()", "ok"),
        (24, ".get(timeout=)", "ok"),
    ],
    "shop/views.py": [
        (3, "celery.result.AsyncResult", "ok"),
        (3, "celery.result.GroupResult", "ok"),
        (10, ".delay()", "ok"),
        (12, ".apply_async()", "ok"),
        (13, ".apply_async(countdown=)", "ok"),
        (13, ".apply_async(eta=)", "ok"),
        (13, ".apply_async(expires=)", "ok"),
        (13, ".apply_async(priority=)", "diff"),
        (13, ".apply_async(task_id=)", "diff"),
        (15, "result.id", "ok"),
        (19, "AsyncResult()", "ok"),
        (20, "result.ready()", "ok"),
        (21, "result.get()", "ok"),
        (21, ".get(timeout=)", "ok"),
        (21, ".get(propagate=)", "ok"),
        (22, "result.state", "ok"),
        (26, "app.control.revoke()", "diff"),
        (30, "app.send_task()", "diff"),
        (30, "app.send_task(args=)", "ok"),
        (30, "app.send_task(queue=)", "ok"),
        (34, "GroupResult.restore()", "ok"),
        (34, "result.get()", "ok"),
        (34, ".get(timeout=)", "ok"),
    ],
}
FORMS = {
    "forms/aliases.py": [
        (3, "import celery", "ok"),
        (4, "import celery.states as s", "ok"),
        (5, "celery.shared_task as st", "ok"),
        (6, "celery.states", "ok"),
        (7, "celery.exceptions.Retry", "ok"),
        (12, "@shared_task", "ok"),
        (12, "@shared_task(bind=)", "ok"),
        (12, "@shared_task(max_retries=)", "ok"),
        (14, "self.request.retries", "ok"),
        (19, "@shared_task", "ok"),
        (19, "celery.shared_task", "ok"),
        (21, "celery.states.SUCCESS", "ok"),
        (24, "@app.task", "ok"),
        (24, "@app.task(typing=)", "ok"),
        (30, "celery.group", "ok"),
        (30, "group()", "ok"),
        (30, "sig.apply_async()", "ok"),
        (30, ".s()", "ok"),
        (30, "sig.apply_async(countdown=)", "ok"),
        (31, "result.get()", "ok"),
        (31, ".get(timeout=)", "ok"),
        (31, "result.state", "ok"),
        (31, "celery.states.FAILURE", "ok"),
    ],
    "forms/app.py": [
        (3, "pynenc_celery_compat.Celery", "ok"),
        (4, "pynenc_celery_compat.schedules.schedule", "ok"),
        (6, "Celery()", "ok"),
        (6, "Celery(include=)", "ok"),
        (7, "app.conf.task_default_queue", "ok"),
        (8, "app.conf.update(task_serializer=)", "NO"),
        (8, "app.conf.update(accept_content=)", "diff"),
        (9, "beat_schedule['tick']: schedule(run_every=timedelta(seconds=30))", "ok"),
    ],
    "forms/callers.py": [
        (8, ".delay()", "ok"),
        (9, ".apply_async()", "ok"),
        (9, ".apply_async(queue=)", "ok"),
        (9, ".apply_async(shadow=)", "diff"),
        (13, ".delay()", "ok"),
    ],
    "forms/celeryconfig.py": [
        (1, "celery.schedules.crontab", "ok"),
        (3, "broker_url", "ok"),
        (4, "result_backend", "ok"),
        (5, "timezone", "ok"),
        (6, "task_routes", "ok"),
        (7, "beat_schedule", "ok"),
        (8, "beat_schedule['weekly']: crontab.from_string()", "ok"),
        (9, "beat_schedule['every-5-min']: 5 * 60", "ok"),
        (9, "beat_schedule['every-5-min'] relative=True", "diff"),
    ],
    "forms/migrated.py": [
        (1, "pynenc_celery_compat.group", "ok"),
        (1, "pynenc_celery_compat.shared_task", "ok"),
        (4, "@shared_task", "ok"),
        (10, "group()", "ok"),
        (10, "sig.delay()", "ok"),
        (10, ".s()", "ok"),
    ],
    "forms/plain.py": [
        (1, "result_backend", "ok"),
        (2, "imports", "ok"),
    ],
    "forms/settings_class.py": [
        (1, "celery.Celery as CeleryApp", "diff"),
        (5, "Config.broker_url", "ok"),
        (6, "Config.result_backend", "NO"),
        (7, "Config.task_acks_late", "ok"),
        (14, "Celery()", "diff"),
        (15, "app.config_from_object()", "ok"),
        (16, "app.config_from_object()", "ok"),
    ],
    "forms/tests/test_forms.py": [
        (5, "pytest_plugins pynenc_celery_compat.contrib.pytest", "ok"),
        (10, "patch.object(…, 'delay')", "ok"),
        (13, "fixture celery_session_app", "ok"),
        (13, "fixture celery_session_worker", "ok"),
        (14, ".delay()", "ok"),
        (14, "result.get()", "ok"),
        (14, ".get(timeout=)", "ok"),
        (18, "settings.CELERY_TASK_ALWAYS_EAGER (task_always_eager)", "ok"),
        (19, ".apply()", "ok"),
    ],
    "forms/unsupported.py": [
        (1, "celery.Celery", "diff"),
        (1, "celery.bootsteps", "NO"),
        (1, "celery.shared_task", "ok"),
        (2, "celery.contrib.abortable.AbortableTask", "NO"),
        (3, "celery.local.Proxy", "NO"),
        (4, "celery.signals.task_received", "ok"),
        (6, "Celery()", "diff"),
        (9, "celery.bootsteps.StartStopStep", "NO"),
        (13, "app.steps", "NO"),
        (16, "@shared_task", "ok"),
        (16, "@shared_task(bind=)", "ok"),
        (16, "@shared_task(base=)", "ok"),
        (16, "@shared_task(pydantic=)", "NO"),
        (20, "self.replace()", "NO"),
        (20, ".s()", "ok"),
        (23, "@shared_task", "ok"),
        (23, "@shared_task(bind=)", "ok"),
        (25, "self.retry()", "ok"),
        (25, "self.retry(args=)", "ok"),
        (25, "self.retry(queue=)", "diff"),
        (28, "task_received.connect", "NO"),
        (34, "app.AsyncResult()", "ok"),
        (35, "app.control.inspect()", "NO"),
        (36, "result.date_done", "ok"),
        (36, "result.get()", "ok"),
        (36, ".get(on_message=)", "diff"),
        (40, "app.worker_main()", "NO"),
    ],
}


def _by_file(report: AuditReport, root: Path) -> dict[str, list[tuple[int, str, str]]]:
    found: dict[str, list[tuple[int, str, str]]] = {}
    for f in report.findings:
        path = Path(f.path).relative_to(root).as_posix()
        found.setdefault(path, []).append((f.line, f.api, CODE[f.support]))
    return found


@pytest.mark.parametrize(("name", "expected"), [("audit_django", DJANGO), ("audit_forms", FORMS)])
def test_every_finding_of_the_fixture(
    name: str, expected: dict[str, list[tuple[int, str, str]]]
) -> None:
    root = FIXTURES / name
    report = audit_paths([root])
    assert report.errors == {}
    found = _by_file(report, root)
    assert sorted(found) == sorted(expected)
    for path, findings in expected.items():
        assert found[path] == findings, path


def test_django_project_summary() -> None:
    root = FIXTURES / "audit_django"
    modules = {Path(m.path).relative_to(root).as_posix(): m for m in summarize(audit_paths([root]))}
    blocked = {path: [f.api for f in m.blocked_by] for path, m in modules.items() if m.blocked_by}
    assert blocked == {
        "proj/settings.py": [
            "beat_schedule['sunset-lights']: solar()",
            "beat_schedule['cleanup'] options task_id=",
        ],
        "shop/signals.py": ["setup_logging.connect"],
    }
    assert modules["shop/tasks.py"].status == "can switch now"
    assert modules["billing/tasks.py"].counts == {
        Support.SUPPORTED: 6,
        Support.DIFFERENCE: 1,
        Support.UNSUPPORTED: 0,
    }
    assert "proj/__init__.py" not in modules  # a re-export of the app: no Celery API used


def test_reasons_and_sections_name_what_differs() -> None:
    root = FIXTURES / "audit_django"
    findings = {(Path(f.path).name, f.line, f.api): f for f in audit_paths([root]).findings}
    solar = findings[("settings.py", 24, "beat_schedule['sunset-lights']: solar()")]
    assert "crontab" in solar.reason
    assert solar.section == "migration_guide/mapping.md#beat"
    app_task = findings[("celery.py", 12, "@app.task")]
    assert "real celery.Celery" in app_task.reason
    assert app_task.section == "migration_guide/differences.md#the-app-stays-on-celery"
    rate = findings[("tasks.py", 15, "@shared_task(rate_limit=)")]
    assert rate.section == "migration_guide/differences.md#global-rate-limits"
    assert findings[("views.py", 30, "app.send_task()")].support is Support.DIFFERENCE


def test_no_tests_and_exclude_leave_files_out() -> None:
    root = FIXTURES / "audit_django"
    without_tests = audit_paths([root], include_tests=False)
    assert not any("tests" in Path(path).relative_to(root).parts for path in without_tests.files)
    assert not any(f.feature == "testing" for f in without_tests.findings)
    excluded = audit_paths([root], exclude=["shop/*"])
    assert {Path(path).parts[-2] for path in excluded.files} == {"proj", "billing"}


def test_a_file_that_does_not_parse_is_reported_and_blocks() -> None:
    root = FIXTURES / "audit_broken"
    report = audit_paths([root])
    assert report.errors == {str(root / "broken.py"): "does not parse: line 5: invalid syntax"}
    assert [(f.line, f.api) for f in report.findings] == [
        (1, "celery.shared_task"),
        (4, "@shared_task"),
    ]
    assert report.blocked
    assert [m.status for m in summarize(report)] == ["error", "can switch now"]


def test_one_file_of_a_tree_keeps_its_package_names() -> None:
    """A file given alone is read as the module it is in its package: its imports of the
    project's tasks (not read) count as what their use says."""
    views = FIXTURES / "audit_django" / "shop" / "views.py"
    apis = [f.api for f in audit_paths([views]).findings]
    assert ".delay()" in apis and "app.control.revoke()" in apis


def test_a_real_codebase_celerys_own_source_is_read_whole() -> None:
    """Celery's installed source (160 files): every file parses, each one once, and its own
    uses of what the compat layer does not run (worker internals, beat's scheduler) are
    reported; a second of work, given minutes on a loaded machine."""
    import time

    import celery

    root = Path(celery.__file__).parent
    started = time.perf_counter()
    report = audit_paths([root])
    assert time.perf_counter() - started < 120
    assert report.errors == {}
    assert len(report.files) > 100
    blocked = {Path(m.path).relative_to(root).as_posix() for m in summarize(report) if m.blocked_by}
    assert {"beat.py", "worker/worker.py", "contrib/abortable.py"} <= blocked
