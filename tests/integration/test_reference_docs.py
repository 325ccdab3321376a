"""Every example of the two reference documents (shared/seeds), run as written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.apps import reference_direct as tasks
from tests.apps import reference_task

PERIODS = ["Q1-2025", "Q2-2025", "Q3-2025", "Q4-2025"]


@pytest.fixture
def runner_thread() -> Iterator[None]:
    """The guide's "Running with a Runner" pattern, verbatim."""
    tasks.app.purge()
    runner_thread = threading.Thread(target=tasks.app.runner.run, daemon=True)
    runner_thread.start()
    try:
        yield
    finally:
        tasks.app.runner.stop_runner_loop()
        runner_thread.join()


def test_basic_usage_returns_the_report(runner_thread: None) -> None:
    report = tasks.generate_report("Q1-2025")
    assert report["period"] == "Q1-2025"
    assert report == tasks._build_report("Q1-2025")
    assert set(report) == {"period", "revenue", "orders", "avg_order_value"}


def test_exception_propagation(runner_thread: None) -> None:
    try:
        tasks.fails()
    except ValueError as e:
        assert str(e) == "intentional"
    else:
        pytest.fail("fails() did not raise")


def test_caller_side_concurrency(runner_thread: None) -> None:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(PERIODS)) as pool:
        reports = list(pool.map(tasks.generate_report, PERIODS))
    elapsed = time.perf_counter() - start
    assert [r["period"] for r in reports] == PERIODS
    assert elapsed < 4 * 0.5  # the runner processed them in parallel


def test_parallel_func_and_aggregate_func(runner_thread: None) -> None:
    reports = tasks.generate_reports(periods=["Q1-2025", "Q2-2025", "Q3-2025"])
    assert [r["period"] for r in reports] == ["Q1-2025", "Q2-2025", "Q3-2025"]


def test_async_support(runner_thread: None) -> None:
    async def main() -> dict:  # type: ignore[type-arg]
        report = await tasks.async_generate_report("Q1-2025")
        return report

    assert asyncio.run(main())["period"] == "Q1-2025"


def test_sync_mode_by_environment_variable() -> None:
    script = (
        "from tests.apps import reference_direct as t\n"
        "assert t.generate_report('Q1-2025')['period'] == 'Q1-2025'\n"
        "try:\n    t.fails()\nexcept ValueError as e:\n    print(e)\n"
        "print(len(t.app.state_backend.find()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYNENC__DEV_MODE_FORCE_SYNC_TASKS": "True", "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["intentional", "0"]  # inline, and no state writes


def test_sync_mode_by_conf_assignment() -> None:
    tasks.app.conf.dev_mode_force_sync_tasks = True
    try:
        assert tasks.generate_report("Q2-2025") == tasks._build_report("Q2-2025")
    finally:
        tasks.app.conf.dev_mode_force_sync_tasks = False


def test_main_module_limitation() -> None:
    script = (
        "from pynenc import Pynenc\n"
        "app = Pynenc()\n"
        "try:\n"
        "    @app.direct_task\n"
        "    def f() -> None: ...\n"
        "except RuntimeError as e:\n"
        "    print('RuntimeError', '__main__' in str(e))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": "."},
    )
    assert done.stdout.split() == ["RuntimeError", "True"], done.stderr


# -- pynenc.task module reference ------------------------------------------------------------


@pytest.fixture
def task_runner() -> Iterator[None]:
    app = reference_task.app
    app.purge()
    thread = threading.Thread(target=app.runner.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        app.runner.stop_runner_loop()
        thread.join()


def test_parallelize_with_tuples_dicts_and_arguments(task_runner: None) -> None:
    add = reference_task.add
    invocation_group = add.parallelize([(1, 1), add.args(1, 2), {"x": 2, "y": 3}])
    assert list(invocation_group.results) == [2, 3, 5]


def test_parallelize_with_common_args(task_runner: None) -> None:
    common = {"large_data": "huge_string"}
    params = [{"index": i} for i in range(3)]
    invocation_group = reference_task.process.parallelize(params, common)
    assert list(invocation_group.results) == [len("huge_string") + i for i in range(3)]


def test_task_decorator_with_options(task_runner: None) -> None:
    result = reference_task.func()
    assert result.result is None
