"""``import celery`` (and ``as c``, ``import celery.states``…): the attribute uses that move,
the import that stays while a use remains, and the whole-module swap of an alias."""

from __future__ import annotations

from pynenc_celery_compat.migration.rewrite import (
    APP_CLASS,
    ASSIGNED,
    BARE_MODULE,
    EXPORTED,
    IN_STRING,
    NOT_OFFERED,
    REBOUND,
    Kept,
    Moved,
)
from tests.migration.helpers import migrated


def test_offered_uses_move_and_import_celery_stays_for_the_others() -> None:
    source = (
        "import celery\n"
        "\n"
        "@celery.shared_task(bind=True)\n"
        "def add(self, x):\n"
        "    return celery.group(x)\n"
        "\n"
        'app = celery.Celery("proj")\n'
        "conf = celery.current_app.conf\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "import celery\n"
        "import pynenc_celery_compat\n"
        "\n"
        "@pynenc_celery_compat.shared_task(bind=True)\n"
        "def add(self, x):\n"
        "    return pynenc_celery_compat.group(x)\n"
        "\n"
        'app = celery.Celery("proj")\n'
        "conf = pynenc_celery_compat.current_app.conf\n"
    )
    assert rewrite.moved == (
        Moved(3, "celery", "shared_task", "pynenc_celery_compat"),
        Moved(5, "celery", "group", "pynenc_celery_compat"),
        Moved(8, "celery", "current_app", "pynenc_celery_compat"),
    )
    assert rewrite.kept == (Kept(7, "celery", "Celery", APP_CLASS),)


def test_import_celery_is_replaced_once_no_use_remains() -> None:
    source = (
        "import celery  # tasks\n\n@celery.shared_task\ndef f():\n"
        "    return celery.states.SUCCESS\n"
    )
    assert migrated(source).migrated == (
        "import pynenc_celery_compat  # tasks\n"
        "import pynenc_celery_compat.states\n"
        "\n"
        "@pynenc_celery_compat.shared_task\n"
        "def f():\n"
        "    return pynenc_celery_compat.states.SUCCESS\n"
    )


def test_include_app_moves_celery_dot_celery() -> None:
    source = 'import celery\napp = celery.Celery("proj")\n'
    assert migrated(source, include_app=True).migrated == (
        'import pynenc_celery_compat\napp = pynenc_celery_compat.Celery("proj")\n'
    )


def test_an_alias_whose_uses_are_all_offered_is_swapped_whole() -> None:
    source = "import celery as c\n\n@c.shared_task\ndef f():\n    return c.group()\n"
    assert migrated(source).migrated == (
        "import pynenc_celery_compat as c\n\n@c.shared_task\ndef f():\n    return c.group()\n"
    )


def test_an_alias_with_a_use_left_on_celery_is_kept_and_uses_move_one_by_one() -> None:
    source = "import celery as c\n\nt = c.shared_task\napp = c.Celery()\n"
    assert migrated(source).migrated == (
        "import celery as c\n"
        "import pynenc_celery_compat\n"
        "\n"
        "t = pynenc_celery_compat.shared_task\n"
        "app = c.Celery()\n"
    )


def test_dotted_module_imports() -> None:
    source = (
        "import celery.states\n"
        "import celery.exceptions as exc\n"
        "import celery.states as st\n"
        "\n"
        "a = celery.states.SUCCESS\n"
        "b = exc.Retry, exc.Ignore\n"
        "c = st.precedence(st.PENDING)\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "import pynenc_celery_compat.states\n"
        "import pynenc_celery_compat.exceptions as exc\n"
        "import celery.states as st\n"
        "\n"
        "a = pynenc_celery_compat.states.SUCCESS\n"
        "b = exc.Retry, exc.Ignore\n"
        "c = st.precedence(pynenc_celery_compat.states.PENDING)\n"
    )
    assert Kept(7, "celery.states", "precedence", NOT_OFFERED) in rewrite.kept


def test_a_use_through_a_celery_module_stops_there() -> None:
    # celery.exceptions has a compat module: a name it does not offer is not reached
    # through pynenc_celery_compat.exceptions (which would not have it)
    source = "import celery\nx = celery.exceptions.NotAnException\ny = celery.app.task.Task\n"
    rewrite = migrated(source, include_app=True)
    assert rewrite.migrated == (
        "import celery\n"
        "import pynenc_celery_compat.task\n"
        "x = celery.exceptions.NotAnException\n"
        "y = pynenc_celery_compat.task.Task\n"
    )
    assert rewrite.kept == (Kept(2, "celery.exceptions", "NotAnException", NOT_OFFERED),)


def test_uses_in_functions_and_an_import_inside_a_function() -> None:
    source = (
        "def f():\n"
        "    import celery\n"
        "    return celery.group()\n"
        "\n"
        "def g(celery):\n"
        "    return celery.group()  # a parameter, not the module\n"
    )
    assert migrated(source).migrated == (
        "def f():\n"
        "    import pynenc_celery_compat\n"
        "    return pynenc_celery_compat.group()\n"
        "\n"
        "def g(celery):\n"
        "    return celery.group()  # a parameter, not the module\n"
    )


def test_a_name_rebound_by_a_fallback_is_left_alone() -> None:
    source = (
        "try:\n    import celery\nexcept ImportError:\n    celery = None\nt = celery.shared_task\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert rewrite.kept == (Kept(5, "celery", "shared_task", REBOUND),)


def test_an_import_without_a_fallback_in_try_moves() -> None:
    source = "try:\n    import celery\nexcept ImportError:\n    pass\nt = celery.shared_task\n"
    assert migrated(source).migrated == (
        "try:\n"
        "    import pynenc_celery_compat\n"
        "except ImportError:\n"
        "    pass\n"
        "t = pynenc_celery_compat.shared_task\n"
    )


def test_the_module_object_assignments_and_strings_keep_the_import() -> None:
    source = (
        "import celery\n"
        "patch(celery)\n"
        "celery.shared_task = fake\n"
        "def f(x: 'celery.Task'):\n"
        "    return celery.shared_task\n"
    )
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "import celery\n"
        "import pynenc_celery_compat\n"
        "patch(celery)\n"
        "celery.shared_task = fake\n"
        "def f(x: 'celery.Task'):\n"
        "    return pynenc_celery_compat.shared_task\n"
    )
    assert rewrite.kept == (
        Kept(2, "celery", "celery", BARE_MODULE),
        Kept(3, "celery", "shared_task", ASSIGNED),
        Kept(4, "celery", "celery.Task", IN_STRING),
    )


def test_a_module_exported_in_all_keeps_its_import() -> None:
    source = "import celery\n__all__ = ['celery']\nt = celery.shared_task\n"
    rewrite = migrated(source)
    assert rewrite.migrated == (
        "import celery\n"
        "import pynenc_celery_compat\n"
        "__all__ = ['celery']\n"
        "t = pynenc_celery_compat.shared_task\n"
    )
    assert Kept(1, "celery", "celery", EXPORTED) in rewrite.kept


def test_import_among_other_modules_and_on_a_shared_line() -> None:
    assert migrated("import os, celery\nt = celery.shared_task\n").migrated == (
        "import os, pynenc_celery_compat\nt = pynenc_celery_compat.shared_task\n"
    )
    assert migrated("import celery; t = celery.shared_task; a = celery.Celery\n").migrated == (
        "import celery; import pynenc_celery_compat; t = pynenc_celery_compat.shared_task; "
        "a = celery.Celery\n"
    )


def test_a_compat_module_is_imported_once_per_scope() -> None:
    source = (
        "import pynenc_celery_compat\n"
        "import celery\n"
        "import celery.result\n"
        "a = celery.shared_task\n"
        "b = celery.Celery\n"
        "c = celery.result.EagerResult\n"
    )
    assert migrated(source).migrated == (
        "import pynenc_celery_compat\n"
        "import celery\n"
        "import celery.result\n"
        "a = pynenc_celery_compat.shared_task\n"
        "b = celery.Celery\n"
        "c = celery.result.EagerResult\n"
    )


def test_an_unused_import_celery_is_left_alone() -> None:
    source = "import celery  # noqa: F401\nimport celery.states as s  # noqa: F401\n"
    rewrite = migrated(source)
    assert rewrite.migrated == source
    assert not rewrite.kept and not rewrite.moved
