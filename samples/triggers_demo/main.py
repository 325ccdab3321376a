"""Triggers on a runner in a background thread (the embedded memory backend): a cron job,
an interval, events with a filter and a provider, outcomes of other tasks, and "and" logic.

The cron job runs at 02:30 in Madrid: the demo gives the trigger pass a clock that starts
2 s before 02:00 on 30 March 2025, the night the clocks there jump from 02:00 to 03:00,
so the job runs 2 s into the demo, at 03:00, the first minute after the gap.
"""

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import tasks

from pynenc.trigger import TriggerStatus

ZONE = ZoneInfo(tasks.app.conf.timezone)
START = dt.datetime(2025, 3, 30, 1, 59, 58, tzinfo=ZONE)
#: how many times each task must have been triggered before the demo ends
EXPECTED = {
    "nightly_backup": 1,
    "refresh_rates": 4,  # 3 interval ticks (or more) and the rates.stale event
    "ship_order": 1,  # A-1; the test order T-9 is filtered out
    "notify_customer": 1,
    "alert_finance": 1,  # B-2 declined; B-3 was charged
    "send_daily_summary": 1,
}


class DemoClock:
    """Seconds since the epoch, running at the real pace from ``start``."""

    def __init__(self, start: dt.datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def describe(header: dict[str, Any]) -> str:
    """What triggered an invocation, from its ``pynenc_trigger`` header."""
    kind = header["kind"]
    if "met" in header:
        return "all of: " + ", ".join(describe(met) for met in header["met"])
    if "occasion" in header:
        when = dt.datetime.fromtimestamp(header["occasion"], ZONE)
        return f"{kind} at {when.isoformat(timespec='seconds')}"
    if kind == "event":
        return f"event {header['event_code']!r}"
    task = header["task"].rpartition(".")[2]
    return f"{kind}: {task} {header['invocation_id'][:8]}… ended {header['status']}"


def fired(statuses: list[TriggerStatus]) -> dict[str, int]:
    counts = dict.fromkeys(EXPECTED, 0)
    for status in statuses:
        counts[status.definition.task_key.rpartition(".")[2]] += status.fired
    return counts


def main() -> None:
    app = tasks.app
    app.trigger.clock = DemoClock(START)  # before the runner's first trigger pass
    print(f"clock  {START.isoformat()} ({START.tzname()}); cron '30 2 * * *' in {ZONE}")
    begin = time.monotonic()
    last: dict[str, int] = {}
    with app.running_in_background():
        app.trigger.emit_event("order.paid", {"order_id": "A-1"})
        app.trigger.emit_event("order.paid", {"order_id": "T-9", "test": True})
        app.trigger.emit_event("rates.stale")
        app.trigger.emit_event("warehouse.closed", {"by": "night shift"})
        print("calls  charge_card('B-2', 900): the runner's log line for its failure is expected")
        tasks.charge_card("B-2", 900)  # declined: alert_finance runs
        tasks.charge_card("B-3", 40)
        while True:
            statuses = app.trigger.status()
            for status in statuses:
                if status.fired == last.get(status.definition.trigger_id, 0):
                    continue
                last[status.definition.trigger_id] = status.fired
                assert status.last_invocation is not None
                invocation = app.invocation(status.last_invocation)
                result = invocation.get_result(timeout=30)
                header = invocation.headers["pynenc_trigger"]  # type: ignore[index]
                task = status.definition.task_key.rpartition(".")[2]
                print(f"{time.monotonic() - begin:4.1f}s  {task:<18} {describe(header)}")
                print(f"       {'':<18} -> {result!r}")
            counts = fired(statuses)
            if all(counts[task] >= n for task, n in EXPECTED.items()):
                break
            if time.monotonic() - begin > 60:
                raise SystemExit(f"triggers demo: still waiting after 60 s: {counts}")
            time.sleep(0.05)
        time.sleep(0.5)  # a last pass: nothing fires twice
        counts = fired(app.trigger.status())
    print()
    for status in app.trigger.status():
        task = status.definition.task_key.rpartition(".")[2]
        print(f"{task:<18} fired {status.fired}  on {status.definition.describe()}")
    exact = {task: n for task, n in counts.items() if task != "refresh_rates"}
    assert exact == {task: n for task, n in EXPECTED.items() if task != "refresh_rates"}, counts
    print(f"triggers demo OK ({time.monotonic() - begin:.1f} s)")


if __name__ == "__main__":
    main()
