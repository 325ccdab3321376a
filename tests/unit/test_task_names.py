"""Tasks known by a name other than ``module.function``: keys, uniqueness, configuration,
pickling, and how a runner finds a name it has not registered yet."""

from __future__ import annotations

import pickle
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynenc import Pynenc, Task, TaskDefinitionError, TaskNotFoundError
from pynenc.identifiers import TaskId
from pynenc.runner.execution import resolve_task
from tests.apps import extensible, extensible_named


def charge(cents: int) -> str:
    return f"charged {cents}"


def refund(cents: int) -> str:
    return f"refunded {cents}"


def test_the_name_is_the_key_everywhere() -> None:
    app = Pynenc(app_id="names")
    task = app.task(name="billing.charge")(charge)
    assert task.task_id.key == "billing.charge" == str(task.task_id)
    assert (task.task_id.module, task.task_id.func_name) == (__name__, "charge")
    assert app.tasks == {"billing.charge": task} and app.get_task("billing.charge") is task
    assert task.logger.name == "pynenc.task.billing.charge"
    assert str(task) == "Task(billing.charge)"
    with app.running_in_background():
        invocation = task(3)
        assert invocation.get_result(timeout=30) == "charged 3"
    assert app.orchestrator.get_record(invocation.invocation_id).task_id == "billing.charge"


def test_direct_task_takes_a_name() -> None:
    app = Pynenc(app_id="names-direct")
    wrapper = app.direct_task(name="billing.refund")(refund)
    assert wrapper.__pynenc_task__.task_id.key == "billing.refund"
    with app.running_in_background():
        assert wrapper(4) == "refunded 4"


def test_names_are_unique_per_app() -> None:
    app = Pynenc(app_id="names-unique")
    first = app.task(name="billing.charge")(charge)
    with pytest.raises(TaskDefinitionError) as info:
        app.task(name="billing.charge")(refund)
    message = str(info.value)
    assert "'billing.charge' is already taken on app 'names-unique'" in message
    assert f"by {__name__}.charge, so {__name__}.refund cannot" in message
    assert app.tasks["billing.charge"] is first
    # a name equal to another function's default key is taken as well
    app.task(refund)
    with pytest.raises(TaskDefinitionError, match="already taken"):
        app.task(name=f"{__name__}.refund")(charge)
    # the same function again (a module reloaded, a decorator applied twice) is fine
    again = app.task(name="billing.charge")(charge)
    assert app.tasks["billing.charge"] is again
    # another app may use the name
    Pynenc(app_id="names-other").task(name="billing.charge")(refund)


@pytest.mark.parametrize("name", ["", " billing", "billing\n", 3, ["a"]])
def test_invalid_names_are_refused(name: object) -> None:
    app = Pynenc(app_id="names-invalid")
    with pytest.raises(TaskDefinitionError, match="Invalid task name"):
        app.task(name=name)(charge)  # type: ignore[arg-type]


def test_per_task_configuration_is_keyed_by_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__TASK__BILLING_CHARGE__MAX_RETRIES", "4")
    app = Pynenc(
        config_values={"app_id": "names-conf", "tasks": {"billing.charge": {"queue": "b"}}}
    )
    task = app.task(name="billing.charge")(charge)
    assert (task.conf.queue, task.conf.max_retries) == ("b", 4)
    assert app.conf.unknown_task_entries(app.tasks) == []


def test_ids_are_equal_by_key() -> None:
    assert TaskId("m", "f") == TaskId("m", "f", "m.f") and hash(TaskId("m", "f")) == hash(
        TaskId("x", "y", "m.f")
    )
    assert TaskId("m", "f", "billing.charge") != TaskId("m", "f")
    assert TaskId("m", "f", "billing.charge").key == "billing.charge"


def test_a_named_task_pickles_by_where_its_function_lives() -> None:
    data = pickle.dumps(extensible_named.charge)
    restored = pickle.loads(data)
    assert restored.task_id.key == "billing.charge" and restored.func is charge_func()
    assert type(restored) is extensible.TaggedTask
    # a state pickled by an older version holds the key alone
    old = Task.__new__(Task)
    old.__setstate__({"task_id": "tests.apps.core.add"})
    assert old.task_id.key == "tests.apps.core.add"


def charge_func() -> object:
    return extensible_named.charge.func


def test_a_function_registered_under_two_names_unpickles_to_the_right_one() -> None:
    second = extensible.app.create_task(extensible_named.charge.func, {}, name="billing.bis")
    try:
        restored = pickle.loads(pickle.dumps(second))
        assert restored.task_id.key == "billing.bis"
    finally:
        del extensible.app.tasks["billing.bis"]


def test_from_id_copies_the_name_onto_another_app() -> None:
    other = Pynenc(app_id="names-copy")
    task_id = TaskId("tests.apps.extensible_named", "charge", "billing.charge")
    copy = Task.from_id(other, task_id)
    assert copy.task_id.key == "billing.charge" and other.tasks["billing.charge"] is copy
    assert copy is not extensible_named.charge and copy.conf.get("tag") == "billing"


# -- a runner resolving a name ----------------------------------------------------------------


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for task modules written by the tests; forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("names_mod_")]:
        del sys.modules[name]


def _module(directory: Path, name: str, body: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(body))


def test_a_runner_imports_declared_modules_to_find_a_name(modules: Path) -> None:
    _module(
        modules,
        "names_mod_app",
        """
        from pynenc import Pynenc

        app = Pynenc(config_values={"app_id": "names-resolve",
                                    "task_modules": ["names_mod_tasks"]})
        """,
    )
    _module(
        modules,
        "names_mod_tasks",
        """
        from names_mod_app import app

        @app.task(name="reports.monthly")
        def monthly() -> str:
            return "monthly"
        """,
    )
    from names_mod_app import app  # type: ignore[import-not-found]

    assert "names_mod_tasks" not in sys.modules
    task = resolve_task(app, "reports.monthly")
    assert task.task_id.key == "reports.monthly" and "names_mod_tasks" in sys.modules
    assert resolve_task(app, "reports.monthly") is task


def test_a_name_no_declared_module_registers_says_how_to_declare_it(modules: Path) -> None:
    _module(modules, "names_mod_undeclared", "raise AssertionError('imported')\n")
    _module(modules, "names_mod_broken", "import names_mod_missing_dependency\n")
    app = Pynenc(config_values={"app_id": "names-missing", "task_modules": ["names_mod_broken"]})
    with pytest.raises(TaskNotFoundError) as info:
        resolve_task(app, "names_mod_undeclared.job")
    message = str(info.value)
    assert "Task 'names_mod_undeclared.job' is not registered by app 'names-missing'" in message
    assert "module 'names_mod_undeclared' is not declared" in message
    assert "Importing declared module 'names_mod_broken' failed: ModuleNotFoundError" in message
    assert "PYNENC__TASK_MODULES=names_mod_undeclared" in message
    assert "names_mod_undeclared" not in sys.modules  # never imported
    with pytest.raises(TaskNotFoundError, match=r"'billing\.nosuch' is not registered"):
        resolve_task(app, "billing.nosuch")


def test_a_name_held_by_another_app_object_in_a_declared_module_is_copied() -> None:
    app = Pynenc(
        config_values={"app_id": "names-copied", "task_modules": ["tests.apps.extensible_named"]}
    )
    task = resolve_task(app, "billing.refund")  # a direct_task wrapper of the module's app
    assert task.app is app and task.task_id.key == "billing.refund"
    assert type(task) is extensible.TaggedTask and app.tasks["billing.refund"] is task
