"""Tasks for tests/integration/test_trigger_expiry.py: a trigger on expired invocations."""

from __future__ import annotations

from pynenc import Pynenc, TriggerBuilder
from pynenc.trigger import TriggerContext

app = Pynenc(
    config_values={
        "app_id": "trigger-expiry",
        "runner": {"scheduler_poll": 0.05, "heartbeat_interval": 0.2, "dead_after": 2.0},
    }
)


def expired_id(context: TriggerContext) -> dict[str, str]:
    return {"invocation_id": context.invocation_id or ""}


@app.task
def perishable(n: int) -> int:
    return n


@app.task(triggers=TriggerBuilder().on_status(perishable, ["expired"]).with_arguments(expired_id))
def on_expired(invocation_id: str) -> str:
    return invocation_id
