"""A runner app for tests/integration/test_amqp_batches.py: each run of ``note_run`` appends
its number to a file, and with ``PYNENC_TEST_KILL_AT_ACK=1`` in its environment the runner
kills itself (SIGKILL) when it is about to ack what it received: its claims are recorded,
its messages are not acked.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from pynenc import Pynenc
from pynenc.broker import Delivery

app = Pynenc(app_id="tests-ack-kill")


@app.task
def note_run(i: int, path: str) -> int:
    with open(path, "a") as runs:
        runs.write(f"{i}\n")
    return i


if os.environ.get("PYNENC_TEST_KILL_AT_ACK") == "1":

    def _die(deliveries: Sequence[Delivery]) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    Delivery.ack_all = staticmethod(_die)  # type: ignore[method-assign]
