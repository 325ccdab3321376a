"""``from celery… import`` statements: which names move, how a statement splits, and that
layout and comments survive. Every case is run twice: the second run changes nothing."""

from __future__ import annotations

import pytest

from pynenc_celery_compat.migration.rewrite import (
    APP_CLASS,
    NOT_OFFERED,
    STAR,
    TASK_CLASS,
    Kept,
    Moved,
)
from tests.migration.helpers import migrated


def test_offered_names_move_and_the_app_class_stays() -> None:
    rewrite = migrated("from celery import shared_task, Celery, Task, group\n")
    assert rewrite.migrated == (
        "from celery import Celery, Task\nfrom pynenc_celery_compat import shared_task, group\n"
    )
    assert rewrite.moved == (
        Moved(1, "celery", "shared_task", "pynenc_celery_compat"),
        Moved(1, "celery", "group", "pynenc_celery_compat"),
    )
    assert rewrite.kept == (
        Kept(1, "celery", "Celery", APP_CLASS),
        Kept(1, "celery", "Task", TASK_CLASS),
    )


def test_include_app_moves_the_app_class() -> None:
    rewrite = migrated("from celery import Celery, shared_task\n", include_app=True)
    assert rewrite.migrated == "from pynenc_celery_compat import Celery, shared_task\n"
    assert not rewrite.kept


def test_a_statement_whose_names_all_move_keeps_its_layout() -> None:
    source = "from celery import (shared_task,   group)  # tasks\n"
    assert migrated(source).migrated == (
        "from pynenc_celery_compat import (shared_task,   group)  # tasks\n"
    )


def test_nothing_offered_leaves_the_statement_untouched() -> None:
    source = "from celery import Celery  # the app\nfrom celery.utils.log import get_task_logger\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.changed
    assert rewrite.kept == (
        Kept(1, "celery", "Celery", APP_CLASS),
        Kept(2, "celery.utils.log", "get_task_logger", NOT_OFFERED),
    )


def test_aliases_and_the_trailing_comment_stay_with_their_statement() -> None:
    source = "from celery import shared_task as task, Celery as App, group  # the API\n"
    assert migrated(source).migrated == (
        "from celery import Celery as App  # the API\n"
        "from pynenc_celery_compat import shared_task as task, group\n"
    )


def test_a_parenthesised_multiline_import_keeps_every_comment_with_its_name() -> None:
    source = (
        "from celery import (  # the public API\n"
        "    Celery,  # the app\n"
        "    # canvas\n"
        "    group,\n"
        "    chord as fan_in,  # renamed\n"
        "    current_app\n"
        ")\n"
    )
    assert migrated(source).migrated == (
        "from celery import (  # the public API\n"
        "    Celery  # the app\n"
        ")\n"
        "from pynenc_celery_compat import (\n"
        "    # canvas\n"
        "    group,\n"
        "    chord as fan_in,  # renamed\n"
        "    current_app\n"
        ")\n"
    )


def test_a_trailing_comma_is_kept_on_both_statements() -> None:
    source = (
        "from celery import (\n"
        "    shared_task,  # decorator\n"
        "    Celery,\n"
        "    # closing remark\n"
        ")\n"
    )
    assert migrated(source).migrated == (
        "from celery import (\n"
        "    Celery,\n"
        "    # closing remark\n"
        ")\n"
        "from pynenc_celery_compat import (\n"
        "    shared_task,  # decorator\n"
        ")\n"
    )


def test_a_parenthesised_import_on_one_line() -> None:
    assert migrated("from celery import (Celery, shared_task,)\n").migrated == (
        "from celery import (Celery,)\nfrom pynenc_celery_compat import (shared_task,)\n"
    )


def test_a_backslash_continued_import() -> None:
    assert migrated("from celery import shared_task, \\\n    Celery\n").migrated == (
        "from celery import Celery\nfrom pynenc_celery_compat import shared_task\n"
    )


@pytest.mark.parametrize(
    ("celery_module", "name", "compat_module"),
    [
        ("celery.exceptions", "Retry", "pynenc_celery_compat.exceptions"),
        ("celery.states", "SUCCESS", "pynenc_celery_compat.states"),
        ("celery.signals", "task_success", "pynenc_celery_compat.signals"),
        ("celery.result", "GroupResult", "pynenc_celery_compat.result"),
        ("celery.canvas", "chord", "pynenc_celery_compat.canvas"),
        ("celery.schedules", "crontab", "pynenc_celery_compat.schedules"),
        (
            "celery.contrib.testing.worker",
            "start_worker",
            "pynenc_celery_compat.contrib.testing.worker",
        ),
        ("celery.contrib.pytest", "celery_app", "pynenc_celery_compat.contrib.pytest"),
    ],
)
def test_celery_submodules_move_to_their_compat_modules(
    celery_module: str, name: str, compat_module: str
) -> None:
    rewrite = migrated(f"from {celery_module} import {name}\n")
    assert rewrite.migrated == f"from {compat_module} import {name}\n"
    assert rewrite.moved == (Moved(1, celery_module, name, compat_module),)


def test_a_submodule_names_only_some_offered_names() -> None:
    source = "from celery.result import ResultSet, GroupResult as Result\n"
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "from celery.result import ResultSet\n"
        "from pynenc_celery_compat.result import GroupResult as Result\n"
    )
    assert rewrite.kept == (Kept(1, "celery.result", "ResultSet", NOT_OFFERED),)


def test_a_celery_module_imported_from_its_package() -> None:
    source = "from celery.contrib.testing import worker\nfrom celery import states, signals\n"
    assert migrated(source).migrated == (
        "from pynenc_celery_compat.contrib.testing import worker\n"
        "from pynenc_celery_compat import states, signals\n"
    )


def test_a_star_import_is_left_alone_and_reported() -> None:
    source = "from celery import *\nfrom celery.states import *  # all of them\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert rewrite.kept == (Kept(1, "celery", "*", STAR), Kept(2, "celery.states", "*", STAR))


def test_relative_imports_are_the_projects_own_modules() -> None:
    source = "from .celery import app\nfrom . import celery\nfrom ..celery import shared_task\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.kept


def test_imports_inside_try_functions_and_one_line_blocks() -> None:
    source = (
        "try:\n"
        "    from celery import shared_task, Celery\n"
        "except ImportError:\n"
        "    shared_task = None\n"
        "\n"
        "def make():\n"
        "    from celery.canvas import group\n"
        "    return group\n"
        "\n"
        "if True: from celery import states, Celery; x = states.SUCCESS\n"
    )
    assert migrated(source).migrated == (
        "try:\n"
        "    from celery import Celery\n"
        "    from pynenc_celery_compat import shared_task\n"
        "except ImportError:\n"
        "    shared_task = None\n"
        "\n"
        "def make():\n"
        "    from pynenc_celery_compat.canvas import group\n"
        "    return group\n"
        "\n"
        "if True: from celery import Celery; from pynenc_celery_compat import states; "
        "x = states.SUCCESS\n"
    )


def test_a_split_statement_sharing_its_line_stays_on_it() -> None:
    source = "from celery import shared_task, Celery; x = 1\n"
    assert migrated(source).migrated == (
        "from celery import Celery; from pynenc_celery_compat import shared_task; x = 1\n"
    )


def test_names_already_imported_from_the_compat_layer_change_nothing() -> None:
    source = "from pynenc_celery_compat import shared_task\nfrom celery import Celery\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.moved


def test_modules_that_are_not_celery_are_not_touched() -> None:
    source = "from celery_extras import shared_task\nfrom mycelery import group\nimport os\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.kept
