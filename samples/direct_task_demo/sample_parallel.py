"""parallel_func + aggregate_func: one call fans out to many workers and comes back as one."""

import time

import tasks
import tasks_original

PERIODS = ["Q1-2025", "Q2-2025", "Q3-2025", "Q4-2025", "Q1-2026", "Q2-2026"]


def main() -> None:
    start = time.perf_counter()
    expected = tasks_original.generate_reports(PERIODS)
    plain = time.perf_counter() - start
    with tasks.app.running_in_background():
        start = time.perf_counter()
        reports = tasks.generate_reports(periods=PERIODS)
        fanned = time.perf_counter() - start
    assert reports == expected
    print(
        f"par    generate_reports({len(PERIODS)} periods): plain {plain:.2f} s, "
        f"fanned out {fanned:.2f} s -> {[r['period'] for r in reports]}"
    )
    print("par    OK")


if __name__ == "__main__":
    main()
