"""Dev sync mode: inline execution, identical values and exceptions, no broker or state."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pynenc import InvocationStatus, Pynenc, SyncInvocation
from tests.apps import core


def test_task_returns_sync_invocation(sync_app: Pynenc) -> None:
    invocation = core.add(1, 2)
    assert isinstance(invocation, SyncInvocation)
    assert invocation.result == 3
    assert invocation.status is InvocationStatus.SUCCESS
    assert [e.status for e in invocation.history][-1] is InvocationStatus.SUCCESS


def test_exceptions_are_the_original_objects(sync_app: Pynenc) -> None:
    invocation = core.fail_custom(3)
    with pytest.raises(core.NeedsTwoArgs) as info:
        invocation.result
    assert info.value.code == 3  # not rebuilt: the very exception the function raised
    assert invocation.status is InvocationStatus.FAILED


def test_retries_run_inline(sync_app: Pynenc) -> None:
    invocation = core.flaky("sync", succeed_on=3)
    assert invocation.result == 3
    assert invocation.num_retries == 2


def test_parallelize_and_nested_calls(sync_app: Pynenc) -> None:
    assert list(core.add.parallelize([(1, 1), {"x": 2, "y": 2}]).results) == [2, 4]
    assert core.sum_of_adds(3).result == 6
    assert core.async_double(4).result == 8


def test_invocation_available_inside(sync_app: Pynenc) -> None:
    invocation = core.current_invocation_id()
    assert invocation.result == invocation.invocation_id


def test_values_are_not_serialized(sync_app: Pynenc) -> None:
    marker = object()
    assert core.echo(marker).result is marker
    assert sync_app.state_backend.find() == []


@pytest.mark.parametrize(
    "variable", ["PYNENC__DEV_MODE_FORCE_SYNC_TASKS", "PYNENC_DEV_MODE_FORCE_SYNC_TASK"]
)
def test_environment_variable_enables_sync_mode(variable: str) -> None:
    code = (
        "from tests.apps import core; "
        "assert core.app.conf.dev_mode_force_sync_tasks; "
        "print(core.direct_add(2, 3), type(core.add(1, 1)).__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "", variable: "True", "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5", "SyncInvocation"]
