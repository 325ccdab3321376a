"""QA of ``pynenc-celery migrate`` on code as real projects write it (flower, django-celery-
beat, django-celery-results, celery-once read with ``--diff``): every change must import a
name that exists where it now comes from and behave as before for the code that is still on
Celery. Each case runs twice: the second run changes nothing."""

from __future__ import annotations

import pytest

from pynenc_celery_compat.migration.offered import CATCHES_BOTH
from pynenc_celery_compat.migration.rewrite import (
    BARE_MODULE,
    CURRENT_APP_TASK,
    EXPORTED,
    TASK_CLASS,
    Kept,
    Moved,
    Rewrite,
)
from tests.migration.helpers import migrated


def assert_runs(rewrite: Rewrite) -> None:
    """The migrated module runs (every name it reaches through a module exists)."""
    exec(compile(rewrite.migrated, "mod.py", "exec"), {"__name__": "qa_mod"})


# -- a Celery module imported by name moves only if the compat module has what it uses --


@pytest.mark.parametrize(
    ("source", "use"),
    [
        # django-celery-beat: schedules.maybe_make_aware is not in the compat schedules
        ("from celery import schedules\nf = schedules.maybe_make_aware\n", "maybe_make_aware"),
        ("from celery import signals\nhook = signals.beat_init.connect\n", "beat_init"),
        ("from celery import states\nrank = states.precedence\n", "precedence"),
        ("from celery import exceptions as exc\nf = exc.get_pickleable_exception\n", "get_pick"),
    ],
)
def test_a_module_imported_by_name_stays_when_a_use_is_not_offered(source: str, use: str) -> None:
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.moved
    (kept,) = rewrite.kept
    assert kept.line == 1 and use in kept.reason and "line 2" in kept.reason
    assert_runs(rewrite)


def test_a_module_imported_by_name_moves_when_every_use_is_offered() -> None:
    source = (
        "from celery import states, signals\n"
        "from celery.contrib.testing import worker\n"
        "done = states.SUCCESS in states.READY_STATES\n"
        "hook = signals.task_success.connect\n"
        "start = worker.start_worker\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated.splitlines()[:2] == [
        "from pynenc_celery_compat import states, signals",
        "from pynenc_celery_compat.contrib.testing import worker",
    ]
    assert not rewrite.kept
    assert_runs(rewrite)


def test_a_module_imported_by_name_used_as_a_value_or_exported_stays() -> None:
    source = (
        "from celery import states, signals\n"
        "__all__ = ['signals']\n"
        "def register(module):\n"
        "    return module\n"
        "register(states)\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert rewrite.kept == (
        Kept(1, "celery", "states", BARE_MODULE),
        Kept(1, "celery", "signals", EXPORTED),
    )


def test_a_module_imported_by_name_in_a_function_is_judged_by_its_uses_there() -> None:
    source = (
        "def a():\n"
        "    from celery import states\n"
        "    return states.SUCCESS\n"
        "def b():\n"
        "    from celery import states\n"
        "    return states.precedence('SUCCESS')\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source.replace(
        "    from celery import states\n    return states.SUCCESS",
        "    from pynenc_celery_compat import states\n    return states.SUCCESS",
    )
    assert [m.line for m in rewrite.moved] == [2]
    assert [k.line for k in rewrite.kept] == [5]


# -- the compat exception classes derive from Celery's: Celery's catches both ----------


def test_exception_classes_of_the_compat_layer_stay_on_celery() -> None:
    # flower/api/tasks.py: `except CeleryTimeoutError` around a Celery result's get(timeout=)
    source = (
        "from celery.exceptions import TimeoutError as CeleryTimeoutError, Retry\n"
        "from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded\n"
        "from celery.exceptions import TaskRevokedError\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "from celery.exceptions import TimeoutError as CeleryTimeoutError\n"
        "from pynenc_celery_compat.exceptions import Retry\n"
        "from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded\n"
        "from celery.exceptions import TaskRevokedError\n"
    )
    assert {k.reason for k in rewrite.kept} == {CATCHES_BOTH}
    assert len(rewrite.kept) == 4
    # and with --include-app too: Celery's class is the right one once all is migrated
    assert migrated(source, include_app=True).migrated == rewrite.migrated


def test_celery_raised_errors_are_still_caught_after_the_rewrite() -> None:
    import celery.exceptions

    source = (
        "import celery.exceptions as exc\n"
        "def wait(get):\n"
        "    try:\n"
        "        return get()\n"
        "    except exc.TimeoutError:\n"
        "        return 'timed out'\n"
        "    except exc.Retry:\n"
        "        return 'retry'\n"
    )
    rewrite = migrated(source)
    assert Kept(5, "celery.exceptions", "TimeoutError", CATCHES_BOTH) in rewrite.kept
    namespace: dict[str, object] = {}
    exec(compile(rewrite.migrated, "mod.py", "exec"), namespace)

    def celery_get() -> None:
        raise celery.exceptions.TimeoutError("Celery's own")

    wait = namespace["wait"]
    assert callable(wait)
    assert wait(celery_get) == "timed out"


def test_module_imports_keep_the_exception_classes_on_celery() -> None:
    source = (
        "import celery\ntry:\n    pass\nexcept celery.exceptions.SoftTimeLimitExceeded:\n    pass\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert rewrite.kept == (Kept(4, "celery.exceptions", "SoftTimeLimitExceeded", CATCHES_BOTH),)


# -- Task is shared with the code still on Celery ----------------------


def test_the_task_base_class_stays_unless_include_app() -> None:
    # celery_once's QueueOnce(Task): moved, every @app.task(base=QueueOnce) would switch
    source = "from celery import Task, shared_task\nclass Base(Task):\n    pass\n"
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "from celery import Task\nfrom pynenc_celery_compat import shared_task\n"
        "class Base(Task):\n    pass\n"
    )
    assert rewrite.kept == (Kept(1, "celery", "Task", TASK_CLASS),)
    assert migrated(source, include_app=True).migrated.startswith(
        "from pynenc_celery_compat import Task, shared_task\n"
    )
    module = migrated("import celery.app.task\nclass B(celery.app.task.Task): pass\n")
    assert module.kept == (Kept(2, "celery.app.task", "Task", TASK_CLASS),)
    assert not module.changed


def test_a_celery_task_base_class_still_works_under_shared_task() -> None:
    rewrite = migrated(
        "from celery import Task, shared_task\n"
        "class Base(Task):\n"
        "    greeting = 'hi'\n"
        "@shared_task(base=Base, bind=True, name='qa.greet')\n"
        "def greet(self):\n"
        "    return self.greeting\n"
    )
    namespace: dict[str, object] = {"__name__": "qa_tasks"}
    exec(compile(rewrite.migrated, "qa_tasks.py", "exec"), namespace)
    import pynenc_celery_compat

    greet = namespace["greet"]
    assert isinstance(greet, pynenc_celery_compat.Task)
    assert greet.run() == "hi"  # type: ignore[attr-defined]


def test_async_result_and_group_result_move() -> None:
    # compat AsyncResult(id) on a real Celery app answers for Celery's calls too
    source = "from celery.result import AsyncResult, GroupResult\n"
    assert migrated(source).migrated == (
        "from pynenc_celery_compat.result import AsyncResult, GroupResult\n"
    )


# -- current_app moves (the same object) but its tasks stay Celery's --------------------


def test_a_task_declared_on_current_app_is_reported() -> None:
    source = (
        "from celery import current_app as app\n"
        "import celery\n"
        "@app.task\n"
        "def a():\n"
        "    pass\n"
        "@celery.current_app.task(bind=True)\n"
        "def b(self):\n"
        "    pass\n"
        "tz = app.conf.timezone\n"
    )
    rewrite = migrated(source)
    assert rewrite.moved == (
        Moved(1, "celery", "current_app", "pynenc_celery_compat"),
        Moved(6, "celery", "current_app", "pynenc_celery_compat"),
    )
    assert rewrite.kept == (
        Kept(3, "celery", "app.task", CURRENT_APP_TASK),
        Kept(6, "celery", "current_app.task", CURRENT_APP_TASK),
    )


# -- layout ------------------------------------------------------------------------------


def test_two_submodules_of_one_import_statement_are_not_imported_twice() -> None:
    source = (
        "import celery.states, celery.signals\n"
        "x = celery.states.SUCCESS, celery.signals.task_success\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "import pynenc_celery_compat.states, pynenc_celery_compat.signals\n"
        "x = pynenc_celery_compat.states.SUCCESS, pynenc_celery_compat.signals.task_success\n"
    )
    assert_runs(rewrite)


def test_a_noqa_comment_follows_the_names_that_move() -> None:
    # a re-export silenced for flake8/ruff stays silenced on both lines
    source = "from celery import group, Celery  # noqa: F401\n"
    assert migrated(source).migrated == (
        "from celery import Celery  # noqa: F401\n"
        "from pynenc_celery_compat import group  # noqa: F401\n"
    )
    source = "from celery import (  # noqa\n    group,\n    Celery,\n)\n"
    assert migrated(source).migrated == (
        "from celery import (  # noqa\n    Celery,\n)\n"
        "from pynenc_celery_compat import (  # noqa\n    group,\n)\n"
    )


# -- a compat class deriving from Celery's stays where it tests a value's class ---------


def test_a_class_used_in_a_class_test_stays_on_celery() -> None:
    # sentry-sdk's beat integration: isinstance(schedule, crontab) must match Celery's too
    source = (
        "from celery.schedules import crontab, schedule\n"
        "from celery import group, chain\n"
        "import celery\n"
        "def kind(s):\n"
        "    if isinstance(s, crontab):\n"
        "        return 'crontab'\n"
        "    return isinstance(s, (schedule, celery.chord))\n"
        "def fan(sig):\n"
        "    return chain(sig, group(sig)), celery.chord\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "from celery.schedules import crontab\n"
        "from pynenc_celery_compat.schedules import schedule\n"
        "from pynenc_celery_compat import group, chain\n"
        "import celery\n"
        "import pynenc_celery_compat\n"
        "def kind(s):\n"
        "    if isinstance(s, crontab):\n"
        "        return 'crontab'\n"
        "    return isinstance(s, (schedule, celery.chord))\n"
        "def fan(sig):\n"
        "    return chain(sig, group(sig)), pynenc_celery_compat.chord\n"
    )
    assert [(k.line, k.name) for k in rewrite.kept] == [(1, "crontab"), (7, "chord")]
    assert "line 5" in rewrite.kept[0].reason and "line 7" in rewrite.kept[1].reason

    from celery.schedules import crontab as celery_crontab

    namespace: dict[str, object] = {}
    exec(compile(rewrite.migrated, "mod.py", "exec"), namespace)
    kind = namespace["kind"]
    assert callable(kind)
    assert kind(celery_crontab(minute=0)) == "crontab"


def test_class_tests_in_except_and_match_keep_the_class() -> None:
    source = (
        "from celery.canvas import Signature, group\n"
        "def f(x):\n"
        "    match x:\n"
        "        case Signature():\n"
        "            return 1\n"
        "    try:\n"
        "        pass\n"
        "    except (ValueError, group):\n"
        "        pass\n"
        "    return issubclass(type(x), int)\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert [(k.line, k.name) for k in rewrite.kept] == [(1, "Signature"), (1, "group")]


def test_isort_grid_layout_stays_aligned_with_the_parenthesis() -> None:
    # isort's default layout, as in Celery's own source: continuation lines under the "("
    source = (
        "from celery.exceptions import (ChordError, Retry, SoftTimeLimitExceeded,\n"
        "                               TimeoutError, Ignore)\n"
        "from celery import (shared_task,\n"
        "                    group)\n"
    )
    assert migrated("from celery.exceptions import (Retry, TimeoutError)\n").migrated == (
        "from celery.exceptions import TimeoutError\n"
        "from pynenc_celery_compat.exceptions import Retry\n"
    )
    assert migrated(source).migrated == (
        "from celery.exceptions import (SoftTimeLimitExceeded,\n"
        "                               TimeoutError)\n"
        "from pynenc_celery_compat.exceptions import (ChordError, Retry, Ignore)\n"
        "from pynenc_celery_compat import (shared_task,\n"
        "                                  group)\n"
    )


def test_a_grid_layout_split_keeps_the_comment_lines_of_its_names() -> None:
    source = (
        "from celery import (Celery,\n                    # canvas\n                    group)\n"
    )
    assert migrated(source).migrated == (
        "from celery import Celery\n"
        "from pynenc_celery_compat import (\n"
        "                                  # canvas\n"
        "                                  group)\n"
    )


def test_a_module_imported_by_name_stays_when_a_use_tests_a_class() -> None:
    # django-celery-beat's tzcrontab: isinstance(other, schedules.crontab)
    source = (
        "from celery import schedules\n"
        "every = schedules.schedule(10)\n"
        "def same(other):\n"
        "    return isinstance(other, schedules.crontab)\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source
    (kept,) = rewrite.kept
    assert "schedules.crontab (line 4) is a class test" in kept.reason
