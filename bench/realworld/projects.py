"""The real Celery codebases the harness runs, each pinned, with how to run its own tests.

Every project is taken from PyPI as published (its sdist, never a copy kept here), and its
test dependencies are pinned, so two runs measure the same thing. A test failure is
explained here only after it was investigated: a failure with no entry is reported as
"not investigated" and fails the run (``python -m bench.realworld`` exits 1).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Django and what it needs, pinned (Django 4.2 LTS: the newest line both projects support)
DJANGO = ("django==4.2.30", "asgiref==3.13.0", "sqlparse==0.6.1", "django-appconf==1.2.0")

#: the passes of a run, in order
BASELINE = "celery"
MIGRATED = "migrated"
RUNNER = "migrated+runner"
PASSES = (BASELINE, MIGRATED, RUNNER)
PASS_TITLES = {
    BASELINE: "before: on Celery",
    MIGRATED: "after `migrate --write`",
    RUNNER: "after, on pynenc's in-process runner",
}


@dataclass(frozen=True)
class Project:
    """A PyPI project with Celery tasks and a test suite shipped in its sdist."""

    name: str
    version: str
    #: the code the tools are pointed at, relative to the unpacked sdist
    package: str
    #: test dependencies, pinned, installed with ``--no-deps`` (Celery and kombu are ours)
    deps: tuple[str, ...]
    #: the test command: arguments to ``python``, run in the unpacked sdist
    test_command: tuple[str, ...]
    #: ``unittest`` (also Django's runner) or ``pytest``
    runner: str
    #: what of Celery the project uses, in a line
    uses: str
    #: pass -> test id (or glob) -> what was found when that failure was investigated
    explanations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: what investigating the project showed beyond its suite (checked by hand, with how)
    findings: tuple[str, ...] = ()

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    def explain(self, pass_name: str, test_id: str) -> str | None:
        """The recorded reason ``test_id`` fails in ``pass_name``, if it was investigated."""
        for pattern, reason in self.explanations.get(pass_name, {}).items():
            if fnmatch.fnmatchcase(test_id, pattern):
                return reason
        return None


_NO_IMAGE = (
    "fails on Celery too: the sdist does not ship `tests/image.png`, which the test opens "
    "(the project's repository has it); nothing to do with Celery"
)
_IGNORED_RESULT = (
    "eager-only test: the task is declared with `ignore_result=True` (djcelery_email's "
    "`TASK_CONFIG`) and the test asserts `result.get() == 1`. Only Celery's eager mode hands "
    "the value back; on the production path, a Celery worker's as well as pynenc's, the "
    "`get()` of an ignored result returns `None` at once (Celery: `AsyncResult.get()` "
    "returns when `result.ignored`), before the task has even run. Checked by hand: the "
    "runner thread sends the mail right after, and the same call with `ignore_result=False` "
    "returns 1 with the mail in `mail.outbox`. Not a compat-layer bug"
)

_LATE_MAIL = (
    "a consequence of the eager-only tests above, and timing-dependent: it passes alone "
    "(checked: `tests.tests.TaskErrorTests` on the runner pass, OK). The IntegrationTests "
    "just before it end as soon as `get()` returns `None`, while the runner thread is still "
    "sending their mails (the chunked test queues 3 tasks, 11 mails); a mail sent after "
    "Django reset `mail.outbox` for the next test lands there (`6 != 5`). Not a "
    "compat-layer bug"
)

DJANGO_CELERY_EMAIL = Project(
    name="django-celery-email",
    version="3.0.0",
    package="djcelery_email",
    deps=DJANGO,
    test_command=(
        "-m",
        "django",
        "test",
        "--settings=tests.settings",
        # the project's runner (tests/__init__.py): it sets EMAIL_BACKEND to its Celery backend
        "--testrunner=tests.DJCETestSuiteRunner",
        "-v",
        "2",
        "tests",
    ),
    runner="unittest",
    uses=(
        "`from celery import shared_task` with options from a settings dict (`queue`, "
        "`rate_limit`, `ignore_result`, arbitrary `delivery_mode`), `task.retry(...)` from the "
        "task body, `.delay()`, `celery.utils.log`; its tests use `celery.current_app` to turn "
        "eager mode on and patch `.delay`/`.retry` on the task object"
    ),
    explanations={
        BASELINE: {"tests.tests.UtilTests.test_email_with_*attachment*": _NO_IMAGE},
        MIGRATED: {"tests.tests.UtilTests.test_email_with_*attachment*": _NO_IMAGE},
        RUNNER: {
            "tests.tests.UtilTests.test_email_with_*attachment*": _NO_IMAGE,
            "tests.tests.IntegrationTests.*": _IGNORED_RESULT,
            "tests.tests.TaskErrorTests.test_send_multiple_emails": _LATE_MAIL,
        },
    },
    findings=(
        "**Compat-layer bug, fixed since (branch h-retryargs): on a pynenc runner, "
        "`send_emails.retry([[message], kwargs], exc=e, throw=False)` retried nothing** (not "
        "covered by the suite: its TaskErrorTests replace `retry` with a mock). The task "
        "retries only the message that failed and carries on with the others; Celery's "
        "`retry(throw=False)` publishes the retry (with the new arguments) and returns. The "
        "compat `Task.retry` warned that retry arguments were not supported and, with "
        "`throw=False`, returned the `Retry` without registering anything: every mail that "
        "failed once was dropped. Now each such retry is a new call of the task (its own id, "
        "`retries + 1`, so `max_retries` holds; Celery reuses the id: "
        "[differences.md#retry-options](../../migration_guide/differences.md#retry-options)), "
        "and `raise self.retry(args=...)` retries the same invocation with the new arguments. "
        "Checked with the reproduction in `bench/realworld/README.md` (the failed item now "
        "runs again, once), `tests/celery_compat/test_retry_args.py`, and by hand on the "
        "migrated `send_emails` on the in-process runner (`default_retry_delay=0`), with an "
        "email backend that refuses two of four mails once: the first run returns 2, and "
        "each refused mail is retried once as its own call, which sends it.",
        "Audit gaps seen in the first run (fixed on main since, as the audit above shows): "
        "`send_emails.retry(...)` (retry called on the task object, not `self`) and "
        "`send_emails.get_logger()` were not reported; `@shared_task(**TASK_CONFIG)` was "
        "rated supported with no word that its options (`ignore_result=True`, `rate_limit`, "
        "`queue`, `delivery_mode` from settings) cannot be seen; for celery-haystack-ng the "
        "same `ignore_result` is rated a difference.",
    ),
)

CELERY_HAYSTACK = Project(
    name="celery-haystack-ng",
    version="2.0.1",
    package="celery_haystack",
    deps=(*DJANGO, "django-haystack==3.4.0", "whoosh==2.7.4"),
    test_command=(
        "-m",
        "django",
        "test",
        "--settings=celery_haystack.test_settings",
        "-v",
        "2",
        "celery_haystack",
    ),
    runner="unittest",
    uses=(
        "class-based tasks (`class Handler(current_app.Task)` registered with "
        "`current_app.register_task`), `self.retry(exc=...)` with `max_retries`/"
        "`default_retry_delay` class attributes, `apply_async(..., queue=, countdown=)` "
        "from `transaction.on_commit`, a `Celery` app configured from Django settings in "
        "old-style names (`CELERY_ALWAYS_EAGER`)"
    ),
    findings=(
        "`migrate` moves `current_app` only, and `pynenc_celery_compat.current_app` is "
        "Celery's own current app: the two class-based tasks subclass `current_app.Task`, a "
        "Celery class, so after the rewrite they still run on Celery. The suite passes "
        "because nothing it runs changed (the runner pass too: no compat task is called).",
        "Checked by hand, two edits that do move them: (1) subclassing "
        "`pynenc_celery_compat.Task` instead of `current_app.Task` is **not** enough: the "
        "class registered with the real `celery.Celery` app's `register_task` is not a task "
        "the layer made, so its calls silently keep Celery's path (`delay()` returns a "
        "`celery.result.AsyncResult`, published to Celery's broker; see the reproduction in "
        "`bench/realworld/README.md`). (2) `wrap_task(CeleryHaystackSignalHandler)` and "
        "`wrap_task(CeleryHaystackUpdateIndex)` at the end of `tasks.py` (the documented way, "
        "docs/celery.md 'Wrapping an existing Celery task') do: the suite passes 3/3 eagerly, "
        "and on the in-process runner fails 3/3 (`AssertionError: 1 != 0`: the test searches "
        "the index right after `save()`, before the runner thread indexed it). That is the "
        "same on a real Celery worker: the tests depend on `CELERY_ALWAYS_EAGER`.",
        "The audit rates this right: both classes are reported as class-based tasks on "
        "Celery needing `wrap_task` (a difference). `CELERYD_LOG_LEVEL` (in "
        "`test_settings.py`), which Celery 5 does not know either (not in "
        "`celery.app.defaults`), was first rated not supported, a false block; it is now "
        "rated supported with a check-the-spelling hint, so both modules can switch.",
    ),
)

PROJECTS: dict[str, Project] = {p.name: p for p in (DJANGO_CELERY_EMAIL, CELERY_HAYSTACK)}
