"""``task_cls``: the class of an app's tasks (option) or of one task (decorator argument)."""

from __future__ import annotations

import os
import pickle
from typing import Any

import pytest

from pynenc import ConfigError, Pynenc, RetryError, Task, TaskDefinitionError
from pynenc.identifiers import TaskId
from tests.apps import core, extensible


class CountingTask(Task[Any, Any]):
    """Retries any ValueError twice, whatever ``retry_for`` says."""

    def should_retry(self, exc: Exception, num_retries: int) -> bool:
        return isinstance(exc, ValueError) and num_retries < 2


ATTEMPTS: list[int] = []


def fails_twice(x: int) -> int:
    ATTEMPTS.append(x)
    if len(ATTEMPTS) < 3:
        raise ValueError(f"attempt {len(ATTEMPTS)}")
    return x


def plain(x: int) -> int:
    return x


@pytest.mark.parametrize(
    "value",
    [CountingTask, f"{__name__}:CountingTask", f"{__name__}.CountingTask"],
)
def test_the_app_option_builds_tasks_of_that_class(value: object) -> None:
    app = Pynenc(config_values={"app_id": "task-cls", "task_cls": value})
    task = app.task(plain)
    assert type(task) is CountingTask
    assert app.task_class is CountingTask
    direct = app.direct_task(fails_twice)
    assert type(direct.__pynenc_task__) is CountingTask


def test_the_decorator_argument_wins() -> None:
    app = Pynenc(config_values={"app_id": "task-cls", "task_cls": CountingTask})
    assert type(app.task(task_cls=Task)(plain)) is Task
    plain_app = Pynenc(app_id="task-cls-plain")
    assert type(plain_app.task(task_cls=CountingTask)(plain)) is CountingTask
    wrapper = plain_app.direct_task(task_cls=f"{__name__}:CountingTask")(fails_twice)
    assert type(wrapper.__pynenc_task__) is CountingTask


def test_the_default_is_pynenc_task() -> None:
    app = Pynenc(app_id="task-cls-default")
    assert app.conf.task_cls == "pynenc.task.Task" and app.task_class is Task
    assert type(app.task(plain)) is Task


def test_a_subclass_override_runs_on_a_runner() -> None:
    ATTEMPTS.clear()
    app = Pynenc(app_id="task-cls-retry")
    task = app.task(task_cls=CountingTask)(fails_twice)  # no retry_for, no max_retries
    with app.running_in_background():
        invocation = task(7)
        assert invocation.get_result(timeout=30) == 7
    assert ATTEMPTS == [7, 7, 7] and invocation.num_retries == 2


def test_an_override_of_run_function_in_dev_sync_mode() -> None:
    app = Pynenc(config_values={"app_id": "task-cls-sync", "dev_mode_force_sync_tasks": True})
    task = app.task(task_cls=extensible.TaggedTask, tag="sync")(plain)
    assert task(3).result["value"] == 3 and task(3).result["tag"] == "sync"
    # direct_task's dev-mode shortcut (a plain call of the function) must not skip it
    direct = app.direct_task(task_cls=extensible.TaggedTask, tag="direct")(fails_twice)
    ATTEMPTS[:] = [0, 0]
    assert direct(4) == {"tag": "direct", "pid": os.getpid(), "value": 4}
    ATTEMPTS.clear()
    retried = app.direct_task(task_cls=CountingTask, name="counting.direct")(fails_twice)
    assert retried(5) == 5 and ATTEMPTS == [5, 5, 5]  # its should_retry, no max_retries


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("builtins.dict", "must be a subclass of pynenc.task.Task"),
        (dict, "must be a subclass of pynenc.task.Task"),
        ("tests.apps.nowhere:Task", "cannot import 'tests.apps.nowhere:Task'"),
        (f"{__name__}:Missing", "has no 'Missing'"),
    ],
)
def test_a_bad_class_is_a_config_error_naming_the_source(value: object, detail: str) -> None:
    app = Pynenc(config_values={"app_id": "task-cls-bad", "task_cls": value})
    with pytest.raises(ConfigError) as info:
        app.task(plain)
    message = str(info.value)
    assert message.startswith("task_cls (from config_values) must")
    assert detail in message
    with pytest.raises(ConfigError, match="the task_cls argument of the task decorator"):
        Pynenc(app_id="task-cls-bad2").task(task_cls=value)(plain)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["not a path", 3, "pkg..Class", ""])
def test_a_value_that_names_no_class_is_refused_when_read(value: object) -> None:
    with pytest.raises(ConfigError, match="task_cls must be a Task subclass, or its import path"):
        Pynenc(config_values={"task_cls": value})


def test_the_option_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYNENC__TASK_CLS", f"{__name__}:CountingTask")
    app = Pynenc(app_id="task-cls-env")
    assert type(app.task(plain)) is CountingTask
    shown = {item.name: item.shown for item in app.conf.describe()}
    assert shown["task_cls"] == f"{__name__}:CountingTask"
    app.conf.task_cls = Task  # assigned later: the next task follows it
    assert app.task_class is Task
    assert {item.name: item.shown for item in app.conf.describe()}["task_cls"] == (
        "pynenc.task.Task"
    )


def test_from_id_copies_keep_the_class_and_subclass_attributes() -> None:
    other = Pynenc(app_id="task-cls-other")  # its own task_cls is the default
    copy = Task.from_id(other, TaskId("tests.apps.extensible", "double"))
    assert type(copy) is extensible.TaggedTask and copy.app is other
    assert copy.label == "tagged:tests.apps.extensible.double"
    assert copy.conf.get("tag") == "double"


def test_subclass_tasks_pickle_with_their_class_and_attributes() -> None:
    restored = pickle.loads(pickle.dumps(extensible.double))
    assert type(restored) is extensible.TaggedTask
    assert restored.task_id == extensible.double.task_id
    assert restored.label == "tagged:tests.apps.extensible.double"
    assert restored.conf.get("tag") == "double"
    assert restored.func is extensible.double.func


def test_core_tasks_keep_their_behaviour() -> None:
    assert type(core.add) is Task
    assert core.add.retriable_exceptions == (RetryError,)
    assert str(extensible.double) == "TaggedTask(tests.apps.extensible.double)"


def test_subclass_constructor_errors_are_task_definition_errors() -> None:
    with pytest.raises(TaskDefinitionError, match="must be an OptionTable"):

        class Wrong(Task[Any, Any]):
            extra_options = ("acks_late",)  # type: ignore[assignment]
