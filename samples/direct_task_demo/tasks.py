"""The same module with pynenc: an app and decorators, nothing else changed."""

import os
import time
from hashlib import md5

from pynenc import Pynenc

app = Pynenc(app_id="direct_task_demo", config_values={"runner": {"threads": 8}})

#: Seconds one report takes (simulated DB queries); the demo scripts may shorten it.
REPORT_DELAY = float(os.environ.get("DEMO_REPORT_DELAY", "0.5"))


def _build_report(period: str) -> dict:
    time.sleep(REPORT_DELAY)  # simulates DB queries + aggregation
    seed = int(md5(period.encode()).hexdigest()[:8], 16)
    revenue = 50_000 + (seed % 950_000)
    orders = 100 + (seed % 9_900)
    return {
        "period": period,
        "revenue": revenue,
        "orders": orders,
        "avg_order_value": round(revenue / orders, 2),
    }


@app.direct_task
def generate_report(period: str) -> dict:
    return _build_report(period)


def _per_period(args: dict) -> list[tuple[list[str]]]:
    """Split the caller's list of periods so each worker handles one."""
    return [([p],) for p in args["periods"]]


def _flatten(chunks: list[list[dict]]) -> list[dict]:
    return [report for chunk in chunks for report in chunk]


@app.direct_task(parallel_func=_per_period, aggregate_func=_flatten)
def generate_reports(periods: list[str]) -> list[dict]:
    return [_build_report(p) for p in periods]


@app.direct_task
def fails() -> None:
    raise ValueError("intentional")


@app.direct_task
async def async_generate_report(period: str) -> dict:
    return _build_report(period)
