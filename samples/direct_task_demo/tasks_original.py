"""The starting point: plain Python, before pynenc. Compare with tasks.py."""

import os
import time
from hashlib import md5

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


def generate_report(period: str) -> dict:
    return _build_report(period)


def generate_reports(periods: list[str]) -> list[dict]:
    return [_build_report(p) for p in periods]


def fails() -> None:
    raise ValueError("intentional")


async def async_generate_report(period: str) -> dict:
    return _build_report(period)
