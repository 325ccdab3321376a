"""Dev sync mode: the decorated functions run inline, like the plain originals.

PYNENC__DEV_MODE_FORCE_SYNC_TASKS=True python sample_sync.py
"""

import asyncio
import os
import time

os.environ.setdefault("PYNENC__DEV_MODE_FORCE_SYNC_TASKS", "True")

import tasks
import tasks_original


def main() -> None:
    assert tasks.app.conf.dev_mode_force_sync_tasks, "run with PYNENC__DEV_MODE_FORCE_SYNC_TASKS"
    start = time.perf_counter()
    report = tasks.generate_report("Q1-2025")
    elapsed = time.perf_counter() - start
    assert report == tasks_original.generate_report("Q1-2025")
    print(f"sync   generate_report -> {report}  ({elapsed:.2f} s, inline)")

    try:
        tasks.fails()
    except ValueError as exc:
        print(f"sync   fails() raised ValueError({str(exc)!r}), as the plain function does")

    periods = ["Q1-2025", "Q2-2025"]
    assert tasks.generate_reports(periods=periods) == tasks_original.generate_reports(periods)
    report = asyncio.run(tasks.async_generate_report("Q3-2025"))
    print(f"sync   async_generate_report -> {report['period']} revenue={report['revenue']}")
    print("sync   OK: same values and exceptions as tasks_original.py")


if __name__ == "__main__":
    main()
