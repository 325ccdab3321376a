"""Distributed: a runner in a background thread executes the bodies; call sites unchanged."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import tasks
import tasks_original

PERIODS = ["Q1-2025", "Q2-2025", "Q3-2025", "Q4-2025"]


def main() -> None:
    with tasks.app.running_in_background():
        start = time.perf_counter()
        report = tasks.generate_report("Q1-2025")
        print(f"dist   generate_report -> {report}  ({time.perf_counter() - start:.2f} s)")
        assert report == tasks_original.generate_report("Q1-2025")

        # the runner logs the failure (a WARNING with the traceback, as a worker does)
        print("dist   calling fails(): the runner's log line below is expected")
        try:
            tasks.fails()
        except ValueError as exc:
            print(f"dist   fails() raised ValueError({str(exc)!r}) at the call site")

        start = time.perf_counter()
        sequential = [tasks.generate_report(p) for p in PERIODS]
        seq_time = time.perf_counter() - start
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(PERIODS)) as pool:
            concurrent = list(pool.map(tasks.generate_report, PERIODS))
        conc_time = time.perf_counter() - start
        assert concurrent == sequential
        print(
            f"dist   {len(PERIODS)} reports: for loop {seq_time:.2f} s, "
            f"ThreadPoolExecutor {conc_time:.2f} s"
        )

        report = asyncio.run(tasks.async_generate_report("Q2-2025"))
        print(f"dist   async_generate_report -> {report['period']} revenue={report['revenue']}")
    print("dist   OK")


if __name__ == "__main__":
    main()
