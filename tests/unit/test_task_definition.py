"""Task creation rules, options, identity, pickling and lookup by id."""

from __future__ import annotations

import pickle
import types

import pytest

from pynenc import Pynenc, RetryError, Task, TaskDefinitionError
from pynenc.exceptions import InvalidTaskOptionsError, TaskNotFoundError
from pynenc.identifiers import TaskId
from pynenc.task import _extract_task_from_wrapper, can_batch_process, prepare_arguments
from tests.apps import core


def _function_in(module: str, name: str = "job") -> types.FunctionType:
    def job(x: int) -> int:
        return x

    job.__module__ = module
    job.__qualname__ = job.__name__ = name
    return job


def test_main_module_functions_are_refused() -> None:
    app = Pynenc(app_id="tests-def")
    with pytest.raises(RuntimeError, match="__main__"):
        app.task(_function_in("__main__"))


def test_nested_functions_are_refused() -> None:
    app = Pynenc(app_id="tests-def")

    def inner() -> None: ...

    inner.__module__ = "tests.apps.core"
    with pytest.raises(TaskDefinitionError, match="module level"):
        app.task(inner)


def test_invalid_options_are_all_listed_with_the_valid_ones() -> None:
    app = Pynenc(app_id="tests-def")
    with pytest.raises(InvalidTaskOptionsError) as info:
        app.task(max_retrys=3, queeue="x")(_function_in("tests.apps.core"))
    message = str(info.value)
    assert "max_retrys" in message and "queeue" in message
    assert "max_retries" in message and "parallel_batch_size" in message
    assert info.value.invalid == ["max_retrys", "queeue"]


def test_start_policy_only_for_running_controls_or_a_rate() -> None:
    app = Pynenc(app_id="tests-def")
    function = _function_in("tests.apps.core")
    for options in ({"running_concurrency": "task"}, {"rate_limit": "10/s"}):
        task = app.task(**options)(function)
        assert task.start_policy is not None and task.start_policy is task.concurrency
    registration_only = app.task(registration_concurrency="task")(function)
    assert registration_only.concurrency is not None
    assert registration_only.start_policy is None  # runners start it without asking
    assert app.task(function).start_policy is None


def test_conf_and_retriable_exceptions() -> None:
    assert core.flaky.conf.max_retries == 2
    assert core.flaky.retriable_exceptions == (core.FlakyError, RetryError)
    assert core.add.retriable_exceptions == (RetryError,)
    assert core.add.conf.queue == "default"


def test_str_repr_and_logger() -> None:
    assert str(core.add) == "Task(tests.apps.core.add)"
    assert "tests.apps.core.add" in repr(core.add)
    assert core.add.logger.name == "pynenc.task.tests.apps.core.add"


def test_args_binds_against_the_signature() -> None:
    assert core.add.args(1, y=2).kwargs == {"x": 1, "y": 2}
    with pytest.raises(TypeError):
        core.add.args(1, 2, 3)


def test_registry() -> None:
    assert core.app.get_task("tests.apps.core.add") is core.add
    assert core.app.tasks["tests.apps.core.flaky"] is core.flaky
    assert core.app.get_task("tests.apps.core.nope") is None


def test_pickled_by_id() -> None:
    data = pickle.dumps(core.add)
    assert b"large" not in data and len(data) < 200
    restored = pickle.loads(data)
    assert restored.task_id == core.add.task_id
    assert restored.func is core.add.func


def test_from_id_prefers_registry_and_resolves_wrappers() -> None:
    assert Task.from_id(core.app, TaskId("tests.apps.core", "add")) is core.add
    direct = Task.from_id(core.app, TaskId("tests.apps.core", "direct_add"))
    assert direct is core.direct_add.__pynenc_task__


def test_from_id_binds_a_copy_to_another_app() -> None:
    other = Pynenc(app_id="tests-other")
    task = Task.from_id(other, TaskId("tests.apps.core", "direct_add"))
    assert task.app is other
    assert task is not core.direct_add.__pynenc_task__
    assert task.func is core.direct_add.__inner_function__
    assert other.get_task("tests.apps.core.direct_add") is task


def test_from_id_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="cannot be imported"):
        Task.from_id(core.app, TaskId("tests.apps.missing_module", "f"))
    with pytest.raises(TaskNotFoundError, match="not a pynenc task"):
        Task.from_id(core.app, TaskId("tests.apps.core", "ATTEMPTS_LOCK"))


def test_get_from_task_id_returns_wrappers_as_they_are() -> None:
    found = Task._get_from_task_id(TaskId("tests.apps.core", "direct_add"))
    assert found is core.direct_add


def test_extract_task_from_any_wrapper_attribute() -> None:
    class CeleryStyleShim:
        def __init__(self, task: Task) -> None:  # type: ignore[type-arg]
            self.name = "shim"
            self.pynenc_task = task

    assert _extract_task_from_wrapper(CeleryStyleShim(core.add)) is core.add
    assert _extract_task_from_wrapper(core.direct_add) is core.direct_add.__pynenc_task__
    assert _extract_task_from_wrapper(object()) is None
    assert _extract_task_from_wrapper(len) is None


def test_can_batch_process(core_app: Pynenc) -> None:
    assert can_batch_process(core.add, 2)
    assert not can_batch_process(core.add, 1)
    core_app.conf.dev_mode_force_sync_tasks = True
    assert not can_batch_process(core.add, 2)


def test_prepare_arguments_formats_and_errors() -> None:
    prepared = prepare_arguments(
        core.process, [{"index": 1}, {"index": 2, "large_data": "own"}], {"large_data": "x"}
    )
    assert [a.kwargs for a in prepared] == [
        {"large_data": "x", "index": 1},
        {"large_data": "own", "index": 2},
    ]
    assert [a.kwargs for a in prepare_arguments(core.add, [(1, 2), core.add.args(3, 4)])] == [
        {"x": 1, "y": 2},
        {"x": 3, "y": 4},
    ]
    with pytest.raises(TypeError, match="element 0 is a list"):
        prepare_arguments(core.add, [[1, 2]])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="multiple values"):
        prepare_arguments(core.process, [("a", 1)], {"large_data": "x"})
