"""Tasks known by a name of their own, on :mod:`tests.apps.extensible`'s app; that app does
not import this module, so a runner finds them only through ``task_modules``."""

from __future__ import annotations

from tests.apps.extensible import app


@app.task(name="billing.charge", tag="billing")
def charge(cents: int) -> str:
    return f"charged {cents}"


@app.direct_task(name="billing.refund")
def refund(cents: int) -> str:
    return f"refunded {cents}"
